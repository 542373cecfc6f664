"""Data-parallel training through accelerate, on the CPU: two processes on gloo, each taking half
of every batch, against one process taking the whole (doubled) batch.

Tolerance: each process weights its loss by its share of the batch's target tokens, so the two
runs compute the same gradients up to floating-point summation order; the per-epoch losses must
agree to a relative 1e-4 and the final weights to an absolute 1e-4."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from toy_data import reverse_pairs

from ftcot import registry as plugins
from ftcot.contracts.student import StudentModel, TrainConfig

pytestmark = [pytest.mark.timeout(300)]

SPEC = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"


def pairs() -> list[tuple[str, str]]:
    return reverse_pairs(24, seed=5, longest=7)  # targets of different lengths


def fresh() -> StudentModel:
    return plugins.create_student(SPEC).load([s + t for s, t in pairs()], seed=0)


def test_two_gloo_processes_follow_the_one_process_loss_curve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FTCOT_DEVICE", "cpu")
    base = dict(lr=3e-3, batch_size=8, epochs=3, max_grad_norm=1.0)
    single, double = fresh(), fresh()
    single.train(pairs(), TrainConfig(**base), tmp_path / "one", seed=0, progress=False)
    epochs: list[int] = []
    double.train(pairs(), TrainConfig(**base, data_parallel=2), tmp_path / "two", seed=0, progress=False,
                 on_epoch=lambda e, _: epochs.append(e))
    assert epochs == [3]  # the callback runs once, after the processes finish
    assert [h["step"] for h in double.history] == [h["step"] for h in single.history] == [3, 6, 9]
    losses_one = [h["loss"] for h in single.history]
    losses_two = [h["loss"] for h in double.history]
    assert losses_one[-1] < losses_one[0]  # it learns
    assert losses_two == pytest.approx(losses_one, rel=1e-4)
    a, b = single.model.state_dict(), double.model.state_dict()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4
    assert not (tmp_path / "two" / "dp-start").exists()


def test_data_parallel_is_not_part_of_a_models_key():
    assert TrainConfig(data_parallel=4).training_dict() == TrainConfig().training_dict()


def test_data_parallel_needs_as_many_gpus(tmp_path: Path):
    if torch.cuda.device_count() >= 64:
        pytest.skip("this machine has 64 GPUs")
    from ftcot.errors import UserError

    model = fresh()
    model.device = torch.device("cuda")  # as a GPU student would be
    with pytest.raises(UserError, match="data_parallel = 64 needs 64 GPUs"):
        model.train(pairs(), TrainConfig(data_parallel=64), tmp_path, seed=0, progress=False)


MATRIX = """\
tasks = ["coin_flip:flips=2,train=12,test=4,seed=0"]
methods = ["fine-tune"]
{extra}
[students."tiny-gpt2"]
num_gpus = {gpus}

[students."tiny-llama"]
"""


def test_a_student_asking_for_two_gpus_trains_in_two_processes_with_the_same_cell_key(tmp_path: Path):
    from ftcot.matrix.config import load_config
    from ftcot.matrix.plan import expand
    from ftcot.pipeline import cell_key

    path = tmp_path / "m.toml"
    path.write_text(MATRIX.format(gpus=2, extra=""))
    specs = {s.student: s for s in expand(load_config(path))}
    assert specs["tiny-gpt2"].training == {"data_parallel": 2} and specs["tiny-llama"].training == {}
    import dataclasses

    one_gpu = dataclasses.replace(specs["tiny-gpt2"], training={})
    assert cell_key(specs["tiny-gpt2"], "paper") == cell_key(one_gpu, "paper")


@pytest.mark.parametrize(("gpus", "extra", "message"), [
    (1.5, "", "num_gpus above 1 must be a whole number"),
    (2, 'report_epoch = "best-on-test"', "reports the last epoch only"),
])
def test_unsupported_gpu_requests_are_refused_in_one_line(tmp_path: Path, gpus: float, extra: str, message: str):
    from ftcot.errors import UserError
    from ftcot.matrix.config import load_config

    path = tmp_path / "m.toml"
    path.write_text(MATRIX.format(gpus=gpus, extra=extra))
    with pytest.raises(UserError, match=message):
        load_config(path)
