"""What ``ftcot teacher-report`` shows: per task and teacher, the completions stored for them."""

from __future__ import annotations

from typing import Any

from ftcot.pipeline.teach import ARTIFACT_KIND
from ftcot.store import Store

ACCURACY_OVER = (
    "every completion stored for the task and teacher (replay: every completion the file holds for "
    "the examples taught, whatever -D selected)"
)


def _task_matches(task_key: str, wanted: list[str] | None) -> bool:
    if not wanted:
        return True
    return any(task_key == w or task_key.split(":", 1)[0] == w for w in wanted)


def teacher_report(store: Store, tasks: list[str] | None = None, teacher: str | None = None) -> list[dict[str, Any]]:
    """One row per (task, teacher): examples, completions, failed, correct, accuracy, tokens, cost;
    ``accuracy_over`` names the set the accuracy is computed on (``ACCURACY_OVER``).

    ``tasks``: task keys or task names (``coin_flip`` matches every coin flip variant)."""
    groups: dict[tuple[str, str], dict[str, tuple[int, bool | None, float]]] = {}
    runs = sorted(store.artifacts(ARTIFACT_KIND).values(), key=lambda r: r.get("updated", 0))
    for run in runs:
        if not _task_matches(run["task"], tasks) or (teacher and run["teacher"] != teacher):
            continue
        entries = groups.setdefault((run["task"], run["teacher"]), {})
        for sample_index, _index, key, correct in run["entries"]:
            entries[key] = (sample_index, correct, run.get("updated", 0))
    rows = []
    for (task_key, label), entries in sorted(groups.items()):
        stored = store.get_completions(entries)
        row: dict[str, Any] = {"task": task_key, "teacher": label, "examples": 0, "completions": 0, "failed": 0,
               "missing": 0, "correct": 0, "accuracy": None, "prompt_tokens": 0,
               "completion_tokens": 0, "cost_usd": 0.0, "accuracy_over": ACCURACY_OVER}
        examples = set()
        for key, (sample_index, correct, _) in entries.items():
            completion = stored.get(key)
            if completion is None:
                row["missing"] += 1
                continue
            examples.add(sample_index)
            row["prompt_tokens"] += completion.prompt_tokens
            row["completion_tokens"] += completion.completion_tokens
            row["cost_usd"] += completion.cost_usd
            if completion.failed:
                row["failed"] += 1
                continue
            row["completions"] += 1
            row["correct"] += bool(completion.correct if correct is None else correct)
        row["examples"] = len(examples)
        row["accuracy"] = row["correct"] / row["completions"] if row["completions"] else None
        row["cost_usd"] = round(row["cost_usd"], 8)
        rows.append(row)
    return rows
