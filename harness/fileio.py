"""Writing files whole or not at all: a temporary file in the same directory, renamed into place,
so a reader (or a killed run) never sees half a file.

``write_output`` is how a command writes a file the user named (``--output``, ``--export``, a
baseline): ``check_output`` refuses a directory, the store, any SQLite file and any existing file
that ftcot did not write. ftcot remembers what it wrote in ``outputs.json`` under its state
directory (``$FTCOT_STATE_DIR``, else the per-user state directory): path -> sha256, so a file
changed by hand since is not replaced either.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ftcot.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
STORE_SIDECARS = ("", "-wal", "-shm", "-journal")
OUTPUTS_FILE = "outputs.json"



@contextlib.contextmanager
def atomic_file(path: Path | str, mode: str = "w") -> Iterator[IO[Any]]:
    """An open temporary file that replaces ``path`` when the block ends without an error."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode_for(dest))  # mkstemp makes 0600: give the file the mode a plain open would
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(dest: Path) -> int:
    """The permission bits ``dest`` gets: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(dest.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


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


def state_dir() -> Path:
    """Where ftcot keeps its own small state: ``$FTCOT_STATE_DIR``, else the per-user state folder."""
    env = os.environ.get("FTCOT_STATE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_state_dir("ftcot"))


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _written() -> dict[str, str]:
    found = read_json_or_none(state_dir() / OUTPUTS_FILE)
    return found if isinstance(found, dict) else {}


def _remember(path: Path, data: bytes) -> None:
    """Record that ftcot wrote ``data`` at ``path`` (forgetting files that are gone)."""
    try:
        known = {k: v for k, v in _written().items() if Path(k).is_file()}
        known[str(path.resolve())] = _digest(data)
        write_json_atomic(state_dir() / OUTPUTS_FILE, known)
    except OSError:  # an unwritable state folder costs only the right to replace this file later
        pass


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a file that starts like a SQLite database."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def check_output(path: Path | str, what: str, store: Path | None = None,
                 owned: Callable[[bytes], bool] | None = None) -> Path:
    """``path`` if a command may write ``what`` there; UserError otherwise.

    Refused: a directory; a path under a file; the store (or its WAL, shared-memory or journal
    file); any SQLite database; an existing file that ftcot did not write, or that changed since
    it did (``owned(content)`` may accept an existing file by its content, e.g. a baseline)."""
    path = Path(path)
    advice = "choose another path"
    if path.is_dir():
        raise UserError(f"{what} {path} is a directory: give a file path, e.g. {path / 'out'}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write {what} {path}: {parent} is a file, not a folder; {advice}")
    if store is not None:
        target = path.resolve()
        if any(target == Path(f"{store.resolve()}{end}") for end in STORE_SIDECARS):
            raise UserError(f"refusing to write {what} over the store {store}: it holds every result; {advice}")
    if not path.exists():
        return path
    if not path.is_file():
        raise UserError(f"{what} {path} is not a regular file; {advice}")
    if is_sqlite(path):
        raise UserError(f"refusing to replace {path}: it is a SQLite database (a store?); {advice}")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot write {what} {path}: {exc.strerror}; {advice}") from None
    if _written().get(str(path.resolve())) == _digest(content) or (owned is not None and owned(content)):
        return path
    raise UserError(f"refusing to replace {path}: ftcot did not write it (or it changed since); "
                    f"move it away or {advice}")


def write_output(path: Path | str, data: str | bytes, what: str, store: Path | None = None,
                 owned: Callable[[bytes], bool] | None = None) -> None:
    """``check_output``, then write ``data`` atomically and remember that ftcot wrote it."""
    path = check_output(path, what, store, owned)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        write_atomic(path, raw)
    except OSError as exc:
        raise UserError(f"cannot write {what} {path}: {exc.strerror or exc}; check the path and its "
                        f"permissions") from None
    _remember(path, raw)
