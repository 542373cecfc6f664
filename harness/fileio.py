"""Writing files whole or not at all: a temporary file in the same directory, renamed into place,
so a reader (or a killed run) never sees half a file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ftcot.errors import UserError


@contextlib.contextmanager
def atomic_file(path: Path | str, mode: str = "w") -> Iterator[IO[Any]]:
    """An open temporary file that replaces ``path`` when the block ends without an error."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path | str, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically."""
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)


def write_json_atomic(path: Path | str, data: Any, indent: int | None = 1) -> None:
    """``data`` as JSON (sorted keys) at ``path``, atomically."""
    write_atomic(path, json.dumps(data, indent=indent, sort_keys=True))


def read_json_or_none(path: Path | str) -> Any | None:
    """The JSON at ``path``; None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


SQLITE_HEADER = b"SQLite format 3\x00"


def check_output_path(path: Path | str, store_path: Path | str | None = None) -> Path:
    """``path`` if an output file may be written there; UserError when it is the store, a SQLite
    database or a directory."""
    dest = Path(path)
    if store_path is not None and dest.resolve() == Path(store_path).resolve():
        raise UserError(f"{dest} is the store; pass another --output file")
    if dest.is_dir():
        raise UserError(f"{dest} is a directory; pass a file name to --output")
    try:
        with open(dest, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return dest
    except OSError as exc:
        raise UserError(f"cannot check {dest} before writing it: {exc}") from None
    if head == SQLITE_HEADER:
        raise UserError(f"{dest} is a SQLite database and would be overwritten; pass another --output file")
    return dest
