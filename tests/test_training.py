"""The training loop: resume after a kill, checkpoints, length grouping, warm-up, step budgets."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from toy_data import reverse_pairs

from ftcot import registry as plugins
from ftcot.contracts.student import StudentModel, TrainConfig
from ftcot.errors import UserError
from ftcot.students.training import CHECKPOINT, length_grouped_batches, steps_per_epoch

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

SPEC = "tiny-llama:layers=1,dim=64,heads=2,vocab=300"
CONFIG = TrainConfig(lr=1e-3, batch_size=8, epochs=4)


def pairs() -> list[tuple[str, str]]:
    return reverse_pairs(40, seed=11, longest=6)


def fresh(seed: int = 0) -> StudentModel:
    data = pairs()
    return plugins.create_student(SPEC).load([s + t for s, t in data], seed=seed)


def same_weights(a: StudentModel, b: StudentModel) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from test_training import CONFIG, fresh, pairs

    model = fresh()

    def on_epoch(epoch, student):
        print("epoch", epoch, flush=True)
        if epoch == 2:  # die in the middle of epoch 3, a few batches in
            calls = []
            def hook(module, args, kwargs):
                calls.append(1)
                if len(calls) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
            student.model.register_forward_pre_hook(hook, with_kwargs=True)

    model.train(pairs(), CONFIG, {checkpoints!r}, seed=0, on_epoch=on_epoch, progress=False)
    print("finished", flush=True)
    """
)


