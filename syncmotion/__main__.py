"""`python -m syncmotion` runs the `syncmotion` command."""

from syncmotion.cli import entry

entry()
