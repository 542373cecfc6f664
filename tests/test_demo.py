"""``ftcot demo``: its config ships inside the package, and the command runs a part of it
end to end (the whole demo, about 10 minutes on 2 cores, is run by CI on its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftcot.commands.demo import demo_config_text
from ftcot.matrix.config import parse_config
from ftcot.matrix.plan import expand

REPO = Path(__file__).resolve().parents[1]


def test_demo_config_is_shipped_in_the_package() -> None:
    assert (REPO / "examples" / "demo.toml").read_text() == demo_config_text()
    config = parse_config(demo_config_text(), Path("demo.toml"))
    specs = expand(config)
    assert len(specs) == 6 and config.parallel == 2 and config.threads_per_cell == 1
    assert {s.task for s in specs} == {"tracking_shuffled_objects:preset=demo",
                                       "coin_flip:flips=4,train=350,test=150,seed=0"}
    assert {(s.method, s.degree) for s in specs} == {("fine-tune", 1), ("fine-tune-cot", 1), ("fine-tune-cot", 4)}
    assert {s.teacher for s in specs if s.method == "fine-tune-cot"} == {"oracle"}
    assert {s.student for s in specs} == {"tiny-llama"}


@pytest.mark.slow
def test_demo_command_runs_a_cell_and_writes_the_report(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "ftcot.cli", "demo", "--output", str(tmp_path / "demo"),
               "--only", "task=coin_flip,method=fine-tune", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    board = json.loads(result.stdout)
    [cell] = [item for item in board if item["method"] == "fine-tune"]
    assert cell["task"] == "coin_flip:flips=4,train=350,test=150,seed=0" and cell["n"] == 150
    html = (tmp_path / "demo" / "leaderboard.html").read_text()
    assert "Fine-tune" in html and "scoring: paper" in html
    assert (tmp_path / "demo" / "ftcot.db").is_file()


def test_the_miniature_paper_config_covers_the_claims_grid() -> None:
    config = parse_config((REPO / "examples" / "miniature-paper.toml").read_text(), Path("miniature-paper.toml"))
    specs = expand(config)
    assert {s.teacher for s in specs if s.method == "fine-tune-cot"} == {"oracle:error=0.3"}
    assert {s.degree for s in specs if s.method == "fine-tune-cot"} == {1, 4}
    assert len({s.student for s in specs}) == 2 and {s.seed for s in specs} == {0, 1}
    assert all("max_steps" not in s.training and s.training["epochs"] == 40 for s in specs)  # the paper's D protocol
