"""Training correctness at scale: fp32 master weights from a low-precision checkpoint, gradient
clipping, activation checkpointing, and model keys that new settings leave unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook
from toy_data import reverse_pairs

from ftcot import registry as plugins
from ftcot.contracts.student import StudentModel, TrainConfig

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("one_torch_thread")]

SPEC = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"


def pairs(n: int = 16) -> list[tuple[str, str]]:
    return reverse_pairs(n, seed=3)


def fresh(spec: str = SPEC) -> StudentModel:
    return plugins.create_student(spec).load([s + t for s, t in pairs()], seed=0)


def test_a_bf16_checkpoint_is_fully_fine_tuned_with_fp32_weights(tmp_path: Path):
    tiny = fresh()
    tiny.model.to(torch.bfloat16)
    tiny.save(tmp_path / "bf16")
    assert {p.dtype for p in StudentModel.load_saved(tmp_path / "bf16").model.parameters()} == {torch.bfloat16}

    student = plugins.create_student(f"hf:{tmp_path / 'bf16'}").load([], seed=0)
    assert {p.dtype for p in student.model.parameters()} == {torch.float32}  # loaded in fp32
    student.model.to(torch.bfloat16)  # even a model handed over in bf16 trains fp32 weights
    before = {n: p.detach().float().clone() for n, p in student.model.named_parameters()}
    student.train(pairs(), TrainConfig(lr=1e-3, batch_size=8, epochs=1, max_steps=1), tmp_path / "ck", seed=0,
                  progress=False)
    assert {p.dtype for p in student.model.parameters()} == {torch.float32}
    moved = [n for n, p in student.model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert moved  # one step changed the weights


def _step_norms(spec_config: TrainConfig, tmp_path: Path) -> list[float]:
    """The gradient's global norm as each optimizer step sees it."""
    norms: list[float] = []

    def hook(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    handle = register_optimizer_step_pre_hook(hook)
    try:
        fresh().train(pairs(), spec_config, tmp_path, seed=0, progress=False)
    finally:
        handle.remove()
    return norms


def test_clipping_bounds_the_gradient_norm_of_every_step(tmp_path: Path):
    base = dict(lr=1e-3, batch_size=4, epochs=1)
    free = _step_norms(TrainConfig(**base, max_grad_norm=0), tmp_path / "free")
    clipped = _step_norms(TrainConfig(**base, max_grad_norm=0.05), tmp_path / "clipped")
    assert len(free) == len(clipped) == 4
    assert min(free) > 0.05  # without clipping the norms are larger than the bound
    assert max(clipped) <= 0.05 * (1 + 1e-4)
    assert clipped[0] == pytest.approx(0.05, rel=1e-4)  # the same first gradient, scaled down to the bound


def test_gradient_checkpointing_trains_the_same_model(tmp_path: Path):
    config = TrainConfig(lr=1e-3, batch_size=8, epochs=2)
    plain, checkpointed = fresh(), fresh()
    plain.train(pairs(), config, tmp_path / "a", seed=0, progress=False)
    checkpointed.train(pairs(), TrainConfig(**{**config.to_dict(), "gradient_checkpointing": True}), tmp_path / "b",
                       seed=0, progress=False)
    flag = "is_activation_checkpointing" if hasattr(plain.model, "is_activation_checkpointing") else "is_gradient_checkpointing"
    assert getattr(checkpointed.model, flag) and not getattr(plain.model, flag)
    assert [h["loss"] for h in checkpointed.history] == pytest.approx([h["loss"] for h in plain.history], rel=1e-5)


# The fields ftcot 0.1 hashed into a trained model's key, with their defaults.
KEYED_IN_0_1 = {"lr": 3e-4, "epochs": 20, "batch_size": 8, "max_length": 512, "warmup_steps": 0, "grad_accum": 1,
                "max_steps": None, "lora": None, "weight_decay": 0.01}


def test_new_settings_at_their_defaults_keep_model_keys():
    assert TrainConfig().training_dict() == KEYED_IN_0_1
    assert TrainConfig(gradient_checkpointing=True).training_dict() == KEYED_IN_0_1
    assert TrainConfig(max_grad_norm=1.0).training_dict() == {**KEYED_IN_0_1, "max_grad_norm": 1.0}
    assert TrainConfig(max_grad_norm=0.5).training_dict()["max_grad_norm"] == 0.5


def test_a_bad_clipping_bound_is_a_user_error(tmp_path: Path):
    from ftcot.errors import UserError

    with pytest.raises(UserError, match="max_grad_norm"):
        fresh().train(pairs(), TrainConfig(max_grad_norm=-1.0), tmp_path, seed=0, progress=False)
