"""Every command that prints a table, run through a pipe at COLUMNS=40, 80 and unset: the text
is the same at every width, nothing is cut with an ellipsis, and every number the command's
``--json`` output holds for its table appears whole in the text."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ftcot.cli import main
from ftcot.pipeline import CellSpec, cell_key
from ftcot.pipeline.teach import ARTIFACT_KIND
from ftcot.records import BatchRecord, CellResult, Completion
from ftcot.registry import create_task
from ftcot.store import Store, content_key

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
TASK = "coin_flip:flips=2,train=6,test=3"
LETTERS = "last_letter_concatenation:words=2,train=8,test=4,seed=0"
API = "litellm:openai/gpt-4o-mini"
GATED = CellSpec(task=TASK, teacher="none", student="tiny-gpt2", method="fine-tune")  # the baseline's cell


def numbers(value: Any) -> Iterator[int | float]:
    """Every number (not a flag) in a JSON value."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)


def whole(text: str, number: int | float) -> bool:
    """``number`` appears in ``text`` not cut: an integer exactly (thousands separators allowed),
    a fraction at 2, 3 or 4 decimals, or as a percentage at 1 decimal; never rounded to zero."""
    plain = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    forms = [str(number)] if isinstance(number, int) else (
        [f"{number:.{d}f}" for d in (2, 3, 4)] + [f"{100 * number:.1f}"])
    forms = [form for form in forms if float(form) != 0 or number == 0]
    return any(re.search(rf"(?<![\d.]){re.escape(form)}(?!\d|\.\d)", plain) for form in forms)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small store with cells, completions and a batch job, a replay file at a long path, a
    matrix config and a baseline: everything the table commands read, built in a second."""
    root = tmp_path_factory.mktemp("tables")
    folder = root / "completions-recorded-for-the-replay-teacher" / "a-second-rather-long-folder-name"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "replay" / "coin_flip_completions.json", folder / "coin_flip_completions.json")
    replay = f"replay:{folder / 'coin_flip_completions.json'}"
    store_path = root / "ftcot.db"
    data = root / "data"
    assert main(["--store", str(store_path), "--data-dir", str(data), "teach", TASK, "--teacher", replay,
                 "--no-progress", "--json"]) == 0
    store = Store(store_path)
    task = create_task(TASK, data_dir=data)
    answered = [(content_key("api", e.sample_index), Completion(
        task=task.key, sample_index=e.sample_index, teacher=API, index=0, rationale="...", answer_text=e.answer,
        prediction=e.answer, correct=e.sample_index % 2 == 0, prompt_tokens=123_456 + e.sample_index,
        completion_tokens=7_654_321, cost_usd=12.3456)) for e in task.train_examples()]
    store.put_completions(answered)
    store.put_artifact(ARTIFACT_KIND, "api-run", {"task": task.key, "teacher": API, "updated": time.time(), "entries": [
        (c.sample_index, c.index, key, c.correct) for key, c in answered]})
    for i, (name, method, accuracy, seed) in enumerate([
        (TASK, "fine-tune-cot", 0.8333, 0), (TASK, "fine-tune-cot", 0.6667, 1), (TASK, "fine-tune", 0.5, 0),
        (LETTERS, "fine-tune-cot", 0.1234, 0), (LETTERS, "zero-shot", 0.0, 0),
    ]):
        store.put_cell(cell_key(GATED, "paper") if i == 2 else f"cell-{i}", CellResult(
            task=name, teacher=replay if method == "fine-tune-cot" else "none", student="tiny-gpt2", method=method,
            seed=seed, accuracy=accuracy, n=1234, scoring="paper", extra={"parameters": 1_234_567}))
    store.put_batch(BatchRecord(id="batch_6789abcdef", teacher=API, task=task.key, step="reasoning",
                                status="in_progress", requests=12_345, input_file="file-1", completed=6_789,
                                failed=12, created=time.time()))
    store.close()
    config = root / "matrix.toml"
    config.write_text(f'teachers = ["{API}", "{replay}"]\nstudents = ["tiny-gpt2"]\n'
                      f'methods = ["fine-tune", "fine-tune-cot"]\ndegrees = [1, 64]\nseeds = [0, 1]\n'
                      f'[tasks."{TASK}"]\n[tasks."{LETTERS}"]\n', encoding="utf-8")
    baseline = root / "baseline.json"
    baseline.write_text(json.dumps({
        "ftcot_baseline": 1, "created": "2026-01-01T00:00:00", "scoring": "paper", "versions": {}, "data": {},
        "cells": [{"spec": GATED.to_dict(), "key": cell_key(GATED, "paper"), "accuracy": 0.9876, "n": 4321,
                   "duration_s": 1.0}]}))
    return {"store": store_path, "data": data, "replay": replay, "config": config, "baseline": baseline}


def environment(world: dict[str, Any]) -> dict[str, str]:
    return {"FTCOT_STORE": str(world["store"]), "FTCOT_DATA_DIR": str(world["data"]), "HF_HUB_OFFLINE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "FTCOT_STATE_DIR": str(world["store"].parent / "state")}


def ftcot(world: dict[str, Any], args: list[str], columns: str | None) -> subprocess.CompletedProcess:
    """``ftcot ARGS | cat``: stdout is a pipe, COLUMNS as given (or unset)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(environment(world))
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "ftcot", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def in_process(world: dict[str, Any], args: list[str], columns: str | None, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture) -> str:
    """The same command in this process, its stdout captured (not a terminal either): the
    widths beyond the first cost no interpreter start."""
    with monkeypatch.context() as patch:
        for name, value in environment(world).items():
            patch.setenv(name, value)
        for name in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE"):
            patch.delenv(name, raising=False)
        if columns is not None:
            patch.setenv("COLUMNS", columns)
        capsys.readouterr()
        assert main(args) in (0, 1)
        return capsys.readouterr().out


