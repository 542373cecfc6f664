"""Portable results: per cell a results JSON (config, versions, metrics, student) and per-sample
JSONL (question, rationale, prediction, gold, correct), in the spirit of lm-evaluation-harness's
``results_*.json`` and ``samples_*.jsonl``; per matrix one more JSON listing every cell.

Layout written by ``export_cells(cells, out)``::

    out/results.json                  {"schema", "date", "versions", "cells": [cell results...]}
    out/<cell name>/results.json      one cell's results (``RESULTS_SCHEMA``)
    out/<cell name>/samples.jsonl     one line per test question (``SAMPLE_SCHEMA``)

``read_export(folder)`` reads a cell folder back and checks that its samples give its accuracy.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ftcot import __version__
from ftcot import formatting as fmt
from ftcot.errors import UserError
from ftcot.fileio import check_output, write_output
from ftcot.pipeline.cell import public_student, public_teacher_options
from ftcot.records import CellResult, Example, Prediction

SCHEMA = "ftcot-results/1"
_NAME_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")

SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["doc_id", "doc_hash", "target_hash", "question", "rationale", "prediction", "gold", "correct",
                 "output"],
    "properties": {
        "doc_id": {"type": "integer"},  # the task's sample index
        "doc_hash": {"type": "string"},  # sha256 of the question: the same question across exports
        "target_hash": {"type": "string"},  # sha256 of the gold answer
        "question": {"type": "string"},
        "rationale": {"type": ["string", "null"]},  # None for methods without one (fine-tune, zero-shot)
        "prediction": {"type": ["string", "null"]},  # the answer read from the output (None: none found)
        "gold": {"type": "string"},
        "correct": {"type": "boolean"},
        "output": {"type": "string"},  # the student's whole output, cut at the stop marker
    },
}

RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "cell_key", "config", "versions", "metrics", "student", "samples", "date"],
    "properties": {
        "schema": {"const": SCHEMA},
        "cell_key": {"type": "string"},
        "config": {
            "type": "object",
            "required": ["task", "teacher", "student", "method", "degree", "seed", "training", "report_epoch",
                         "split", "scoring"],
        },
        "versions": {"type": "object", "required": ["ftcot", "task", "scoring"]},
        "metrics": {
            "type": "object",
            "required": ["accuracy", "accuracy_stderr", "n"],
            "properties": {"accuracy": {"type": "number"}, "accuracy_stderr": {"type": "number"},
                           "n": {"type": "integer"}},
        },
        "student": {"type": "object", "required": ["parameters", "dtype", "revision"]},
        "samples": {"type": "string"},
        "date": {"type": "string"},
    },
}


@dataclass
class ExportedCell:
    """A cell to export: its store key, result, predictions and the task's test examples."""

    key: str
    result: CellResult
    predictions: list[Prediction]
    examples: dict[int, Example]


def rationale_of(method: str, output: str) -> str | None:
    """The reasoning part of an output: before `` --> `` (Fine-tune-CoT), before the answer
    trigger (Zero-shot-CoT) or before ``The answer is`` (Few-shot-CoT); None for other methods."""
    if method == fmt.FINE_TUNE_COT:
        return fmt.split_cot_output(output)[0]
    marker = {fmt.ZERO_SHOT_COT: fmt.ZS_COT_ANSWER_TRIGGER.strip(), fmt.FEW_SHOT_COT: fmt.FEW_SHOT_ANSWER_PREFIX}.get(method)
    if marker is None:
        return None
    return output.split(marker, 1)[0].strip()


def cell_name(result: CellResult, key: str) -> str:
    """A folder name for a cell: readable fields and the start of its key."""
    spec = result.extra.get("spec", {})
    parts = [result.task.partition(":")[0], public_student(result.student), result.method]
    if result.method == fmt.FINE_TUNE_COT:
        parts += [result.teacher, f"D{result.degree}"]
    parts.append(f"seed{result.seed}")
    if spec.get("split", "default") != "default":
        parts.append(str(spec["split"]))
    return _NAME_SAFE.sub("_", "-".join(parts)).strip("_")[:120] + f"-{key[:10]}"


def sample_rows(cell: ExportedCell) -> list[dict[str, Any]]:
    """The per-sample lines of one cell."""
    rows = []
    for p in cell.predictions:
        example = cell.examples.get(p.sample_index)
        if example is None:
            raise UserError(f"cell {cell.key[:12]}: test example {p.sample_index} of {cell.result.task} is missing "
                            f"from the task's data; install the same data again")
        rows.append({"doc_id": p.sample_index, "doc_hash": _sha256(example.question),
                     "target_hash": _sha256(example.answer), "question": example.question,
                     "rationale": rationale_of(p.method, p.text), "prediction": p.prediction,
                     "gold": example.answer, "correct": bool(p.correct), "output": p.text})
    return rows


