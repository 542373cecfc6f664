"""The vLLM generation backend for decoder students: its choice (CPU-testable) and, on a GPU with
vLLM, the same predictions as greedy Hugging Face ``generate`` (skipped elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from toy_data import reverse_pairs

from ftcot import registry as plugins
from ftcot.contracts.student import StudentModel, TrainConfig
from ftcot.errors import UserError
from ftcot.students import vllm_backend

SPEC = "tiny-llama:layers=1,dim=64,heads=2,vocab=300"


def pairs(n: int = 32) -> list[tuple[str, str]]:
    return reverse_pairs(n, seed=7)


def fresh() -> StudentModel:
    return plugins.create_student(SPEC).load([s + t for s, t in pairs()], seed=0)


def test_the_backend_setting_is_checked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "fast")
    with pytest.raises(UserError, match="use one of auto, hf, vllm"):
        vllm_backend.requested_backend()
    monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "hf")
    assert not vllm_backend.use_vllm(False, Path("/m"), torch.device("cuda"))


@pytest.mark.skipif(vllm_backend.vllm_ready() is None, reason="vLLM and a GPU are here: nothing to refuse")
def test_forcing_vllm_where_it_cannot_run_is_one_error_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("FTCOT_GENERATION_BACKEND", raising=False)
    assert not vllm_backend.use_vllm(False, tmp_path, torch.device("cpu"))  # auto falls back to HF
    monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "vllm")
    model = fresh()
    model.save(tmp_path / "m")
    with pytest.raises(UserError) as info:
        model.generate(["reverse a b ###"], max_new_tokens=4, batch_size=1)
    assert str(info.value).startswith("FTCOT_GENERATION_BACKEND=vllm, but ") and "\n" not in str(info.value)


def test_vllm_only_loads_a_folder_that_holds_the_current_weights(tmp_path: Path):
    model = fresh()
    assert model.saved_path is None
    model.save(tmp_path / "a")
    assert model.saved_path == (tmp_path / "a").resolve()
    model.train(pairs(), TrainConfig(lr=1e-3, batch_size=16, epochs=1), tmp_path / "ck", seed=0, progress=False)
    assert model.saved_path is None  # trained since: the folder is stale
    model.save(tmp_path / "b")
    assert StudentModel.load_saved(tmp_path / "b").saved_path == (tmp_path / "b").resolve()


@pytest.mark.gpu
@pytest.mark.skipif(vllm_backend.vllm_ready() is not None, reason=f"vLLM generation needs: {vllm_backend.vllm_ready()}")
def test_vllm_gives_the_same_predictions_as_greedy_hf_generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = pairs(200)
    model = plugins.create_student(SPEC).load([s + t for s, t in data], seed=0)
    model.train(data, TrainConfig(lr=2e-3, batch_size=32, max_steps=120), tmp_path / "ck", seed=0, progress=False)
    model.save(tmp_path / "m")
    prompts = [s for s, _ in data[:64]]
    monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "hf")
    hf = model.generate(prompts, max_new_tokens=24, batch_size=32)
    monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "vllm")
    fast = StudentModel.load_saved(tmp_path / "m").generate(prompts, max_new_tokens=24, batch_size=32)
    assert fast == hf
    assert sum(bool(o.strip()) and "END" not in o for o in fast) > 32  # real, cut outputs
