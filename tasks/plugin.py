"""Registers ftcot's built-in tasks."""

from harness import hookimpl


@hookimpl
def ftcot_register_tasks(register):
    """The built-in tasks."""
