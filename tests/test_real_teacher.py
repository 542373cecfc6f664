"""Students trained on a real large teacher's text: ``examples/real-teacher.toml`` replays the
paper's released text-davinci-002 completions (``teacher-completions/`` in the data directory).

The default run checks the config and the training data the released files give; the slow test
trains the coin flip cells of one seed from scratch and holds what the README reports of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftcot.matrix.config import parse_config
from ftcot.matrix.plan import expand

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "real-teacher.toml"
TASKS = ("coin_flip", "last_letter_concatenation")


def _data_dir() -> Path:
    return Path(os.environ.get("FTCOT_DATA_DIR") or REPO.parent / "shared" / "data")


def _released(data_dir: Path) -> bool:
    return all((data_dir / "teacher-completions" / f"D_{task}.json").is_file() for task in TASKS)


def test_the_config_replays_each_tasks_released_file() -> None:
    config = parse_config(CONFIG.read_text(), CONFIG)
    specs = expand(config)
    assert {s.task for s in specs} == set(TASKS)
    assert {(s.method, s.degree) for s in specs} == {("fine-tune", 1), ("fine-tune-cot", 1)}
    assert {s.teacher for s in specs if s.method == "fine-tune-cot"} == {
        "replay:{data_dir}/teacher-completions/D_{task}.json"}
    assert {s.seed for s in specs} == {0, 1} and config.parallel == 2


def _ftcot(*args: str, store: Path) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FTCOT_DATA_DIR": str(_data_dir())}
    command = [sys.executable, "-m", "ftcot.cli", "--store", str(store), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.skipif(not _released(_data_dir()), reason="needs the released teacher files in the data directory")
def test_the_released_files_give_the_training_data_the_readme_counts(tmp_path: Path) -> None:
    """The correct filter keeps the completions whose answer is right: 314 on coin flip, 201 on
    last letters, of 350 training questions each."""
    counts = {}
    for task in TASKS:
        out = tmp_path / f"{task}.jsonl"
        _ftcot("training-data", task, "--teacher", "replay:{data_dir}/teacher-completions/D_{task}.json",
               "-o", str(out), store=tmp_path / "ftcot.db")
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert all(r["prompt"].endswith(" ###") and r["completion"].endswith(" END") for r in rows)
        counts[task] = len(rows)
    assert counts == {"coin_flip": 314, "last_letter_concatenation": 201}


@pytest.mark.slow
@pytest.mark.skipif(not _released(_data_dir()), reason="needs the released teacher files in the data directory")
def test_fine_tune_cot_learns_more_than_vanilla_from_the_real_teachers_coin_flip_text(tmp_path: Path) -> None:
    """Coin flip, seed 0 (two of the example's eight cells; about 10 CPU-minutes). Measured here:
    Fine-tune-CoT 66.0 against vanilla 45.3, the replayed teacher 92.7 (139 of 150)."""
    store = tmp_path / "ftcot.db"
    _ftcot("matrix", "run", str(CONFIG), "--only", "task=coin_flip,seed=0", store=store)
    items = json.loads(_ftcot("leaderboard", str(CONFIG), "--format", "json", store=store))
    found = {i["method"]: (100 * i["accuracy"], i["n"]) for i in items if i["task"] == "coin_flip"}
    print(f"\ncoin flip, seed 0: {found}")
    cot, n = found["fine-tune-cot"]
    vanilla, _ = found["fine-tune"]
    teacher, teacher_n = found["teacher"]
    assert n == teacher_n == 150
    assert round(teacher, 1) == 92.7  # the released completions of the test questions, re-scored
    assert cot >= 57  # chance is 50
    assert cot > vanilla
