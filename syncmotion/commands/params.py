"""Option types shared by the commands: values checked when the command line is read, not after loading a model."""

from __future__ import annotations

import math

import click

from syncmotion.devices import resolve_device
from syncmotion.motion.script import MAX_SEED


class FiniteFloat(click.FloatRange):
    """A float range that also refuses nan and inf, which a plain FloatRange lets through."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """The number, or a usage error naming the option."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Device(click.ParamType):
    """A torch device that exists on this machine ("auto": cuda when there is one, else cpu)."""

    name = "device"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The device string, or a usage error saying which devices work."""
        try:
            return resolve_device(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


POSITIVE = FiniteFloat(min=0, min_open=True)
DEVICE = Device()
SEED = click.IntRange(0, MAX_SEED)
