"""ftcot's core: hook specs, plugin manager, records, store and command line."""

from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("ftcot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("ftcot")
"""Decorator for plugin hook implementations: ``@hookimpl def ftcot_register_tasks(register): ...``."""

__all__ = ["__version__", "hookimpl"]
