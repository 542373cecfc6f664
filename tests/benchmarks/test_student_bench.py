"""Student engine figures: training throughput against a plain PyTorch loop over the same model and
batches, batched generation against one prompt at a time, and peak memory of training a tiny
student. One torch thread throughout, so the figures hold on a shared 2-core machine."""

from __future__ import annotations

import copy
import itertools
import random
import statistics
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ftcot import registry as plugins
from ftcot.contracts.student import StudentModel, TrainConfig
from ftcot.students.training import length_grouped_batches

SPEC = "tiny-llama"  # the default: 2 layers, width 128, 4 heads
NAMES = ["Alice", "Bob", "Claire", "Dave", "Eve"]


def rationale_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """Fine-tune-CoT-shaped pairs of varied length: a few swaps, traced step by step."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        holders = {name: f"ball {i}" for i, name in enumerate(NAMES)}
        swaps = [tuple(rng.sample(NAMES, 2)) for _ in range(rng.randint(1, 5))]
        question = "Five people hold balls. " + " ".join(f"{a} swaps with {b}." for a, b in swaps)
        question += " What does Alice hold?"
        steps = []
        for a, b in swaps:
            holders[a], holders[b] = holders[b], holders[a]
            steps.append(f"{a} and {b} swap, so {a} has {holders[a]}.")
        pairs.append((f"{question} ###", f" {' '.join(steps)} --> {holders['Alice'][-1]} END"))
    return pairs


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_training_tokens_per_second_vs_plain_loop(figure, timer, tmp_path: Path) -> None:
    """The harness's whole ``train`` call (tokenizing, length grouping, collating, the epoch's
    checkpoints) against a bare loop over pre-built tensors of the same batches. Rounds alternate
    between the two, so load from other work on the machine hits both alike."""
    pairs = rationale_pairs(256, seed=0)
    config = TrainConfig(lr=1e-3, batch_size=32, epochs=2)
    proto = plugins.create_student(SPEC).load([s + t for s, t in pairs], seed=0)
    initial = copy.deepcopy(proto.model.state_dict())
    examples = proto.encode_pairs(pairs, config.max_length)
    lengths = [proto.example_length(e) for e in examples]
    batches = [
        proto.collate([examples[i] for i in b])
        for epoch in range(config.epochs)
        for b in length_grouped_batches(lengths, config.batch_size, random.Random(f"0/{epoch}"))
    ]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    runs = itertools.count()
    state: dict[str, Any] = {}

    def fresh() -> None:
        proto.model.load_state_dict(initial)
        state["dir"] = tmp_path / f"run-{next(runs)}"

    def plain_loop() -> None:
        model = proto.model
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        for batch in batches:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    def harness_train() -> None:
        proto.train(pairs, config, state["dir"], seed=0, progress=False)

    for run in (plain_loop, harness_train):  # warm-up: first-call allocations of both paths
        fresh()
        run()
    plain_times, ours_times = [], []
    for _ in range(4):
        plain_times.append(timer.median(plain_loop, rounds=1, setup=fresh))
        ours_times.append(timer.median(harness_train, rounds=1, setup=fresh))
    ours_times.append(timer.bench(harness_train, rounds=1, setup=fresh))
    plain_times.append(timer.median(plain_loop, rounds=1, setup=fresh))
    assert proto.history and proto.history[-1]["step"] == len(batches)  # the timed path trained
    base, ours = statistics.median(plain_times), statistics.median(ours_times)
    info = figure("student training tokens/s (tiny-llama, batch 32)", tokens / ours, "tokens/s",
                  baseline=tokens / base, baseline_label="plain PyTorch loop, same model and batches",
                  goal="ratio >= 0.9", steps=len(batches), tokens=tokens)
    assert info["ratio"] > 0.5


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> StudentModel:
    torch.set_num_threads(1)
    pairs = rationale_pairs(600, seed=1)
    model = plugins.create_student(SPEC).load([s + t for s, t in pairs], seed=0)
    model.train(pairs, TrainConfig(lr=2e-3, batch_size=32, max_steps=150), tmp_path_factory.mktemp("ck"),
                seed=0, progress=False)
    return model


def test_batched_generation_vs_one_at_a_time(figure, timer, trained: StudentModel) -> None:
    prompts = [s for s, _ in rationale_pairs(64, seed=2)]
    outputs: dict[str, list[str]] = {}

    def one_at_a_time() -> None:
        outputs["single"] = [trained.generate([p], max_new_tokens=96, batch_size=1)[0] for p in prompts]

    def batched() -> None:
        outputs["batched"] = trained.generate(prompts, max_new_tokens=96, batch_size=32)

    single = timer.median(one_at_a_time, rounds=1)
    batch = timer.bench(batched, rounds=3)
    assert outputs["batched"] == outputs["single"]
    assert sum("-->" in o for o in outputs["batched"]) > len(prompts) // 2  # real rationales, not noise
    info = figure("student generation prompts/s, batch 32 vs 1 (tiny-llama, CPU)", len(prompts) / batch,
                  "prompts/s", baseline=len(prompts) / single, baseline_label="one prompt at a time",
                  goal="ratio >= 4", prompts=len(prompts))
    assert info["ratio"] > 1.5


class DecodeTailsStop(StoppingCriteria):
    """The stop check ftcot 0.1 used, the baseline: decode every row's last tokens at every step."""

    def __init__(self, tokenizer: Any, stop: str, start: int):
        self.tokenizer, self.stop, self.start, self.window = tokenizer, stop, start, len(stop) + 2

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        begin = max(self.start, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[:, begin:], skip_special_tokens=True)
        return torch.tensor([self.stop in t for t in tails], dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


def test_stop_check_vs_decoding_tails(figure, timer, trained: StudentModel) -> None:
    """Generation with today's stop check (a row's tail is decoded only when its newest token can
    complete the marker) against the same model decoding every row's tail at every step; both
    must give the same outputs."""
    prompts = [s for s, _ in rationale_pairs(128, seed=3)]
    tails = copy.copy(trained)

    def tail_kwargs(stop: str | None, start: int) -> dict[str, Any]:
        return {"stopping_criteria": StoppingCriteriaList([DecodeTailsStop(trained.tokenizer, stop, start)])} if stop else {}

    tails._stop_kwargs = tail_kwargs  # type: ignore[method-assign]
    outputs: dict[str, list[str]] = {}

    def with_stop_check() -> None:
        outputs["new"] = trained.generate(prompts, max_new_tokens=160, batch_size=32)

    def decoding_tails() -> None:
        outputs["old"] = tails.generate(prompts, max_new_tokens=160, batch_size=32)

    with_stop_check(), decoding_tails()  # warm-up (the stop check builds its token table once)
    old_times, new_times = [], []
    for _ in range(2):
        old_times.append(timer.median(decoding_tails, rounds=1))
        new_times.append(timer.median(with_stop_check, rounds=1))
    new_times.append(timer.bench(with_stop_check, rounds=1))
    old_times.append(timer.median(decoding_tails, rounds=1))
    assert outputs["new"] == outputs["old"]
    assert sum("-->" in o for o in outputs["new"]) > len(prompts) // 2  # the model stops on its own
    old, new = statistics.median(old_times), statistics.median(new_times)
    info = figure("student generation prompts/s, gated stop check vs decoding tails (tiny-llama, CPU, batch 32)",
                  len(prompts) / new, "prompts/s", baseline=len(prompts) / old,
                  baseline_label="decode each row's tail at every step (ftcot 0.1)", goal="ratio >= 1",
                  prompts=len(prompts))
    assert info["ratio"] >= 0.9


def _memory_kib() -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in KiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to reset peak RSS")
def test_training_peak_memory(figure, timer, tmp_path: Path) -> None:
    """Peak resident memory while training the default tiny student (2 epochs, batch 32), against
    the process's memory just before training (the peak is reset there)."""
    pairs = rationale_pairs(256, seed=0)
    model = plugins.create_student(SPEC).load([s + t for s, t in pairs], seed=0)
    config = TrainConfig(lr=1e-3, batch_size=32, epochs=2)
    marks: dict[str, int] = {}

    def reset_peak() -> None:
        Path("/proc/self/clear_refs").write_text("5")
        marks["before"] = _memory_kib()["VmRSS"]

    def train() -> None:
        model.train(pairs, config, tmp_path / f"ck-{len(marks)}", seed=0, progress=False)
        marks["peak"] = _memory_kib()["VmHWM"]

    timer.bench(train, rounds=1, setup=reset_peak)
    peak_mib, before_mib = marks["peak"] / 1024, marks["before"] / 1024
    figure("peak memory training tiny-llama (process RSS)", peak_mib, "MiB", baseline=before_mib,
           baseline_label="same process just before training", training_extra_mib=peak_mib - before_mib,
           parameters=model.parameter_count)
    assert model.history[-1]["epoch"] == 2
    assert peak_mib >= before_mib
