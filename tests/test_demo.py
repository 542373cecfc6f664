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
DEMO_TASK = "coin_flip:flips=4,train=300,test=150,seed=0"


def test_demo_config_is_shipped_in_the_package() -> None:
    assert (REPO / "examples" / "demo.toml").read_text() == demo_config_text()
    config = parse_config(demo_config_text(), Path("demo.toml"))
    specs = expand(config)
    assert len(specs) == 12 and config.parallel == 2 and config.threads_per_cell == 1
    assert {s.task for s in specs} == {DEMO_TASK}
    assert {(s.method, s.degree) for s in specs} == {("fine-tune", 1), ("fine-tune-cot", 1), ("fine-tune-cot", 8)}
    assert {s.teacher for s in specs if s.method == "fine-tune-cot"} == {"oracle:error=0.3"}
    assert len({s.student for s in specs}) == 2 and {s.seed for s in specs} == {0, 1}
    # the paper's protocol for D: the same epochs for every D, so D = 8 trains eight times the steps
    assert all(s.training["epochs"] == 25 and "max_steps" not in s.training for s in specs)


def _demo_leaderboard(output: Path) -> list[dict]:
    """``ftcot demo --json`` into ``output``; cells already in its store are reused."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "ftcot.cli", "demo", "--output", str(output), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, cwd=output.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.slow
def test_the_demo_shows_the_papers_claims(tmp_path: Path) -> None:
    """The promise of the demo, read from its leaderboard JSON. CI runs ``ftcot demo`` on a fresh
    store first and points ``FTCOT_DEMO_OUTPUT`` at it, so the matrix is trained once."""
    output = Path(os.environ.get("FTCOT_DEMO_OUTPUT") or tmp_path / "demo")
    items = _demo_leaderboard(output)
    cells = [i for i in items if i["method"] != "teacher"]

    def accuracy(student: str, method: str, degree: int) -> float:
        [item] = [i for i in cells if (i["student"], i["method"], i["degree"]) == (student, method, degree)]
        assert item["task"] == DEMO_TASK and item["n"] == 150 and sorted(item["seeds"]) == [0, 1]
        return 100 * item["accuracy"]

    students = sorted({i["student"] for i in cells})
    assert len(students) == 2
    # 1. Fine-tune-CoT beats vanilla fine-tuning by 30 points or more
    assert max(accuracy(s, "fine-tune-cot", d) - accuracy(s, "fine-tune", 1) for s in students for d in (1, 8)) >= 30
    # 2. D > 1 beats D = 1 by 5 points somewhere, and is nowhere more than 5 points worse
    gains = [accuracy(s, "fine-tune-cot", 8) - accuracy(s, "fine-tune-cot", 1) for s in students]
    assert max(gains) >= 5 and min(gains) >= -5
    assert all(i["d_protocol"] == "epochs" for i in cells if i["method"] == "fine-tune-cot")
    # 3. the best student beats its teacher by 5 points or more
    [teacher] = [i for i in items if i["method"] == "teacher"]
    assert teacher["teacher"] == "oracle:error=0.3" and teacher["accuracy"] < 0.9
    assert max(100 * i["accuracy"] for i in cells) - 100 * teacher["accuracy"] >= 5
    claims = json.loads((output / "claims.json").read_text())
    assert [c["shown"] for c in claims][:3] == [True, True, True]


def test_the_miniature_paper_config_covers_the_claims_grid() -> None:
    config = parse_config((REPO / "examples" / "miniature-paper.toml").read_text(), Path("miniature-paper.toml"))
    specs = expand(config)
    assert {s.teacher for s in specs if s.method == "fine-tune-cot"} == {"oracle:error=0.3"}
    assert {s.degree for s in specs if s.method == "fine-tune-cot"} == {1, 4}
    assert len({s.student for s in specs}) == 2 and {s.seed for s in specs} == {0, 1}
    assert all("max_steps" not in s.training and s.training["epochs"] == 40 for s in specs)  # the paper's D protocol


def test_a_demo_folder_from_an_earlier_run_is_reused_and_an_edited_or_foreign_config_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftcot.fileio import write_output

    monkeypatch.setenv("FTCOT_STATE_DIR", str(tmp_path / "state"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    earlier, edited, foreign = tmp_path / "earlier", tmp_path / "edited", tmp_path / "foreign"
    for folder in (earlier, edited, foreign):
        folder.mkdir()
    write_output(earlier / "demo.toml", "# The offline demo: `ftcot demo` runs this matrix (an earlier one)\n", "demo")
    mine = {edited: demo_config_text().replace("seeds = ", "# my change\nseeds = "), foreign: "# my own matrix\n"}
    for folder, text in mine.items():
        (folder / "demo.toml").write_text(text)
    for folder in (earlier, edited, foreign):  # seed 7 selects no cell: the command stops after writing its config
        command = [sys.executable, "-m", "ftcot.cli", "demo", "--output", str(folder), "--only", "seed=7"]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
        assert result.returncode == 1
        if folder in mine:
            assert (folder / "demo.toml").read_text() == mine[folder]
            assert "refusing to replace" in result.stderr and "Traceback" not in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1 and not (folder / "ftcot.db").exists()
    assert (earlier / "demo.toml").read_text() == demo_config_text()
