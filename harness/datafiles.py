"""Reading a data directory's files: raw files with their checksums, JSON and JSON lines with
errors that name the file and line, and field checks for records. Dataset tasks build on these."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcot.errors import UserError

FETCH_HINT = "ftcot data fetch {task} (or ftcot data import MIRROR)"
PROMPTS_FILE = "few_shot_cot_prompts.json"
"""The few-shot-CoT exemplars of every task, at the top of a data directory."""

_SHA256: dict[tuple, str] = {}


def stat_stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_mtime_ns, st.st_size)



@dataclass(frozen=True)
class RawFile:
    """One original file of a dataset: where it lives and how to check it.

    ``rows``: its record count; ``sha256``: its checksum (None when unknown, then ``git_sha1``,
    the git blob id, checks a download); ``url``: the original public location.
    ``optional``: the task works without it (with fewer examples).
    """

    name: str
    rows: int
    sha256: str | None
    url: str
    git_sha1: str | None = None
    optional: bool = False


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_json(path: Path, task: str) -> Any:
    """A whole JSON file; UserError naming the file and line for bad JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"task {task}: {path} is missing; fix with `{FETCH_HINT.format(task=task)}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"task {task}: cannot read {path} ({exc}); fix with `{FETCH_HINT.format(task=task)}`") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"task {task}: {path} line {exc.lineno} is not valid JSON ({exc.msg}); the file is corrupt, "
            f"fix with `{FETCH_HINT.format(task=task)}`"
        ) from None


def read_json_lines(path: Path, task: str) -> Iterator[tuple[int, dict]]:
    """(line number, record) for each non-empty line of a JSON-lines file."""
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"task {task}: {path} is missing; fix with `{FETCH_HINT.format(task=task)}`") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(
                    f"task {task}: {path} line {lineno} is not valid JSON ({exc.msg}); the file is corrupt, "
                    f"fix with `{FETCH_HINT.format(task=task)}`"
                ) from None
            if not isinstance(record, dict):
                raise UserError(f"task {task}: {path} line {lineno} is not a JSON object")
            yield lineno, record


def malformed(task: str, path: Path, where: str, problem: str) -> UserError:
    """The error for a record that does not have the expected fields."""
    return UserError(f"task {task}: malformed record in {path} ({where}): {problem}")


def field(record: Any, name: str, kind: type | tuple[type, ...], task: str, path: Path, where: str) -> Any:
    """``record[name]`` checked to be of ``kind``; a malformed-record error otherwise."""
    if not isinstance(record, dict) or name not in record:
        raise malformed(task, path, where, f"missing field {name!r}")
    value = record[name]
    if not isinstance(value, kind):
        raise malformed(task, path, where, f"field {name!r} is {type(value).__name__}, expected "
                        f"{getattr(kind, '__name__', kind)}")
    return value


def examples_list(data: Any, task: str, path: Path) -> list:
    """The ``examples`` list of a BIG-bench-style JSON object."""
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise malformed(task, path, "top level", "expected a JSON object with an 'examples' list")
    return data["examples"]


def json_array(data: Any, task: str, path: Path) -> list:
    """A file whose top level is a JSON array of records."""
    if not isinstance(data, list):
        raise malformed(task, path, "top level", "expected a JSON array of records")
    return data


def cached_sha256(path: Path) -> str:
    stamp = stat_stamp(path)
    if stamp is None:
        return sha256_of(path)  # missing: raise the usual FileNotFoundError
    if stamp not in _SHA256:
        _SHA256[stamp] = sha256_of(path)
    return _SHA256[stamp]
