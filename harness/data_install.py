"""Installing dataset tasks' files into a data directory, checked against their checksums:
``fetch`` (download from each file's URL) and ``import_mirror`` (copy from a local mirror).

A data directory holds ``raw/<task>/<file>``, ``splits/<task>__<split>.json`` and
``few_shot_cot_prompts.json``. URLs point at github.com; ``FTCOT_DATA_URL`` (or
``ftcot data fetch --base-url``) replaces ``https://github.com`` with a mirror that serves the
same paths.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftcot.contracts.task import DatasetTask
from ftcot.datafiles import PROMPTS_FILE, RawFile, cached_sha256, git_blob_sha1
from ftcot.errors import UserError
from ftcot.fileio import write_atomic

GITHUB = "https://github.com"
REASONING_TEACHER = f"{GITHUB}/itsnamgyu/reasoning-teacher/raw/a2ca4d2/data"
"""The paper's released data, where the shared few-shot prompts file comes from."""
PROMPTS_SHA256 = "72bb973daf1ab1217ec5bc1cc95a8be8ab78d05ff42356a3176341d848956d19"


@dataclass(frozen=True)
class DataFile:
    """One file of a data directory: path relative to it, checksum, original URL."""

    relpath: str
    url: str
    sha256: str | None
    git_sha1: str | None = None
    optional: bool = False

    def verify(self, data: bytes | None = None, *, sha256: str | None = None) -> bool:
        """Whether content (or its sha256) matches; a file with no known sha256 checks its git blob id."""
        if self.sha256 is not None:
            actual = sha256 if sha256 is not None else hashlib.sha256(data or b"").hexdigest()
            return actual == self.sha256
        if self.git_sha1 is not None and data is not None:
            return git_blob_sha1(data) == self.git_sha1
        return False


def files_of(task: type[DatasetTask]) -> list[DataFile]:
    """Raw files, then split files, of a dataset task (not the shared prompts file)."""
    out = [_raw(task, f) for f in task.files]
    for split in task.split_names:
        stem = f"{task.name}__{split}"
        url = f"{task.split_url}/{stem}.json" if task.split_url else ""
        out.append(DataFile(f"splits/{stem}.json", url, task.split_sha256.get(split)))
    return out


def _raw(task: type[DatasetTask], f: RawFile) -> DataFile:
    return DataFile(f"raw/{task.name}/{f.name}", f.url, f.sha256, f.git_sha1, f.optional)


def prompts_file() -> DataFile:
    return DataFile(PROMPTS_FILE, f"{REASONING_TEACHER}/{PROMPTS_FILE}", PROMPTS_SHA256)


def dataset_tasks() -> list[type[DatasetTask]]:
    """The registered dataset tasks (built-in and third-party), by name."""
    from ftcot.registry import registry

    return [p.cls for p in registry().all("task") if isinstance(p.cls, type) and issubclass(p.cls, DatasetTask)]


def select(names: list[str] | None) -> list[type[DatasetTask]]:
    """The named dataset tasks (UserError for an unknown name), or every one."""
    tasks = dataset_tasks()
    if not names:
        return tasks
    by_name = {t.name: t for t in tasks}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UserError(f"unknown dataset task {unknown[0]!r}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def installable(tasks: list[type[DatasetTask]]) -> list[type[DatasetTask]]:
    """The tasks whose file list can be read; a third-party task whose own code fails there is
    skipped with one warning line, so the other tasks' files are still installed."""
    from ftcot.registry import failure_line

    out = []
    for task in tasks:
        try:
            files_of(task)
        except Exception as exc:  # a plugin's bug
            print(f"warning: skipping task {task.name}: its file list cannot be read ({failure_line(exc)})",
                  file=sys.stderr)
            continue
        out.append(task)
    return out


def base_url() -> str:
    return os.environ.get("FTCOT_DATA_URL", GITHUB).rstrip("/")


def mirrored(url: str, base: str | None) -> str:
    base = (base or base_url()).rstrip("/")
    return base + url[len(GITHUB):] if url.startswith(GITHUB) else url


@dataclass
class Outcome:
    """What happened to one file."""

    relpath: str
    status: str  # installed | present | missing | mismatch | failed
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"file": self.relpath, "status": self.status, "detail": self.detail}


