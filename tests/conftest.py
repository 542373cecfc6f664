"""Shared fixtures: every test gets its own store file and the data directory of the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

POLL_S = 0.05  # how often ``wait_for`` looks again
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_data_dir() -> Path | None:
    """The directory with the real dataset files: $FTCOT_DATA_DIR, else ../shared/data if present."""
    env = os.environ.get("FTCOT_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    return SHARED_DATA if SHARED_DATA.is_dir() else None


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "ftcot.db"
    monkeypatch.setenv("FTCOT_STORE", str(path))
    return path


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs ftcot remembers writing (``ftcot.fileio``) go to the test's own folder."""
    monkeypatch.setenv("FTCOT_STATE_DIR", str(tmp_path / "ftcot-state"))


@pytest.fixture
def one_torch_thread(monkeypatch: pytest.MonkeyPatch):
    """Training tests share two cores with other work: one torch thread each (and for cells)."""
    import torch

    monkeypatch.setenv("FTCOT_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class Ran:
    """What one ftcot command did: its exit status and what it printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The command's JSON output (the last JSON document on stdout)."""
        text = self.out.strip()
        return json.loads(text[text.rindex("\n{") + 1:] if "\n{" in text else text)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """Runs ftcot in this process: ``cli("distill", TASK, "--json") -> Ran(code, out, err)``."""
    from ftcot.cli import main

    def run(*args: Any) -> Ran:
        capsys.readouterr()  # what came before is not this command's
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def ftcot_command(*args: Any) -> list[str]:
    """The argv that runs ftcot as a child process."""
    return [sys.executable, "-m", "ftcot", *(str(a) for a in args)]


def child_env(**env: str | None) -> dict[str, str]:
    """This process's environment, offline, with ``env`` set (a None value removes the variable)."""
    merged = {**os.environ, "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for name, value in env.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def plugin_env(site: Path) -> dict[str, str | None]:
    """``env`` for ``cli_process`` that loads the plugin packages installed under ``site``
    (``ftcot.testing.install_package``) and every other third-party package there is."""
    return {"PYTHONPATH": str(site), "FTCOT_LOAD_PLUGINS": None}


@pytest.fixture
def cli_process() -> Callable[..., Ran]:
    """Runs ``python -m ftcot`` as a child (fresh imports, its own environment):
    ``cli_process("matrix", "plan", path, cwd=..., env={...}, timeout=...) -> Ran``."""

    def run(*args: Any, cwd: Path | None = None, env: dict[str, str | None] | None = None,
            timeout: float = 600) -> Ran:
        done = subprocess.run(ftcot_command(*args), capture_output=True, text=True, cwd=cwd,
                              env=child_env(**(env or {})), timeout=timeout)
        return Ran(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def make_task(tmp_path: Path) -> Callable[..., Any]:
    """Builds a registered task from its spec: ``make_task("coin_flip:flips=2", data_dir=...)``;
    the data directory defaults to the test's own (empty) folder."""
    from ftcot.registry import create_task

    def make(spec: str, data_dir: Path | str | None = tmp_path) -> Any:
        return create_task(spec, data_dir=data_dir)

    return make


@pytest.fixture
def task(request: pytest.FixtureRequest, make_task: Callable[..., Any]) -> Any:
    """The task named by the test module's ``TASK`` constant."""
    return make_task(request.module.TASK)


def wait_for(found: Callable[[], Any], timeout: float, what: str) -> Any:
    """Polls ``found()`` until it returns something truthy (returned); AssertionError naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


@dataclass
class Hold:
    """Holds a training run after epoch ``epoch`` until a test kills it: the run writes its pid
    to ``marker`` and waits (``FTCOT_HOLD_AFTER_EPOCH``, ``FTCOT_HOLD_MARKER``); a run that finds
    the marker already written (the one resuming after the kill) carries on."""

    marker: Path
    epoch: int = 2

    def env(self) -> dict[str, str]:
        """The variables a training process reads."""
        return {"FTCOT_HOLD_AFTER_EPOCH": str(self.epoch), "FTCOT_HOLD_MARKER": str(self.marker)}

    def pid(self, timeout: float = 300) -> int:
        """The pid of the run now held, once it is held."""
        return int(wait_for(lambda: self.marker.is_file() and self.marker.read_text(), timeout,
                            f"a training run to hold after epoch {self.epoch} ({self.marker})"))


@pytest.fixture
def hold(tmp_path: Path) -> Hold:
    """A ``Hold`` with its marker in the test's folder (set its ``env()`` where the run starts)."""
    return Hold(tmp_path / "held.pid")
