"""The training loop: AdamW, optional linear warm-up, gradient accumulation, gradient clipping,
length-grouped batches, a checkpoint per epoch and resume from the last one.

Precision: the optimised weights are fp32 (``master_weights_fp32``) and the forward pass runs
under bf16 (or fp16 with a loss scaler) autocast on GPUs, so AdamW never updates low-precision
weights. Clipping (``max_grad_norm``) bounds the global L2 norm of the gradient of each step.

Kept as plain as a hand-written PyTorch loop (the benchmark compares the two): per step one
collate, one forward, one backward and, every ``grad_accum`` batches, one optimizer step.

Determinism: the initial weights come from the seed (``Student.load``), the batch order of epoch
``e`` from ``(seed, e)``, dropout and LoRA initialisation from torch's generator seeded here and
saved in every checkpoint; so an interrupted and resumed run ends with the same weights as an
uninterrupted one on the same machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ftcot.api import EpochCallback, StudentModel, TrainConfig, UserError, atomic_file, write_json_atomic
from ftcot.students.runtime import autocast, grad_scaler

CHECKPOINT = "last.pt"
CALLBACK_DONE = "on-epoch.json"
GROUP_SPAN = 64  # batches sorted by length within windows of this many batches


class Trainable(Protocol):
    """What the loop needs from a student model."""

    device: torch.device

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], max_length: int) -> list[Any]: ...

    def example_length(self, example: Any) -> int: ...

    def target_length(self, example: Any) -> int: ...

    def collate(self, examples: Sequence[Any]) -> dict[str, torch.Tensor]: ...

    def trainable_module(self, config: TrainConfig, seed: int) -> torch.nn.Module: ...


@dataclass
class TrainState:
    """Where training stands: counted in finished epochs and optimizer steps."""

    epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort by length within windows of ``GROUP_SPAN`` batches, cut into batches, and
    shuffle the batches: little padding, still a random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * GROUP_SPAN
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        window = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches.extend(window[k : k + batch_size] for k in range(0, len(window), batch_size))
    rng.shuffle(batches)
    return batches


def steps_per_epoch(n_examples: int, config: TrainConfig) -> int:
    return math.ceil(math.ceil(n_examples / config.batch_size) / config.grad_accum)


def run_fingerprint(pairs: list[tuple[str, str]], config: TrainConfig, seed: int, key: str) -> str:
    """Identifies a training run, so a checkpoint from another run is never resumed."""
    digest = hashlib.sha256()
    digest.update(json.dumps([key, seed, config.training_dict()], sort_keys=True).encode())
    for source, target in pairs:
        digest.update(json.dumps([source, target]).encode())
    return digest.hexdigest()


def train(
    student: StudentModel,
    pairs: list[tuple[str, str]],
    config: TrainConfig,
    checkpoint_dir: Path,
    seed: int,
    on_epoch: EpochCallback | None = None,
    progress: bool = True,
    parallel: Any = None,
) -> TrainState:
    """Train ``student`` in place; see the module docstring. With ``config.data_parallel`` > 1
    the epochs run in that many processes (``ftcot.students.parallel``) and this process then
    reads their last checkpoint; ``parallel`` is that module's handle inside those processes."""
    if not pairs:
        raise UserError("no training pairs: the filters dropped every sample; loosen --filters or add data")
    for name in ("epochs", "batch_size", "max_length", "grad_accum", "max_new_tokens", "eval_batch_size"):
        if getattr(config, name) < 1:
            raise UserError(f"training setting {name} must be >= 1, got {getattr(config, name)}")
    if config.max_steps is not None and config.max_steps < 1:
        raise UserError(f"training setting max_steps must be >= 1, got {config.max_steps}")
    if config.max_grad_norm is not None and not config.max_grad_norm >= 0:
        raise UserError(f"training setting max_grad_norm must be >= 0 (0: no clipping), got {config.max_grad_norm}")
    if config.data_parallel < 1:
        raise UserError(f"training setting data_parallel must be >= 1, got {config.data_parallel}")
    if config.data_parallel > 1 and parallel is None:
        from ftcot.students import parallel as data_parallel

        data_parallel.run(student, pairs, config, checkpoint_dir, seed)  # then resume from its last checkpoint
    model_obj: Trainable = student  # type: ignore[assignment]
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = run_fingerprint(pairs, config, seed, getattr(student, "key", ""))

    examples = model_obj.encode_pairs(pairs, config.max_length)
    lengths = [model_obj.example_length(e) for e in examples]
    per_epoch = steps_per_epoch(len(examples), config)
    total_steps = config.max_steps if config.max_steps is not None else per_epoch * config.epochs
    n_epochs = math.ceil(total_steps / per_epoch)

    torch.manual_seed(seed)
    module = model_obj.trainable_module(config, seed)
    params = [p for p in module.parameters() if p.requires_grad]
    master_weights_fp32(params)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = None
    if config.warmup_steps > 0:
        warm = config.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warm))

    scaler = grad_scaler(model_obj.device)
    state = _load_checkpoint(checkpoint_dir, fingerprint, module, optimizer, scheduler, scaler) or TrainState()
    student.history = state.history  # type: ignore[attr-defined]  # grows as epochs finish
    if state.epoch > 0:
        if on_epoch is not None and _callback_done(checkpoint_dir) < state.epoch:
            on_epoch(state.epoch, student)
            _mark_callback_done(checkpoint_dir, state.epoch)

    rank, world, main = (parallel.rank, parallel.world, parallel.is_main) if parallel is not None else (0, 1, True)
    forward = parallel.wrap(module) if parallel is not None else module
    targets = [model_obj.target_length(e) for e in examples]
    device = model_obj.device
    module.train()
    bar = _Progress(total_steps, state.step, enabled=progress)
    try:
        for epoch in range(state.epoch, n_epochs):
            if state.step >= total_steps:
                break
            batches = length_grouped_batches(lengths, config.batch_size, random.Random(f"{seed}/{epoch}"))
            loss_sum = torch.zeros((), device=device)
            seen = 0
            for i, indices in enumerate(batches):
                mine, weight = shard(indices, targets, rank, world)
                batch = {k: v.to(device) for k, v in model_obj.collate([examples[j] for j in mine]).items()}
                with autocast(device):
                    loss = forward(**batch).loss
                # each process's mean loss, weighted by its share of the batch's target tokens: the
                # average over processes is then the whole batch's mean loss, as in one process
                scaled = loss * weight if weight != 1.0 else loss
                scaler.scale(scaled / config.grad_accum if config.grad_accum > 1 else scaled).backward()
                loss_sum += (parallel.mean(scaled.detach()) if parallel is not None else loss.detach()).float()
                seen += 1
                if (i + 1) % config.grad_accum == 0 or i + 1 == len(batches):
                    if config.max_grad_norm:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                    scaler.step(optimizer)
                    scaler.update()
                    if scheduler is not None:
                        scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    state.step += 1
                    bar.advance(epoch + 1, n_epochs)
                    if state.step >= total_steps:
                        break
            state.epoch = epoch + 1
            state.history.append({"epoch": state.epoch, "step": state.step, "loss": float(loss_sum) / max(seen, 1)})
            if main:
                _save_checkpoint(checkpoint_dir, fingerprint, state, module, optimizer, scheduler, scaler)
            if parallel is not None:
                parallel.barrier()
                continue
            if on_epoch is not None:
                module.eval()
                on_epoch(state.epoch, student)
                module.train()
            _mark_callback_done(checkpoint_dir, state.epoch)
    finally:
        bar.close()
        module.eval()
    return state