def _already_ok(data_dir: Path, f: DataFile) -> bool:
    path = data_dir / f.relpath
    if not path.is_file():
        return False
    if f.sha256 is not None:
        return cached_sha256(path) == f.sha256
    return f.verify(path.read_bytes())


def wanted_files(tasks: list[type[DatasetTask]], prompts: bool = True) -> list[DataFile]:
    """The files of ``tasks`` (and the shared few-shot prompts file), each once."""
    out, seen = [], set()
    for f in ([prompts_file()] if prompts else []) + [f for t in tasks for f in files_of(t)]:
        if f.relpath not in seen:
            seen.add(f.relpath)
            out.append(f)
    return out


def check_data_dir(data_dir: Path, tasks: list[type[DatasetTask]]) -> None:
    """UserError when files cannot be installed under ``data_dir``: it, or a folder files go
    into, is a file."""
    for folder in [Path(data_dir), Path(data_dir) / "raw", Path(data_dir) / "splits",
                   *(Path(data_dir) / "raw" / t.name for t in tasks)]:
        if folder.exists() and not folder.is_dir():
            raise UserError(f"cannot install data under {data_dir}: {folder} is a file, not a folder; "
                            f"pass another --data-dir (or FTCOT_DATA_DIR)")


def fetch(data_dir: Path, tasks: list[type[DatasetTask]], base: str | None = None,
          progress: Callable[[str], None] | None = None, timeout: float = 60.0,
          prompts: bool = True) -> list[Outcome]:
    """Download every missing or wrong file of ``tasks`` from its original URL, checking it.

    A file whose checksum is wrong is not installed; an optional file the server lacks is
    reported ``missing`` (AQUA's train.json), any other failure ``failed``."""
    check_data_dir(data_dir, tasks)
    outcomes = []
    for f in wanted_files(tasks, prompts):
        if progress:
            progress(f.relpath)
        if _already_ok(data_dir, f):
            outcomes.append(Outcome(f.relpath, "present"))
            continue
        url = mirrored(f.url, base)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            status = "missing" if f.optional else "failed"
            outcomes.append(Outcome(f.relpath, status, f"{url}: HTTP {exc.code}"))
            continue
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            outcomes.append(Outcome(f.relpath, "failed", f"{url}: {reason}"))
            continue
        if not f.verify(data):
            outcomes.append(Outcome(f.relpath, "mismatch", f"{url}: checksum differs from the paper's file"))
            continue
        write_atomic(data_dir / f.relpath, data)
        outcomes.append(Outcome(f.relpath, "installed", url))
    return outcomes


def import_mirror(source: Path, data_dir: Path, tasks: list[type[DatasetTask]]) -> list[Outcome]:
    """Copy files from a local mirror laid out like a data directory's ``raw/`` (``SOURCE/<task>/<file>``)
    or like a whole data directory (``SOURCE/raw/...``, ``SOURCE/splits/...``), checking each."""
    source = Path(source)
    check_data_dir(data_dir, tasks)
    if not source.is_dir():
        raise UserError(f"{source} is not a directory; give a mirror laid out like raw/<task>/<file>")
    root_is_data_dir = (source / "raw").is_dir()
    if source.resolve() == Path(data_dir).resolve() or (
            not root_is_data_dir and source.resolve() == (Path(data_dir) / "raw").resolve()):
        raise UserError(f"{source} is the data directory itself; import from another directory")
    outcomes = []
    for f in wanted_files(tasks):
        if root_is_data_dir:
            origin = source / f.relpath
        elif f.relpath.startswith("raw/"):
            origin = source / f.relpath[len("raw/"):]
        else:
            origin = source.parent / f.relpath  # splits/ and prompts next to the raw mirror, if any
        if not origin.is_file():
            outcomes.append(Outcome(f.relpath, "missing", str(origin)))
            continue
        data = origin.read_bytes()
        if not f.verify(data):
            outcomes.append(Outcome(f.relpath, "mismatch", f"{origin}: checksum differs from the paper's file"))
            continue
        dest = Path(data_dir) / f.relpath
        if dest.is_file() and dest.read_bytes() == data:
            outcomes.append(Outcome(f.relpath, "present", str(dest)))
            continue
        write_atomic(dest, data)
        outcomes.append(Outcome(f.relpath, "installed", str(origin)))
    return outcomes

