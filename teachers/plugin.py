"""Registers ftcot's built-in teachers."""

from harness import hookimpl


@hookimpl
def ftcot_register_teachers(register):
    """The built-in teachers."""
