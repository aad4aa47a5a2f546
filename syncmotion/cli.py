"""The `syncmotion` command line: one click group, one module per command."""

from __future__ import annotations

import importlib
import os

import click

# transformers warns on import about optional image backends (torchvision) that no command here uses;
# users should see our progress and results, not that. Real errors still show.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

# Each command lives in its own module under syncmotion/commands and is imported only when used,
# so `syncmotion --help` stays fast and a missing optional extra breaks only its own command.
COMMANDS: dict[str, str] = {
    "wide": "syncmotion.commands.wide:wide",
    "masked-t2i": "syncmotion.commands.masked_t2i:masked_t2i",
    "anagram": "syncmotion.commands.anagram:anagram",
    "motion": "syncmotion.commands.motion:motion",
    "render": "syncmotion.commands.render:render",
    "view": "syncmotion.commands.view:view",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of all commands, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command called `name`, imported on demand."""
        if name not in COMMANDS:
            return None
        module_name, _, attribute = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="syncmotion")
def main() -> None:
    """Long motions and wide images from pretrained diffusion models, synchronized with SyncSDE."""
