"""The rules every refusal of a `syncmotion` command keeps, for tests: a click exit, no traceback, one Error line."""

from __future__ import annotations

from click.testing import CliRunner, Result

from syncmotion.cli import main


def invoke(*arguments: str) -> Result:
    """The result of `syncmotion ARGUMENTS` run in this process; fails unless it ended through click, without a traceback."""
    result = CliRunner().invoke(main, list(arguments))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def error_line(result: Result) -> str:
    """The single 'Error: ...' line of a refused run; fails when the run succeeded or printed more or fewer."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]
