"""The Ray executor on a local CPU-only Ray (``ray.init(num_cpus=2)``): cells run as Ray tasks,
the driver alone writes the store, and a worker killed mid-cell costs only that cell, which
Ray runs again. Skipped where Ray is not installed (``pip install 'ftcot[ray]'``)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from conftest import Hold  # noqa: E402

from ftcot.cli import main  # noqa: E402
from ftcot.store import Store  # noqa: E402

TINY = "tiny-llama:layers=1,dim=32,heads=2,ffn=64,vocab=300"


def config(tmp_path: Path, steps: int, methods: str) -> Path:
    path = tmp_path / "ray.toml"
    path.write_text(f"""\
tasks = ["coin_flip:flips=2,train=16,test=6,seed=0"]
teachers = ["oracle"]
methods = {methods}
store = "store/ftcot.db"
max_retries = 2

[students."{TINY}"]
num_cpus = 1

[training]
max_steps = {steps}
batch_size = 4
max_new_tokens = 24
""")
    return path


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """A local Ray whose workers hold a training run after epoch 2 once (``Hold``); yields the
    ``Hold``. Its workers take their environment from here, at start."""
    hold = Hold(tmp_path_factory.mktemp("hold") / "held.pid")
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    os.environ.setdefault("RAY_worker_niceness", "0")  # as the executor does for a Ray it starts
    before = {name: os.environ.get(name) for name in hold.env()}
    os.environ.update(hold.env())
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield hold
    ray.shutdown()
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def last_json(text: str) -> dict:
    """The JSON summary on stdout (Ray's raylet may print a line about a dead worker first)."""
    return json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)


def cell_processes() -> dict[int, str]:
    """Ray workers now executing a matrix cell (Ray titles them ``ray::cell-<key>``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::cell-"):
            found[int(entry.name)] = title
    return found


def test_cells_run_as_ray_tasks_and_the_driver_records_them(local_ray, tmp_path: Path, capsys) -> None:
    path = config(tmp_path, steps=2, methods='["fine-tune", "fine-tune-cot", "zero-shot"]')
    assert main(["matrix", "run", str(path), "--executor", "ray", "--json"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert (summary["cells"], summary["ran"], summary["done"]) == (3, 3, 3)
    cells = Store(tmp_path / "store" / "ftcot.db").cells()
    assert sorted(c.method for c in cells) == ["fine-tune", "fine-tune-cot", "zero-shot"]
    assert all(c.status == "done" and c.n == 6 for c in cells)
    # nothing left to do: a second run submits no Ray task
    assert main(["matrix", "run", str(path), "--executor", "ray", "--json"]) == 0
    assert last_json(capsys.readouterr().out)["ran"] == 0


def test_a_worker_killed_mid_cell_costs_only_that_cell(local_ray, tmp_path: Path, capsys) -> None:
    path = config(tmp_path, steps=16, methods='["fine-tune-cot"]')  # 4 epochs; held after the 2nd
    outcome: dict[str, int] = {}
    runner = threading.Thread(target=lambda: outcome.setdefault(
        "rc", main(["matrix", "run", str(path), "--executor", "ray", "--json"])))
    runner.start()
    killed = local_ray.pid()
    assert killed in cell_processes()  # a Ray worker in the cell, held mid-training
    os.kill(killed, signal.SIGKILL)
    runner.join(timeout=300)
    assert outcome.get("rc") == 0
    summary = last_json(capsys.readouterr().out)
    assert (summary["cells"], summary["done"], summary["failed"]) == (1, 1, 0)  # ran again elsewhere
    [cell] = Store(tmp_path / "store" / "ftcot.db").cells()
    assert cell.status == "done" and cell.n == 6


def test_address_without_ray_executor_is_a_usage_error(tmp_path: Path, capsys) -> None:
    path = config(tmp_path, steps=2, methods='["zero-shot"]')
    assert main(["matrix", "run", str(path), "--address", "127.0.0.1:1"]) == 1
    assert "--executor ray" in capsys.readouterr().err