def results_document(cell: ExportedCell, samples_file: str) -> dict[str, Any]:
    """One cell's results JSON."""
    result = cell.result
    spec = dict(result.extra.get("spec") or {})
    n = len(cell.predictions)
    acc = sum(p.correct for p in cell.predictions) / n if n else 0.0
    info = result.extra.get("student_info") or {}
    teacher = result.extra.get("teacher") or {}
    return {
        "schema": SCHEMA,
        "cell_key": cell.key,
        "config": {
            "task": result.task, "teacher": result.teacher, "student": public_student(result.student),
            "method": result.method, "degree": result.degree, "seed": result.seed, "training": spec.get("training", {}),
            "teacher_options": public_teacher_options(spec.get("teacher_options") or {}), "filters": spec.get("filters", []),
            "report_epoch": result.report_epoch, "split": spec.get("split", "default"), "scoring": result.scoring,
            "epoch": result.epoch, "train_samples": result.train_samples,
        },
        "versions": {"ftcot": __version__, "task": result.extra.get("task_key", result.task),
                     "scoring": result.scoring, **_library_versions()},
        "metrics": {"accuracy": acc, "accuracy_stderr": math.sqrt(acc * (1 - acc) / (n - 1)) if n > 1 else 0.0,
                    "n": n},
        "student": {"parameters": info.get("parameters"), "dtype": info.get("dtype"),
                    "revision": info.get("revision")},
        "cost_usd": {"teacher": teacher.get("cost_usd", 0.0), **(result.extra.get("student_cost") or {})},
        "timing": result.extra.get("timing", {}),
        "samples": samples_file,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _library_versions() -> dict[str, str]:
    out = {}
    commit = _git_commit()
    if commit:
        out["git_hash"] = commit
    for name in ("torch", "transformers", "peft", "litellm"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _git_commit() -> str | None:
    """The commit of ftcot's own source when it runs from a git checkout, else None."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _is_results(content: bytes) -> bool:
    """Whether a file is a results JSON of an ftcot export (which a new export may replace)."""
    try:
        data = json.loads(content)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("schema") == SCHEMA


def _is_samples(content: bytes) -> bool:
    """Whether a file is the per-sample JSONL of an ftcot export."""
    first = content.split(b"\n", 1)[0]
    try:
        row = json.loads(first) if first.strip() else {}
    except ValueError:
        return False
    return isinstance(row, dict) and {"doc_id", "doc_hash", "target_hash"} <= set(row)


def export_cells(cells: Iterable[ExportedCell], out: Path, store: Path | None = None) -> list[Path]:
    """Write every cell's folder and the summary ``results.json``; returns the cell folders.
    Every path is checked first (``check_output``): nothing is written when one of them is a
    file ftcot did not write, or the store."""
    out = Path(out)
    planned: list[tuple[Path, str, Any]] = []  # (path, what, owned)
    chosen = list(cells)
    for cell in chosen:
        folder = out / cell_name(cell.result, cell.key)
        planned += [(folder / "samples.jsonl", "export samples", _is_samples),
                    (folder / "results.json", "export results", _is_results)]
    planned.append((out / "results.json", "export summary", _is_results))
    for path, what, owned in planned:
        check_output(path, what, store, owned)
    folders, summary = [], []
    for cell in chosen:
        folder = out / cell_name(cell.result, cell.key)
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in sample_rows(cell))
        write_output(folder / "samples.jsonl", lines, "export samples", store, _is_samples)
        document = results_document(cell, "samples.jsonl")
        write_output(folder / "results.json", _json(document), "export results", store, _is_results)
        summary.append({**document, "samples": f"{folder.name}/samples.jsonl"})
        folders.append(folder)
    write_output(out / "results.json", _json({"schema": SCHEMA, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                              "versions": {"ftcot": __version__, **_library_versions()},
                                              "cells": summary}), "export summary", store, _is_results)
    return folders


def _json(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True)


def read_export(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A cell folder's results and samples; an error when the samples do not give its accuracy."""
    folder = Path(folder)
    results = json.loads((folder / "results.json").read_text())
    samples = [json.loads(line) for line in (folder / results["samples"]).read_text().splitlines() if line.strip()]
    metrics = results["metrics"]
    accuracy = sum(s["correct"] for s in samples) / len(samples) if samples else 0.0
    if len(samples) != metrics["n"] or not math.isclose(accuracy, metrics["accuracy"], abs_tol=1e-12):
        raise UserError(f"{folder}: {len(samples)} samples with accuracy {accuracy} do not match its results "
                        f"(n={metrics['n']}, accuracy {metrics['accuracy']})")
    return results, samples
