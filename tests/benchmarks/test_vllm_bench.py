"""vLLM against Hugging Face ``generate`` for a saved decoder student at batch 256 (GPU only;
skipped without vLLM and a GPU). Goal: at least 5x the prompts per second, the same outputs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ftcot import registry as plugins
from ftcot.contracts.student import StudentModel, TrainConfig
from ftcot.students import vllm_backend

pytestmark = pytest.mark.skipif(vllm_backend.vllm_ready() is not None,
                                reason=f"needs vLLM on a GPU: {vllm_backend.vllm_ready()}")


def test_vllm_vs_hf_generate_batch_256(figure, timer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(0)
    data = []
    for _ in range(512):
        letters = rng.sample("abcdefghij", rng.randint(3, 8))
        data.append((f"reverse {' '.join(letters)} ###", f" {' '.join(reversed(letters))} END"))
    model = plugins.create_student("tiny-llama").load([s + t for s, t in data], seed=0)
    model.train(data, TrainConfig(lr=2e-3, batch_size=32, max_steps=200), tmp_path / "ck", seed=0, progress=False)
    model.save(tmp_path / "m")
    prompts = [s for s, _ in data[:256]]
    outputs: dict[str, list[str]] = {}
    saved = StudentModel.load_saved(tmp_path / "m")

    def hf() -> None:
        monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "hf")
        outputs["hf"] = saved.generate(prompts, max_new_tokens=64, batch_size=256)

    def vllm() -> None:
        monkeypatch.setenv("FTCOT_GENERATION_BACKEND", "vllm")
        outputs["vllm"] = saved.generate(prompts, max_new_tokens=64, batch_size=256)

    vllm()  # the engine starts once
    base = timer.median(hf, rounds=3)
    fast = timer.bench(vllm, rounds=3)
    assert outputs["vllm"] == outputs["hf"]
    info = figure("student generation prompts/s, vLLM vs HF generate (tiny-llama, GPU, batch 256)",
                  len(prompts) / fast, "prompts/s", baseline=len(prompts) / base,
                  baseline_label="Hugging Face generate, same saved model", goal="ratio >= 5")
    assert info["ratio"] >= 5
