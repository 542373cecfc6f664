"""Registers ftcot's built-in filters."""

from harness import hookimpl


@hookimpl
def ftcot_register_filters(register):
    """The built-in filters."""
