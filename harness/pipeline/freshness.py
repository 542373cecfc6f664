"""Whether a stored result still matches its task's data.

A cell's key names the task by its spec (``task.key``), not by the data the task produces, so
editing a task plugin's questions or rationales leaves the key as it was. Each result therefore
records the task's data fingerprint (``extra["task_data"]``, ``task_data_fingerprint``); a stored
result whose fingerprint differs from the task's current one is run again. Results stored before
fingerprints were recorded are reused as they are.

The fingerprint is the task's declared ``version`` (a class attribute set by the plugin, not one
inherited from ftcot's own bases) with ``task.fingerprint()``, else a sha256 over what the pipeline
reads from the task: its key, answer type, every split's indices, every example (question, answer,
choices, reference rationale), the oracle rationales and the few-shot prompt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ftcot.contracts.task import Task
from ftcot.errors import UserError
from ftcot.records import CellResult

FINGERPRINT_FIELD = "task_data"  # where a cell's extra holds the fingerprint of its task's data
CORE_MODULE_PREFIX = "ftcot.contracts."  # classes whose ``version`` is a default, not a declaration
_CACHE: dict[tuple, str] = {}


def changed_message(task: str) -> str:
    """The line shown when a stored result is run again because its task's data changed."""
    return f"task {task} changed since this result was stored; running again"


def declared_version(task: Task) -> Any:
    """The ``version`` the task's plugin declares, or None when only ftcot's bases set one."""
    for cls in type(task).__mro__:
        if "version" in vars(cls):
            return None if cls.__module__.startswith(CORE_MODULE_PREFIX) else vars(cls)["version"]
    return None


def task_data_fingerprint(task: Task) -> str:
    """The fingerprint of the data ``task`` gives the pipeline (cached per process and data stamp)."""
    cache_key = (type(task).__module__, type(task).__qualname__, task.key, str(task.data_dir), task._cache_stamp())
    found = _CACHE.get(cache_key)
    if found is None:
        version = declared_version(task)
        if version is not None:
            found = f"version:{version}:{task.fingerprint()}"
        else:
            found = "sha256:" + _data_hash(task)
        _CACHE[cache_key] = found
    return found


def _data_hash(task: Task) -> str:
    digest = hashlib.sha256()

    def add(value: Any) -> None:
        digest.update(json.dumps(value, sort_keys=True, default=str).encode())
        digest.update(b"\n")

    add([task.key, task.answer_type])
    for split in task.splits():
        add(_optional(lambda split=split: task.split_indices(split)))
    for example in task.examples():
        add([example.sample_index, example.question, example.answer, example.choices, example.rationale])
        add(_optional(lambda example=example: task.oracle_rationales(example)))
    add(_optional(task.few_shot_prompt))
    return digest.hexdigest()


def _optional(read: Any) -> Any:
    """``read()``, or None where the task does not offer it (a UserError)."""
    try:
        return read()
    except UserError:
        return None


def is_stale(result: CellResult | None, current: str | None) -> bool:
    """Whether ``result`` was stored for other task data than ``current`` (False when either is unknown)."""
    if result is None or current is None:
        return False
    stored = (result.extra or {}).get(FINGERPRINT_FIELD)
    return stored is not None and stored != current


def current_fingerprint(task_spec: str, data_dir: Path | str | None) -> str | None:
    """The fingerprint of the task named ``task_spec``; None when the task cannot be loaded here
    (its stored results are then left as they are)."""
    from ftcot.registry import create_task

    try:
        return task_data_fingerprint(create_task(task_spec, data_dir=data_dir))
    except UserError:
        return None


def changed_since(result: CellResult | None, task_spec: str, data_dir: Path | str | None) -> bool:
    """Whether the task ``task_spec`` changed since ``result`` was stored (loads the task only when
    the result recorded a fingerprint)."""
    return bool(stale_results({"": result}, {"": task_spec}, data_dir))


def stale_results(results: Mapping[str, CellResult | None], task_of: Mapping[str, str],
                  data_dir: Path | str | None) -> set[str]:
    """The keys among ``results`` (key -> stored result) whose task (``task_of[key]``, a spec)
    changed since they were stored. Tasks are loaded only for results that recorded a fingerprint."""
    current: dict[str, str | None] = {}
    stale = set()
    for key, result in results.items():
        if result is None or (result.extra or {}).get(FINGERPRINT_FIELD) is None:
            continue
        spec = task_of[key]
        if spec not in current:
            current[spec] = current_fingerprint(spec, data_dir)
        if is_stale(result, current[spec]):
            stale.add(key)
    return stale