def plan_numbers(data: dict) -> list:
    teachers = [[t[k] for k in ("examples", "degree", "needed", "cached", "calls", "requests", "prompt_tokens",
                                "completion_tokens", "cost_usd")] for t in data["teachers"]]
    totals = [data[k] for k in ("cells", "done", "failed", "todo", "teacher_calls", "prompt_tokens",
                                "completion_tokens", "cost_usd")]
    cells = [[c["degree"], c["seed"], c["accuracy"]] for c in data["cells_list"]]
    return [teachers, totals, cells, data["teacher_phase"]]


def leaderboard_numbers(data: list) -> list:
    return [[e["accuracy"], e["stderr"], e["n"]] for e in data]


def report_numbers(rows: list) -> list:
    return [[r["examples"], r["completions"], r["failed"], r["accuracy"], r["prompt_tokens"] + r["completion_tokens"],
             r["cost_usd"]] for r in rows]


# (name, text arguments, JSON arguments, the numbers of the JSON output the table shows)
COMMANDS: list[tuple[str, Callable[[dict], list[str]], Callable[[dict], list[str]], Callable[[Any], Any]]] = [
    ("matrix plan", lambda w: ["matrix", "plan", str(w["config"])],
     lambda w: ["matrix", "plan", str(w["config"]), "--json"], plan_numbers),
    ("leaderboard", lambda w: ["leaderboard", "--show-n"], lambda w: ["leaderboard", "--format", "json"],
     leaderboard_numbers),
    ("teacher-report", lambda w: ["teacher-report"], lambda w: ["teacher-report", "--json"], report_numbers),
    ("filter-report", lambda w: ["filter-report", TASK, "--teacher", w["replay"]],
     lambda w: ["filter-report", TASK, "--teacher", w["replay"], "--json"],
     lambda d: [[[s["seen"], s["kept"], s["dropped"]] for s in d["steps"]], d["completions"], d["kept"],
                d["examples"], d["examples_kept"]]),
    ("batches", lambda w: ["batches"], lambda w: ["batches", "--json"],
     lambda rows: [[r["requests"], r["completed"], r["failed"]] for r in rows]),
    ("check", lambda w: ["check", str(w["baseline"]), "--no-run"],
     lambda w: ["check", str(w["baseline"]), "--no-run", "--json"],
     lambda d: [[r["baseline"], r["current"]["accuracy"], r["current"]["n"], r["change_points"] / 100,
                 r["tolerance_points"] / 100] for r in d["rows"]]),
    ("tasks", lambda w: ["tasks"], lambda w: ["tasks", "--json"],
     lambda rows: [[r[k] for k in ("size", "train", "test")] for r in rows]),
    ("data status", lambda w: ["data", "status"], lambda w: ["data", "status", "--json"],
     lambda d: [[sum(f["present"] for f in t["files"]), len(t["files"])] for t in d["tasks"]]),
    ("plugins", lambda w: ["plugins"], lambda w: ["plugins", "--json"], lambda rows: []),
]


@pytest.mark.parametrize("name, text_args, json_args, shown", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_table_through_a_pipe_keeps_every_number_whole(world, name, text_args, json_args, shown,
                                                         monkeypatch, capsys) -> None:
    data = json.loads(in_process(world, json_args(world), None, monkeypatch, capsys))
    expected = list(numbers(shown(data)))
    piped = ftcot(world, text_args(world), "40")
    assert piped.returncode in (0, 1), piped.stderr
    text = piped.stdout
    for columns in ("80", None):  # a pipe ignores COLUMNS: nothing is laid out for it
        assert in_process(world, text_args(world), columns, monkeypatch, capsys) == text
    assert "…" not in text
    missing = [n for n in expected if not whole(text, n)]
    assert missing == [], f"{name}: not whole in the text: {missing}\n{text}"
    if name == "plugins":  # no numbers: the versions and names are whole
        assert all(p["version"] in text and p["name"] in text for p in data)
    if name == "matrix plan":
        assert expected and any(isinstance(n, float) and n > 0 for n in expected)  # a cost was estimated


def test_long_specs_are_shortened_the_same_way_in_every_table_and_listed_in_full(world) -> None:
    replay = world["replay"]
    for args in (["leaderboard"], ["matrix", "plan", str(world["config"])], ["teacher-report"]):
        text = ftcot(world, args, None).stdout
        assert "…" not in text
        assert f"replay = {replay}" in text, text  # the legend line
        assert text.count(replay) == 1, text  # only there: the table cells say "replay"
    board = json.loads(ftcot(world, ["leaderboard", "--format", "json"], None).stdout)
    assert {e["teacher"] for e in board if e["method"] == "fine-tune-cot"} == {replay}
    # the leaderboard's method column is one line per row
    text = ftcot(world, ["leaderboard"], "40").stdout
    assert "Fine-tune-CoT D=1 (replay)" in text