def test_training_resumes_after_sigkill_and_ends_like_an_uninterrupted_run(tmp_path: Path):
    checkpoints = tmp_path / "killed"
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN.format(tests=str(Path(__file__).parent), checkpoints=str(checkpoints)))
    env = {**os.environ, "FTCOT_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    assert "epoch 2" in done.stdout and "epoch 3" not in done.stdout and "finished" not in done.stdout
    assert torch.load(checkpoints / CHECKPOINT, weights_only=False)["epoch"] == 2

    resumed_epochs: list[int] = []
    resumed = fresh()
    resumed.train(pairs(), CONFIG, checkpoints, seed=0, on_epoch=lambda e, _: resumed_epochs.append(e),
                  progress=False)
    assert resumed_epochs == [3, 4]

    straight = fresh()
    straight.train(pairs(), CONFIG, tmp_path / "straight", seed=0, progress=False)
    assert same_weights(resumed, straight)
    assert resumed.history == straight.history
    assert [h["epoch"] for h in straight.history] == [1, 2, 3, 4]


def test_a_crash_inside_the_epoch_callback_replays_it_on_resume(tmp_path: Path):
    seen: list[int] = []

    def crash_at_two(epoch: int, _: StudentModel) -> None:
        seen.append(epoch)
        if epoch == 2:
            raise RuntimeError("evaluation died")

    with pytest.raises(RuntimeError):
        fresh().train(pairs(), CONFIG, tmp_path, seed=0, on_epoch=crash_at_two, progress=False)
    again: list[int] = []
    fresh().train(pairs(), CONFIG, tmp_path, seed=0, on_epoch=lambda e, _: again.append(e), progress=False)
    assert seen == [1, 2] and again == [2, 3, 4]


def test_a_finished_run_is_not_trained_again(tmp_path: Path):
    first = fresh()
    first.train(pairs(), CONFIG, tmp_path, seed=0, progress=False)
    calls: list[int] = []
    second = fresh()
    second.train(pairs(), CONFIG, tmp_path, seed=0, on_epoch=lambda e, _: calls.append(e), progress=False)
    assert calls == [] and same_weights(first, second)


def test_a_checkpoint_of_another_run_is_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    fresh().train(pairs(), TrainConfig(lr=1e-3, batch_size=8, epochs=1), tmp_path, seed=0, progress=False)
    calls: list[int] = []
    other = fresh()
    other.train(pairs(), TrainConfig(lr=2e-3, batch_size=8, epochs=1), tmp_path, seed=0,
                on_epoch=lambda e, _: calls.append(e), progress=False)
    assert calls == [1]
    assert "another training run" in capsys.readouterr().err
    reference = fresh()
    reference.train(pairs(), TrainConfig(lr=2e-3, batch_size=8, epochs=1), tmp_path / "ref", seed=0,
                    progress=False)
    assert same_weights(other, reference)


def test_decoding_settings_do_not_invalidate_a_checkpoint(tmp_path: Path):
    fresh().train(pairs(), CONFIG, tmp_path, seed=0, progress=False)
    calls: list[int] = []
    again = TrainConfig(**{**CONFIG.to_dict(), "max_new_tokens": 7, "eval_batch_size": 3})
    fresh().train(pairs(), again, tmp_path, seed=0, on_epoch=lambda e, _: calls.append(e), progress=False)
    assert calls == []


def test_max_steps_replaces_epochs_and_counts_optimizer_steps(tmp_path: Path):
    model = fresh()
    per_epoch = steps_per_epoch(len(pairs()), CONFIG)  # 40 examples / 8 = 5
    config = TrainConfig(lr=1e-3, batch_size=8, epochs=1, max_steps=12)
    model.train(pairs(), config, tmp_path / "a", seed=0, progress=False)
    assert [h["step"] for h in model.history] == [5, 10, 12] and per_epoch == 5
    accum = fresh()
    accum.train(pairs(), TrainConfig(lr=1e-3, batch_size=4, epochs=2, grad_accum=2), tmp_path / "b", seed=0,
                progress=False)
    assert [h["step"] for h in accum.history] == [5, 10]


def test_warmup_ramps_the_learning_rate(tmp_path: Path):
    """With warm-up over the whole (one-step) run the first step is 1/N of a full step."""
    full, ramped = fresh(), fresh()
    start = {k: v.clone() for k, v in full.model.state_dict().items()}
    full.train(pairs()[:8], TrainConfig(lr=1e-2, batch_size=8, epochs=1), tmp_path / "a", seed=0, progress=False)
    ramped.train(pairs()[:8], TrainConfig(lr=1e-2, batch_size=8, epochs=1, warmup_steps=10), tmp_path / "b",
                 seed=0, progress=False)
    key = "model.layers.0.self_attn.q_proj.weight"
    big = (full.model.state_dict()[key] - start[key]).abs().mean().item()
    small = (ramped.model.state_dict()[key] - start[key]).abs().mean().item()
    assert small == pytest.approx(big / 10, rel=0.05)


def test_loss_covers_target_tokens_only(tmp_path: Path):
    model = fresh()
    (prompt, answer) = model.encode_pair("reverse a b ###", " b a END", 512)
    batch = model.collate([(prompt, answer), model.encode_pair("reverse c ###", " c END", 512)])
    labels = batch["labels"][0].tolist()
    assert labels[: len(prompt)] == [-100] * len(prompt)
    assert labels[len(prompt) : len(prompt) + len(answer)] == answer
    assert answer[-1] == model.tokenizer.eos_token_id
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()
    assert batch["labels"][1][batch["attention_mask"][1] == 0].eq(-100).all()


def test_inputs_lose_their_beginning_and_targets_their_end(tmp_path: Path):
    model = fresh()
    prompt, answer = model.encode_pair("x " * 100 + "reverse a b ###", " b a" * 100 + " END", 16)
    assert len(prompt) == 16 and len(answer) == 16
    assert model.tokenizer.decode(prompt).endswith("###")
    assert answer[-1] == model.tokenizer.eos_token_id


def test_length_grouped_batches_cover_everything_once_with_little_padding():
    rng = random.Random(0)
    lengths = [rng.randint(5, 200) for _ in range(1000)]
    batches = length_grouped_batches(lengths, 16, random.Random(1))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    shuffled = list(range(1000))
    random.Random(1).shuffle(shuffled)
    naive = sum(16 * max(lengths[i] for i in shuffled[k : k + 16]) for k in range(0, 1000, 16))
    assert padded < 0.7 * naive
    assert batches == length_grouped_batches(lengths, 16, random.Random(1))
    assert batches != length_grouped_batches(lengths, 16, random.Random(2))


def test_empty_training_data_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="no training pairs"):
        fresh().train([], CONFIG, tmp_path, seed=0, progress=False)
    with pytest.raises(UserError, match="batch_size"):
        fresh().train(pairs(), TrainConfig(batch_size=0), tmp_path, seed=0, progress=False)


def test_train_config_round_trips():
    config = TrainConfig(lr=1e-4, lora="r=8,alpha=16", max_steps=100)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert "max_new_tokens" not in config.training_dict()
    assert TrainConfig() == TrainConfig(lr=3e-4, epochs=20, batch_size=8, max_length=512, max_new_tokens=1024)


def test_a_lora_run_resumes_from_a_checkpoint_of_its_adapters_only(tmp_path: Path):
    config = TrainConfig(lr=1e-2, batch_size=8, epochs=2, lora="r=2,alpha=4")
    first = fresh()
    first.train(pairs(), TrainConfig(**{**config.to_dict(), "epochs": 1}), tmp_path / "x", seed=0, progress=False)
    saved = torch.load(tmp_path / "x" / CHECKPOINT, weights_only=False)["model"]
    assert saved and all("lora_" in k for k in saved)

    def stop_after_one(epoch: int, _: StudentModel) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fresh().train(pairs(), config, tmp_path / "a", seed=0, on_epoch=stop_after_one, progress=False)
    resumed = fresh()
    resumed.train(pairs(), config, tmp_path / "a", seed=0, progress=False)
    straight = fresh()
    straight.train(pairs(), config, tmp_path / "b", seed=0, progress=False)
    assert same_weights(resumed, straight)
