"""Registers ftcot's built-in reporters."""

from harness import hookimpl


@hookimpl
def ftcot_register_reporters(register):
    """The built-in reporters."""
