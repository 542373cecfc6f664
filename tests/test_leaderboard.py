"""Leaderboards: aggregation over seeds, best per column, teacher rows, and every format."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from ftcot.leaderboard import build, short_names
from ftcot.records import CellResult, Completion
from ftcot.registry import create_task
from ftcot.store import Store, content_key

COIN = "coin_flip:flips=2,train=8,test=4,seed=0"
LETTERS = "last_letter_concatenation:words=2,train=8,test=4,seed=0"


def cell(task, student, method, accuracy, seed=0, degree=1, teacher="oracle", scoring="paper", status="done",
         n=4) -> CellResult:
    return CellResult(task=task, teacher=teacher if method == "fine-tune-cot" else "none", student=student,
                      method=method, degree=degree, seed=seed, accuracy=accuracy, n=n, scoring=scoring,
                      status=status, extra={"parameters": {"tiny-llama": 440_000, "tiny-gpt2": 1_200_000}[student]})


CELLS = [
    cell(COIN, "tiny-llama", "fine-tune", 0.50, seed=0),
    cell(COIN, "tiny-llama", "fine-tune", 0.75, seed=1),
    cell(COIN, "tiny-llama", "fine-tune", 1.00, seed=2),
    cell(COIN, "tiny-llama", "fine-tune-cot", 1.00, degree=1),
    cell(COIN, "tiny-llama", "fine-tune-cot", 0.75, degree=4),
    cell(LETTERS, "tiny-llama", "fine-tune", 0.25),
    cell(LETTERS, "tiny-llama", "fine-tune-cot", 0.50, degree=1),
    cell(LETTERS, "tiny-llama", "fine-tune-cot", 0.75, degree=4),
    cell(COIN, "tiny-gpt2", "fine-tune-cot", 0.25, degree=1),
    cell(LETTERS, "tiny-gpt2", "fine-tune-cot", 0.25, degree=1),
    cell(LETTERS, "tiny-gpt2", "zero-shot", 0.0),
    cell(COIN, "tiny-gpt2", "fine-tune", None, status="failed"),
    cell(COIN, "tiny-gpt2", "fine-tune", 1.0, scoring="strict"),
]


@pytest.fixture
def filled_store(store_path: Path) -> Path:
    store = Store(store_path)
    for i, c in enumerate(CELLS):
        store.put_cell(f"cell-{i}", c)
    # the teacher answered the coin flip test questions: 3 of 4 right
    task = create_task(COIN, data_dir=None)
    completions = []
    for k, example in enumerate(task.test_examples()):
        completions.append((content_key("t", example.sample_index), Completion(
            task=task.key, sample_index=example.sample_index, teacher="oracle", index=0,
            rationale="...", answer_text=example.answer, prediction=example.answer, correct=k != 0)))
    store.put_completions(completions)
    store.close()
    return store_path


def test_aggregates_seeds_with_standard_error() -> None:
    board = build(CELLS, scoring="paper")
    row = next(r for r in board.rows if r.student == "tiny-llama" and r.method == "fine-tune")
    entry = row.entries[COIN]
    values = [0.50, 0.75, 1.00]
    assert entry.seeds == [0, 1, 2]
    assert math.isclose(entry.accuracy, statistics.mean(values))
    assert math.isclose(entry.stderr, statistics.stdev(values) / math.sqrt(3))
    assert row.entries[LETTERS].stderr is None  # one seed
    assert math.isclose(row.mean(), (statistics.mean(values) + 0.25) / 2)
    # failed cells and other rule sets are not mixed in
    assert all(not (r.student == "tiny-gpt2" and r.method == "fine-tune") for r in board.rows)
    assert board.scoring == ["paper"]


def test_rows_are_student_by_method_by_degree_and_best_is_marked() -> None:
    board = build([c for c in CELLS if c.scoring == "paper"])
    labels = [(r.student, r.label) for r in board.rows]
    assert labels == [
        ("tiny-llama", "Fine-tune"), ("tiny-llama", "Fine-tune-CoT D=1 (oracle)"),
        ("tiny-llama", "Fine-tune-CoT D=4 (oracle)"),
        ("tiny-gpt2", "Zero-shot"), ("tiny-gpt2", "Fine-tune-CoT D=1 (oracle)"),
    ]
    assert board.tasks == [COIN, LETTERS]
    best_coin = [r.label for r in board.rows if board.is_best(r, COIN)]
    assert best_coin == ["Fine-tune-CoT D=1 (oracle)"]
    best_letters = [(r.student, r.label) for r in board.rows if board.is_best(r, LETTERS)]
    assert best_letters == [("tiny-llama", "Fine-tune-CoT D=4 (oracle)")]
    assert board.parameters == {"tiny-llama": 440_000, "tiny-gpt2": 1_200_000}


def test_short_names() -> None:
    assert short_names([COIN, LETTERS]) == {COIN: "coin_flip", LETTERS: "last_letter_concatenation"}
    assert short_names(["coin_flip:flips=2", "coin_flip:flips=8"]) == {
        "coin_flip:flips=2": "coin_flip:flips=2", "coin_flip:flips=8": "coin_flip:flips=8"}


def leaderboard(store_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FTCOT_STORE": str(store_path), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "ftcot.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_json_format_lists_cells_and_teacher_accuracy(filled_store: Path) -> None:
    result = leaderboard(filled_store, "leaderboard", "--format", "json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    required = {"task", "teacher", "student", "method", "degree", "seeds", "accuracy", "stderr", "n"}
    assert all(required <= set(item) for item in items)
    assert all(item["scoring"] == "paper" for item in items)
    vanilla = next(i for i in items if i["student"] == "tiny-llama" and i["method"] == "fine-tune"
                   and i["task"] == COIN)
    assert vanilla["seeds"] == [0, 1, 2] and vanilla["n"] == 4
    assert math.isclose(vanilla["accuracy"], 0.75) and vanilla["stderr"] > 0
    teacher = [i for i in items if i["method"] == "teacher"]
    assert [(t["task"], t["teacher"], t["accuracy"], t["n"]) for t in teacher] == [(COIN, "oracle", 0.75, 4)]
    assert len(items) == 9 + 1

    strict = leaderboard(filled_store, "--scoring", "strict", "leaderboard", "--format", "json")
    assert [(i["student"], i["method"], i["scoring"]) for i in json.loads(strict.stdout)] == [
        ("tiny-gpt2", "fine-tune", "strict")]


def test_markdown_csv_and_table_state_rules_and_mark_the_best(filled_store: Path, tmp_path: Path) -> None:
    md = leaderboard(filled_store, "leaderboard", "--format", "md", "--show-n").stdout
    assert "scoring: paper" in md and "reported epoch: last" in md
    assert "| student | method | coin_flip | last_letter_concatenation | mean |" in md
    assert "**100.0 (n=4)**" in md  # the best coin flip cell, with n on demand
    assert "75.0 ± 14.4 (n=4)" in md  # vanilla: mean ± standard error over 3 seeds
    assert "Teacher: oracle" in md

    out = tmp_path / "board.csv"
    result = leaderboard(filled_store, "leaderboard", "--format", "csv", "--output", str(out))
    assert result.returncode == 0 and "wrote csv" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["scoring"] for r in rows} == {"paper"}
    cot4 = next(r for r in rows if r["student"] == "tiny-llama" and r["degree"] == "4")
    assert float(cot4[COIN]) == 0.75 and float(cot4["mean"]) == 0.75

    table = leaderboard(filled_store, "leaderboard")
    assert table.returncode == 0
    assert "scoring: paper" in table.stdout and "reported epoch: last" in table.stdout
    assert "Fine-tune-CoT D=4" in table.stdout


def test_unknown_format_and_empty_store_are_user_errors(store_path: Path) -> None:
    bad = leaderboard(store_path, "leaderboard", "--format", "pdf")
    assert bad.returncode == 1 and "unknown reporter 'pdf'" in bad.stderr
    empty = leaderboard(store_path, "leaderboard")
    assert empty.returncode == 1 and "no finished cells" in empty.stderr
