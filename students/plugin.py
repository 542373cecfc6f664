"""Registers ftcot's built-in students."""

from harness import hookimpl


@hookimpl
def ftcot_register_students(register):
    """The built-in students."""
