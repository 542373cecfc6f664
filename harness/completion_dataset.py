"""Completions written in the reasoning-teacher ``CompletionDataset`` format (JSON), or as JSON
lines with the same entry fields — the formats ``replay:`` reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftcot.fileio import write_output
from ftcot.records import Completion, Example


def entry(completion: Completion, example: Example | None) -> dict[str, Any]:
    """One completion as a CompletionDataset entry."""
    return {
        "sample_index": completion.sample_index,
        "completion_index": completion.index,
        "question": example.question if example else "",
        "answer": example.answer if example else "",
        "reasoning_prompt": completion.reasoning_prompt,
        "reasoning_completion": completion.rationale,
        "reasoning_finish_reason": completion.finish_reason,
        "prompt": completion.answer_prompt,
        "completion": completion.answer_text,
        "finish_reason": None,
    }


def write_completions(path: str | Path, completions: list[Completion], examples: list[Example], *,
                      dataset_key: str, base_model: str, store: Path | None = None) -> int:
    """Write the successful completions to ``path`` (``.jsonl``: JSON lines, else CompletionDataset
    JSON), whole or not at all and never over ``store`` or a file ftcot did not write; returns
    how many were written."""
    path = Path(path)
    by_index = {e.sample_index: e for e in examples}
    entries = [entry(c, by_index.get(c.sample_index)) for c in completions if not c.failed]
    if path.suffix == ".jsonl":
        text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in entries)
    else:
        data: dict[str, list[dict[str, Any]]] = {}
        for item in entries:
            data.setdefault(str(item["sample_index"]), []).append(item)
        text = json.dumps({"metadata": {"dataset_key": dataset_key, "base_model": base_model}, "data": data},
                          ensure_ascii=False, indent=1)
    write_output(path, text, "export", store)
    return len(entries)
