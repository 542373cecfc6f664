"""``ftcot distill`` and ``ftcot filter-report`` from the command line: JSON, errors,
determinism, and a training killed midway that resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftcot.cli import main

TASK = "tracking_shuffled_objects:objects=3,swaps=2,train=24,test=6"
STUDENT = "tiny-llama:layers=1,dim=32,heads=2,ffn=64,vocab=300"
QUICK = ["--max-steps", "6", "--batch-size", "8", "--max-new-tokens", "40"]


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_distill_json_has_the_documented_fields(store_path: Path, capsys: pytest.CaptureFixture):
    out = run_json(capsys, "distill", TASK, "--teacher", "oracle", "--student", STUDENT, *QUICK)
    for name in ("task", "teacher", "student", "method", "degree", "seed", "accuracy", "n", "train_samples"):
        assert name in out
    assert (out["task"], out["teacher"], out["method"], out["degree"], out["seed"]) == (
        TASK, "oracle", "fine-tune-cot", 1, 0)
    assert out["n"] == 6 and out["train_samples"] == 24 and 0.0 <= out["accuracy"] <= 1.0
    assert out["report_epoch"] == "last" and out["cached"] is False and out["filters"] == ["correct"]
    again = run_json(capsys, "distill", TASK, "--teacher", "oracle", "--student", STUDENT, *QUICK)
    assert again["cached"] is True and again["accuracy"] == out["accuracy"]


def test_distill_prints_accuracy(store_path: Path, capsys: pytest.CaptureFixture):
    assert main(["distill", TASK, "--student", STUDENT, "--method", "fine-tune", *QUICK]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "/6)" in text and "last epoch" in text


@pytest.mark.parametrize("argv, message", [
    (["--student", STUDENT], "needs a teacher"),
    (["--teacher", "oracle", "--student", "no-such-student"], "unknown student"),
    (["--teacher", "oracle", "--student", STUDENT, "--filters", "correct,nope"], "unknown filter"),
    (["--teacher", "oracle", "--student", STUDENT, "--filters", "max-tokens:x"], "max-tokens"),
    (["--teacher", "oracle", "--student", STUDENT, "-D", "0"], "degree"),
])
def test_user_errors_are_one_line(store_path: Path, capsys: pytest.CaptureFixture, argv, message):
    assert main(["distill", TASK, *argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error:")
    assert message in err.strip().splitlines()[-1]


def test_filter_report_counts_each_filter(store_path: Path, capsys: pytest.CaptureFixture):
    out = run_json(capsys, "filter-report", TASK, "--teacher", "oracle", "-D", "3", "-T", "0.7",
                   "--filters", "correct,dedupe")
    assert out["completions"] == 72 and out["examples"] == 24
    steps = {s["filter"]: s for s in out["steps"]}
    assert list(steps) == ["failed", "correct", "dedupe"]
    assert steps["correct"]["dropped"] == 0  # the oracle is always right
    assert steps["dedupe"]["dropped"] == len(out["drops"]) == out["dropped"]
    assert out["kept"] + out["dropped"] == 72
    assert main(["filter-report", TASK, "--teacher", "oracle", "-D", "3", "-T", "0.7",
                 "--filters", "correct,dedupe"]) == 0
    text = capsys.readouterr().out
    assert "dedupe" in text and f"{out['kept']} of 72 completions kept" in text


def test_same_seed_same_accuracy_twice(tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture):
    results = []
    for run in ("one", "two"):
        monkeypatch.setenv("FTCOT_STORE", str(tmp_path / run / "ftcot.db"))
        results.append(run_json(capsys, "distill", TASK, "--teacher", "oracle", "--student", STUDENT,
                                "--seed", "3", *QUICK))
    assert results[0]["cached"] is False and results[1]["cached"] is False
    assert results[0]["accuracy"] == results[1]["accuracy"]
    from ftcot.store import Store

    texts = [[p.text for p in Store(tmp_path / run / "ftcot.db").predictions(r["key"])]
             for run, r in zip(("one", "two"), results)]
    assert texts[0] == texts[1] and len(texts[0]) == 6


def _distill_process(store: Path, *extra: str, hold_after: int | None = None) -> subprocess.Popen:
    env = dict(os.environ, FTCOT_STORE=str(store), FTCOT_THREADS="1")
    env.pop("FTCOT_HOLD_AFTER_EPOCH", None)
    if hold_after is not None:  # the run waits after that epoch's state is saved: no race with the kill
        env["FTCOT_HOLD_AFTER_EPOCH"] = str(hold_after)
    argv = [sys.executable, "-m", "ftcot.cli", "distill", TASK, "--teacher", "oracle", "--student", STUDENT,
            "--epochs", "4", "--batch-size", "4", "--max-new-tokens", "40", "--json", *extra]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_training_killed_midway_resumes_from_its_checkpoint(tmp_path: Path):
    store = tmp_path / "killed" / "ftcot.db"
    proc = _distill_process(store, hold_after=2)
    deadline = time.time() + 240
    state = None
    while time.time() < deadline and proc.poll() is None:  # until epoch 2's state is on disk
        states = list((store.parent / "models").glob("*/state.json"))
        if states:
            state = json.loads(states[0].read_text())
            if state["history"] and state["history"][-1]["epoch"] == 2:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before epoch 2 was saved"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = time.time()
    assert state and not state["complete"] and 1 <= state["history"][-1]["epoch"] < 4
    done_before_kill = state["history"][-1]["epoch"]
    resumed_proc = _distill_process(store)
    resumed = json.loads(resumed_proc.communicate(timeout=300)[0])
    assert resumed["epoch"] == 4 and resumed["cached"] is False
    history = json.loads(next((store.parent / "models").glob("*/state.json")).read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    # the epochs finished before the kill were not trained again
    assert all((h["finished_at"] < killed_at) == (h["epoch"] <= done_before_kill) for h in history)
    whole_proc = _distill_process(tmp_path / "whole" / "ftcot.db")
    whole = json.loads(whole_proc.communicate(timeout=300)[0])
    assert resumed["accuracy"] == whole["accuracy"]