def shard(indices: list[int], targets: Sequence[int], rank: int, world: int) -> tuple[list[int], float]:
    """This process's part of a batch (every ``world``-th example from ``rank``) and the weight of
    its mean loss: ``world`` × its share of the batch's target tokens. A process left without
    examples takes the batch's first with weight 0 (every process must run backward)."""
    if world == 1:
        return indices, 1.0
    mine = indices[rank::world]
    if not mine:
        return indices[:1], 0.0
    return mine, world * sum(targets[i] for i in mine) / max(1, sum(targets[i] for i in indices))


def master_weights_fp32(params: list[torch.nn.Parameter]) -> None:
    """Cast trainable low-precision weights (a bf16 or fp16 checkpoint) to fp32 in place: the
    optimizer then keeps fp32 weights and moments, and autocast runs the forward in low precision."""
    for p in params:
        if p.is_floating_point() and p.dtype != torch.float32:
            p.data = p.data.float()


def _save_checkpoint(directory: Path, fingerprint: str, state: TrainState, module: torch.nn.Module,
                     optimizer: torch.optim.Optimizer, scheduler: Any, scaler: torch.amp.GradScaler) -> None:
    """Write the checkpoint next to the old one, then swap it in (a kill never leaves half a file)."""
    payload = {
        "fingerprint": fingerprint,
        "epoch": state.epoch,
        "step": state.step,
        "history": state.history,
        "model": _changing_state(module),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "saved_at": time.time(),
    }
    with atomic_file(directory / CHECKPOINT, "wb") as fh:
        torch.save(payload, fh)


def _has_frozen(module: torch.nn.Module) -> bool:
    return any(not p.requires_grad for p in module.parameters())


def _changing_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights training changes: all of them, or only the trainable ones (LoRA adapters)
    when the rest is frozen, which keeps a LoRA checkpoint small."""
    state = module.state_dict()
    if not _has_frozen(module):
        return state
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    return {k: v for k, v in state.items() if k in trainable}


def _load_checkpoint(directory: Path, fingerprint: str, module: torch.nn.Module,
                     optimizer: torch.optim.Optimizer, scheduler: Any,
                     scaler: torch.amp.GradScaler) -> TrainState | None:
    path = directory / CHECKPOINT
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a damaged file: start over rather than fail
        print(f"warning: ignoring unreadable checkpoint {path} ({type(exc).__name__}); training from scratch",
              file=sys.stderr)
        return None
    if payload.get("fingerprint") != fingerprint:
        print(f"warning: checkpoint {path} belongs to another training run; training from scratch",
              file=sys.stderr)
        return None
    module.load_state_dict(payload["model"], strict=not _has_frozen(module))
    optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None and payload.get("scheduler") is not None:
        scheduler.load_state_dict(payload["scheduler"])
    if scaler.is_enabled() and payload.get("scaler") is not None:
        scaler.load_state_dict(payload["scaler"])
    torch.set_rng_state(payload["torch_rng"])
    if payload.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    return TrainState(epoch=payload["epoch"], step=payload["step"], history=list(payload.get("history", [])))


def _callback_done(directory: Path) -> int:
    try:
        return int(json.loads((directory / CALLBACK_DONE).read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _mark_callback_done(directory: Path, epoch: int) -> None:
    write_json_atomic(directory / CALLBACK_DONE, {"epoch": epoch})


class _Progress:
    """A rich progress bar on stderr, updated at most a few times a second."""

    def __init__(self, total: int, done: int, enabled: bool):
        self._bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("training {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("", total=total, completed=done)
        self._last = 0.0
        self._done = done

    def advance(self, epoch: int, epochs: int) -> None:
        if self._bar is None:
            return
        self._done += 1
        now = time.monotonic()
        if now - self._last > 0.2:
            self._bar.update(self._task, completed=self._done, description=f"epoch {epoch}/{epochs}")
            self._last = now

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
