"""Line numbers for the keys and values of a TOML file, so config errors can point at a line.

``tomllib`` parses without positions; this scanner reads the same text line by line and
records where each table header and ``key = value`` assignment sits. It understands what a
matrix config uses (headers, dotted and quoted keys, inline tables, multi-line arrays), and
falls back to the nearest enclosing key when a position is unknown.
"""

from __future__ import annotations

import re

_KEY_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")

Path = tuple[str, ...]


def _parse_key(text: str, pos: int = 0) -> tuple[Path, int] | None:
    """A dotted key starting at ``pos``: its parts and the index just after it."""
    parts: list[str] = []
    while True:
        match = _KEY_PART.match(text, pos)
        if not match or match.end() == pos:
            return None
        quoted, literal, bare = match.groups()
        parts.append(quoted if quoted is not None else literal if literal is not None else bare)
        pos = match.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


def _bracket_delta(line: str) -> int:
    """How much a line opens ``[``/``{`` minus closes, ignoring strings and comments."""
    depth, quote, i = 0, "", 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


class LineIndex:
    """Where each key (as a path of parts) is defined in a TOML text."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.keys: dict[Path, int] = {}
        table: Path = ()
        depth = 0
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if depth == 0 and stripped.startswith("["):
                inner = stripped.lstrip("[")
                parsed = _parse_key(inner)
                if parsed:
                    table = parsed[0]
                    self.keys.setdefault(table, number)
                continue
            if depth == 0 and stripped and not stripped.startswith("#"):
                parsed = _parse_key(line)
                if parsed and parsed[1] < len(line) and line[parsed[1]] == "=":
                    self.keys.setdefault(table + parsed[0], number)
            depth = max(0, depth + _bracket_delta(line))

    def line_of(self, path: Path) -> int | None:
        """The line defining ``path`` or, failing that, its nearest enclosing key."""
        path = tuple(path)
        while path:
            if path in self.keys:
                return self.keys[path]
            path = path[:-1]
        return None

    @staticmethod
    def _starts_definition(line: str) -> bool:
        stripped = line.strip()
        if stripped.startswith("["):
            return True
        parsed = _parse_key(line)
        return parsed is not None and parsed[1] < len(line) and line[parsed[1]] == "="

    def line_of_value(self, path: Path, value: str) -> int | None:
        """The first line at or after ``path``'s definition that holds the string ``value``."""
        start = self.line_of(path)
        if start is None:
            return None
        needles = (f'"{value}"', f"'{value}'")
        for number in range(start, len(self.lines) + 1):
            text = self.lines[number - 1]
            if any(n in text for n in needles):
                return number
            if number > start and self._starts_definition(text):
                break
        return start
