"""``ftcot distill`` and ``ftcot filter-report`` from the command line: JSON, errors,
determinism, and a training killed midway that resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Hold, child_env, ftcot_command

TASK = "tracking_shuffled_objects:objects=3,swaps=2,train=24,test=6"
STUDENT = "tiny-llama:layers=1,dim=32,heads=2,ffn=64,vocab=300"
QUICK = ["--max-steps", "6", "--batch-size", "8", "--max-new-tokens", "40"]


def run_json(cli, *argv: str) -> dict:
    ran = cli(*argv, "--json")
    assert ran.code == 0, ran.err
    return ran.json()


def test_distill_json_has_the_documented_fields(store_path: Path, cli):
    out = run_json(cli, "distill", TASK, "--teacher", "oracle", "--student", STUDENT, *QUICK)
    for name in ("task", "teacher", "student", "method", "degree", "seed", "accuracy", "n", "train_samples"):
        assert name in out
    assert (out["task"], out["teacher"], out["method"], out["degree"], out["seed"]) == (
        TASK, "oracle", "fine-tune-cot", 1, 0)
    assert out["n"] == 6 and out["train_samples"] == 24 and 0.0 <= out["accuracy"] <= 1.0
    assert out["report_epoch"] == "last" and out["cached"] is False and out["filters"] == ["correct"]
    again = run_json(cli, "distill", TASK, "--teacher", "oracle", "--student", STUDENT, *QUICK)
    assert again["cached"] is True and again["accuracy"] == out["accuracy"]


def test_distill_prints_accuracy(store_path: Path, cli):
    ran = cli("distill", TASK, "--student", STUDENT, "--method", "fine-tune", *QUICK)
    assert ran.code == 0
    text = ran.out
    assert "test accuracy" in text and "/6)" in text and "last epoch" in text


@pytest.mark.parametrize("argv, message", [
    (["--student", STUDENT], "needs a teacher"),
    (["--teacher", "oracle", "--student", "no-such-student"], "unknown student"),
    (["--teacher", "oracle", "--student", STUDENT, "--filters", "correct,nope"], "unknown filter"),
    (["--teacher", "oracle", "--student", STUDENT, "--filters", "max-tokens:x"], "max-tokens"),
    (["--teacher", "oracle", "--student", STUDENT, "-D", "0"], "degree"),
])
def test_user_errors_are_one_line(store_path: Path, cli, argv, message):
    ran = cli("distill", TASK, *argv)
    assert ran.code == 1
    err = ran.err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error:")
    assert message in err.strip().splitlines()[-1]


def test_filter_report_counts_each_filter(store_path: Path, cli):
    out = run_json(cli, "filter-report", TASK, "--teacher", "oracle", "-D", "3", "-T", "0.7",
                   "--filters", "correct,dedupe")
    assert out["completions"] == 72 and out["examples"] == 24
    steps = {s["filter"]: s for s in out["steps"]}
    assert list(steps) == ["failed", "correct", "dedupe"]
    assert steps["correct"]["dropped"] == 0  # the oracle is always right
    assert steps["dedupe"]["dropped"] == len(out["drops"]) == out["dropped"]
    assert out["kept"] + out["dropped"] == 72
    ran = cli("filter-report", TASK, "--teacher", "oracle", "-D", "3", "-T", "0.7", "--filters", "correct,dedupe")
    assert ran.code == 0
    text = ran.out
    assert "dedupe" in text and f"{out['kept']} of 72 completions kept" in text


def test_same_seed_same_accuracy_twice(tmp_path: Path, monkeypatch, cli):
    results = []
    for run in ("one", "two"):
        monkeypatch.setenv("FTCOT_STORE", str(tmp_path / run / "ftcot.db"))
        results.append(run_json(cli, "distill", TASK, "--teacher", "oracle", "--student", STUDENT,
                                "--seed", "3", *QUICK))
    assert results[0]["cached"] is False and results[1]["cached"] is False
    assert results[0]["accuracy"] == results[1]["accuracy"]
    from ftcot.store import Store

    texts = [[p.text for p in Store(tmp_path / run / "ftcot.db").predictions(r["key"])]
             for run, r in zip(("one", "two"), results)]
    assert texts[0] == texts[1] and len(texts[0]) == 6


def _distill_process(store: Path, hold: Hold | None = None) -> subprocess.Popen:
    """``ftcot distill`` as a child; with ``hold`` it waits after that epoch's state is saved."""
    held = hold.env() if hold else {"FTCOT_HOLD_AFTER_EPOCH": None, "FTCOT_HOLD_MARKER": None}
    env = child_env(FTCOT_STORE=str(store), FTCOT_THREADS="1", **held)
    argv = ftcot_command("distill", TASK, "--teacher", "oracle", "--student", STUDENT,
                         "--epochs", "4", "--batch-size", "4", "--max-new-tokens", "40", "--json")
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_training_killed_midway_resumes_from_its_checkpoint(tmp_path: Path, hold: Hold):
    store = tmp_path / "killed" / "ftcot.db"
    proc = _distill_process(store, hold)
    assert hold.pid() == proc.pid  # held after epoch 2: trained, saved, recorded
    state = json.loads(next((store.parent / "models").glob("*/state.json")).read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.time()
    assert not state["complete"] and [h["epoch"] for h in state["history"]] == [1, 2]
    resumed_proc = _distill_process(store, hold)  # the marker is there: this run does not hold
    resumed = json.loads(resumed_proc.communicate(timeout=300)[0])
    assert resumed["epoch"] == 4 and resumed["cached"] is False
    history = json.loads(next((store.parent / "models").glob("*/state.json")).read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    # the epochs finished before the kill were not trained again
    assert all((h["finished_at"] < killed_at) == (h["epoch"] <= 2) for h in history)
    whole_proc = _distill_process(tmp_path / "whole" / "ftcot.db")
    whole = json.loads(whole_proc.communicate(timeout=300)[0])
    assert resumed["accuracy"] == whole["accuracy"]
