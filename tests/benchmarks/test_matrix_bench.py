"""Re-running a finished 50-cell matrix: how long ``ftcot matrix run CONFIG`` takes when every
cell is already in the store (goal: under 3 s), against the floor of any ftcot command
(``ftcot plugins --json``: interpreter start, imports, plugin registry) measured in the same run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ftcot.matrix import Matrix, load_config
from ftcot.records import CellResult, Prediction

TASKS = [f"coin_flip:flips={flips},train=350,test=150,seed=0" for flips in (2, 3, 4, 5, 6)]
CONFIG = f"""
tasks = {TASKS!r}
teachers = ["oracle"]
students = ["tiny-llama"]
methods = ["fine-tune", "fine-tune-cot"]
seeds = [0, 1, 2, 3, 4]
store = "ftcot.db"

[training]
max_steps = 300
"""
ROUNDS = 3


def finish_every_cell(config_path: Path) -> int:
    """Store each planned cell as done, with its 150 predictions, as the pipeline records them."""
    matrix = Matrix.open(load_config(config_path))
    cells = matrix.cells()
    for i, cell in enumerate(cells):
        spec = cell.spec
        correct = [(j + i) % 4 != 0 for j in range(150)]
        matrix.store.put_predictions(cell.key, [
            Prediction(task=spec.task, sample_index=j, student=spec.student, method=spec.method,
                       text=f"step by step --> {'yes' if ok else 'no'} END", prediction="yes" if ok else "no",
                       correct=ok)
            for j, ok in enumerate(correct)])
        matrix.store.put_cell(cell.key, CellResult(
            task=spec.task, teacher=spec.teacher, student=spec.student, method=spec.method,
            degree=spec.degree, seed=spec.seed, accuracy=sum(correct) / len(correct), n=len(correct),
            train_samples=350, duration_s=60.0, extra={"spec": spec.to_dict()}))
    matrix.store.close()
    return len(cells)


def ftcot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftcot.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_rerun_of_finished_50_cell_matrix(figure, timer, tmp_path: Path) -> None:
    config = tmp_path / "matrix.toml"
    config.write_text(CONFIG)
    assert finish_every_cell(config) == 50

    outputs: list[subprocess.CompletedProcess] = []
    floor = timer.median(lambda: outputs.append(ftcot("plugins", "--json")), rounds=ROUNDS)
    rerun = timer.bench(lambda: outputs.append(ftcot("matrix", "run", str(config))), rounds=ROUNDS)
    for out in outputs:
        assert out.returncode == 0, out.stderr[-2000:]
    assert "all 50 cells already done" in outputs[-1].stdout

    started = time.perf_counter()  # the same re-run inside one process: the harness's own share
    matrix = Matrix.open(load_config(config))
    assert matrix.run(matrix.cells(), console=None) == {}
    matrix.leaderboard()
    in_process = time.perf_counter() - started
    matrix.store.close()

    info = figure("re-run of a finished 50-cell matrix", rerun, "s", baseline=floor,
                  baseline_label="`ftcot plugins`: start-up floor", goal="value < 3",
                  in_process_s=round(in_process, 3))
    assert info["value"] > floor / 2  # the re-run really started a process and read the store
