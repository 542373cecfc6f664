"""Running a matrix for real (tiny students, a few steps): parallel workers, failures recorded
while the other cells go on, and a finished matrix re-run without opening a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import Hold

from ftcot.store import Store

TINY = "tiny-llama:layers=1,dim=32,heads=2,ffn=64,vocab=300"
BROKEN = "hf:empty-model"  # a folder with no model in it: passes the checks up front, fails when the cell runs
CONFIG = f"""\
teachers = ["oracle"]
students = ["{TINY}", "{BROKEN}"]
methods = ["fine-tune", "fine-tune-cot"]
store = "store/ftcot.db"
parallel = 2
threads_per_cell = 1

[tasks."coin_flip:flips=2,train=16,test=6,seed=0"]
[tasks."tracking_shuffled_objects:objects=3,swaps=1,train=16,test=6"]
training = {{ max_steps = 3 }}

[training]
max_steps = 2
batch_size = 4
max_new_tokens = 24
"""

PROBE = textwrap.dedent("""
    import json, sys, time
    from ftcot.cli import main
    started = time.monotonic()
    rc = main(sys.argv[1:])
    heavy = sorted(m for m in ("torch", "transformers", "litellm", "ray") if m in sys.modules)
    print(json.dumps({"rc": rc, "heavy": heavy, "seconds": time.monotonic() - started}), file=sys.stderr)
""")


def ftcot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def probe(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_matrix_runs_records_failures_and_resumes_without_work(tmp_path: Path, cli_process) -> None:
    config = tmp_path / "m.toml"
    config.write_text(CONFIG)
    (tmp_path / "empty-model").mkdir()
    first = ftcot("matrix", "run", str(config), "--json", cwd=tmp_path)
    assert probe(first)["rc"] == 1, first.stderr  # some cells failed
    summary = json.loads(first.stdout)
    assert summary["cells"] == 8 and summary["ran"] == 8
    assert (summary["done"], summary["failed"]) == (4, 4)
    by_student = {}
    for result in summary["results"]:
        by_student.setdefault(result["student"], []).append(result)
    assert all(r["status"] == "done" and r["n"] == 6 and 0 <= r["accuracy"] <= 1 for r in by_student[TINY])
    assert all(r["status"] == "failed" and "empty-model" in r["error"] for r in by_student[BROKEN])

    # the driver was the only writer: every cell, with its error where it failed, is in the store
    store = Store(tmp_path / "store" / "ftcot.db")
    cells = store.cells()
    assert len(cells) == 8
    assert {c.status for c in cells if c.student == BROKEN} == {"failed"}
    assert all(c.extra.get("traceback") for c in cells if c.status == "failed")
    assert len({c.model_path for c in cells if c.status == "done" and c.model_path}) == 4
    assert (tmp_path / "store" / "logs").is_dir()  # worker output went to log files

    # the finished part again: no work, no model library imported, quick
    again = ftcot("matrix", "run", str(config), "--only", f"student={TINY}", "--json", cwd=tmp_path)
    info = probe(again)
    assert info["rc"] == 0, again.stderr
    assert info["heavy"] == [] and info["seconds"] < 20
    assert json.loads(again.stdout)["ran"] == 0

    # the failed cells are tried again on the next run (and fail again)
    retry = ftcot("matrix", "run", str(config), "--only", f"student={BROKEN}", "--json", cwd=tmp_path)
    assert probe(retry)["rc"] == 1
    assert json.loads(retry.stdout)["ran"] == 4

    counts = cli_process("matrix", "plan", config, "--json", cwd=tmp_path, timeout=300).json()
    assert (counts["done"], counts["failed"], counts["todo"]) == (4, 4, 0)


def spawned_workers() -> list[int]:
    """This process's spawned worker processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_local_worker_killed_mid_cell_costs_only_that_cell(tmp_path: Path, hold: Hold, monkeypatch) -> None:
    import io
    import signal
    import threading

    from rich.console import Console

    from ftcot.matrix import Matrix, load_config

    path = tmp_path / "one.toml"
    path.write_text(f"""\
tasks = ["coin_flip:flips=2,train=16,test=6,seed=0"]
students = ["{TINY}"]
methods = ["fine-tune"]
store = "store/ftcot.db"
max_retries = 1
[training]
max_steps = 16
batch_size = 4
max_new_tokens = 24
""")
    for name, value in hold.env().items():  # the worker holds after epoch 2 of 4, once
        monkeypatch.setenv(name, value)
    matrix = Matrix.open(load_config(path))
    output: dict = {}
    runner = threading.Thread(target=lambda: output.setdefault(
        "results", matrix.run(matrix.cells(), Console(file=io.StringIO()))))
    runner.start()
    killed = hold.pid()
    assert killed in spawned_workers()
    os.kill(killed, signal.SIGKILL)
    runner.join(timeout=600)
    [result] = output["results"].values()
    assert result.status == "done" and result.n == 6
    [stored] = Store(tmp_path / "store" / "ftcot.db").cells()
    assert stored.status == "done"
