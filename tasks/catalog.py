"""Every data file the built-in tasks read, with checksums and original URLs, and the two ways
to install them into a data directory: ``fetch`` (download) and ``import_mirror`` (copy).

A data directory holds ``raw/<task>/<file>``, ``splits/<task>__<split>.json`` and
``few_shot_cot_prompts.json``. URLs point at github.com; ``FTCOT_DATA_URL`` (or
``ftcot data fetch --base-url``) replaces ``https://github.com`` with a mirror that serves the
same paths.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from tasks.base import DatasetTask, RawFile

GITHUB = "https://github.com"
REASONING_TEACHER = f"{GITHUB}/itsnamgyu/reasoning-teacher/raw/a2ca4d2/data"
PROMPTS_FILE = "few_shot_cot_prompts.json"
PROMPTS_SHA256 = "72bb973daf1ab1217ec5bc1cc95a8be8ab78d05ff42356a3176341d848956d19"

SPLIT_SHA256 = {
    "addsub__default": "1a6f70a39554084978a44439db0b661b039ce4dd2c09572d2ff9f44f5ef668d0",
    "aqua__default": "8f6a271a99d34bc1fdf062672088eb17f7f782d86c60d9a709f06b6b8144ff6d",
    "coin_flip__default": "a5f7ffe4a1a1e0181cbd9d00259d34f980c0073efe8a3ed25f69433cfb74a3a4",
    "commonsense_qa__default": "4cec2867bc6bc201eaa5fc96844870d85356f32b4fa652c75b8b5e42b9fedc76",
    "date_understanding__default": "5fbfdd1f0db941dce6accd7f43316eda2a2254f3a80f9a3a045f5a19bfb04578",
    "date_understanding__template": "9b4508734ffc2ae908615e3f9f6ca3c9e27f44e4b5e714d220bd7152ddd39d89",
    "gsm8k__default": "cf0f484fcaa270ff33f4ce00bff3f7e1f7f30b3e3bc76d0abcb74c22a6e9a6e0",
    "last_letter_concatenation__default": "a5f7ffe4a1a1e0181cbd9d00259d34f980c0073efe8a3ed25f69433cfb74a3a4",
    "multiarith__default": "f2f47aeb18026cb3d1909b38b8828693aeaf624af3282d8021dbee32008a1409",
    "multiarith__template": "188abcfb1358424791e2d9c8d622ad10356283405fab11e1a58fa374cd9a48f4",
    "single_eq__default": "d46feb082615045ea0909c5ed062ef85f29ba95223cbca39e0bfbb1ad1b5e1b7",
    "strategy_qa__default": "0857d069a693a83c20466971b7e522b3c90c3258146c9b9461df98e4d2468de1",
    "svamp__default": "fae6cc3a5c50952da78b66991182be507c8585e6a59954e03bd997488608ab1f",
    "tracking_shuffled_objects__default": "6f2a4637d6e0692297e5eaa66bf53518445e1fbae1d94f28daae0040b7a1156a",
}


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
            return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == self.git_sha1
        return False


def files_of(task: type[DatasetTask]) -> list[DataFile]:
    """Raw files, then split files, of a dataset task (not the shared prompts file)."""
    out = [_raw(task, f) for f in task.files]
    for split in task.split_names:
        stem = f"{task.name}__{split}"
        base = task.split_url or f"{REASONING_TEACHER}/split"
        sha = task.split_sha256.get(split) or SPLIT_SHA256.get(stem)
        out.append(DataFile(f"splits/{stem}.json", f"{base}/{stem}.json", sha))
    return out


def _raw(task: type[DatasetTask], f: RawFile) -> DataFile:
    return DataFile(f"raw/{task.name}/{f.name}", f.url, f.sha256, f.git_sha1, f.optional)


def prompts_file() -> DataFile:
    return DataFile(PROMPTS_FILE, f"{REASONING_TEACHER}/{PROMPTS_FILE}", PROMPTS_SHA256)


def dataset_tasks() -> list[type[DatasetTask]]:
    """The registered dataset tasks (built-in and third-party), by name."""
    from harness.plugins import registry

    return [p.cls for p in registry().all("task") if isinstance(p.cls, type) and issubclass(p.cls, DatasetTask)]


def select(names: list[str] | None) -> list[type[DatasetTask]]:
    tasks = dataset_tasks()
    if not names:
        return tasks
    by_name = {t.name: t for t in tasks}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UserError(f"unknown dataset task {unknown[0]!r}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def base_url() -> str:
    return os.environ.get("FTCOT_DATA_URL", GITHUB).rstrip("/")


def mirrored(url: str, base: str | None) -> str:
    base = (base or base_url()).rstrip("/")
    return base + url[len(GITHUB):] if url.startswith(GITHUB) else url


def _install(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        from tasks.base import _cached_sha256

        return _cached_sha256(path) == f.sha256
    return f.verify(path.read_bytes())


def wanted_files(tasks: list[type[DatasetTask]], prompts: bool = True) -> list[DataFile]:
    """The files of ``tasks`` (and the shared few-shot prompts file), each once."""
    out, seen = [], set()
    for f in ([prompts_file()] if prompts else []) + [f for t in tasks for f in files_of(t)]:
        if f.relpath not in seen:
            seen.add(f.relpath)
            out.append(f)
    return out


def fetch(data_dir: Path, tasks: list[type[DatasetTask]], base: str | None = None,
          progress: Callable[[str], None] | None = None, timeout: float = 60.0,
          prompts: bool = True) -> list[Outcome]:
    """Download every missing or wrong file of ``tasks`` from its original URL, checking it.

    A file whose checksum is wrong is not installed; an optional file the server lacks is
    reported ``missing`` (AQUA's train.json), any other failure ``failed``."""
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
        _install(data_dir / f.relpath, data)
        outcomes.append(Outcome(f.relpath, "installed", url))
    return outcomes


def import_mirror(source: Path, data_dir: Path, tasks: list[type[DatasetTask]]) -> list[Outcome]:
    """Copy files from a local mirror laid out like a data directory's ``raw/`` (``SOURCE/<task>/<file>``)
    or like a whole data directory (``SOURCE/raw/...``, ``SOURCE/splits/...``), checking each."""
    source = Path(source)
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
        _install(dest, data)
        outcomes.append(Outcome(f.relpath, "installed", str(origin)))
    return outcomes

