"""What a command runs with: settings, a lazily opened store, console output and JSON output."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from typing import Any

from ftcot.settings import Settings
from ftcot.store import Store
from ftcot.tables import new_console, print_table


class Context:
    """Handed to every command; opens the store only when a command asks for it."""

    def __init__(self, settings: Settings | None = None, json_output: bool = False):
        self.settings = settings or Settings()
        self.json_output = json_output
        self.console = new_console(stderr=json_output)
        self.err = new_console(stderr=True)

    @cached_property
    def store(self) -> Store:
        """The store, created when missing (for commands that write results)."""
        return Store(self.settings.store_path)

    @cached_property
    def read_store(self) -> Store:
        """The store for a read-only command: a missing one reads as empty and is not created."""
        if "store" in self.__dict__:
            return self.store
        return Store(self.settings.store_path, create=False)

    def close(self) -> None:
        """Close whichever store was opened."""
        for name in ("store", "read_store"):
            opened = self.__dict__.pop(name, None)
            if opened is not None:
                opened.close()

    def print_table(self, table: Any) -> None:
        """Print a table on the command's console with its numbers whole (``ftcot.tables``)."""
        print_table(self.console, table)

    def emit_json(self, data: Any) -> None:
        """Write one JSON document to stdout."""
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()
