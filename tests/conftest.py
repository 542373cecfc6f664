"""Shared fixtures: every test gets its own store file and the data directory of the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

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
