"""Where a student runs: device choice, mixed-precision autocast on GPUs, torch thread count."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from ftcot.api import UserError

# The BPE trainer's thread pool and forked workers (Ray, multiprocessing) do not mix.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pick_device(requested: str | None = None) -> torch.device:
    """``requested``, else ``$FTCOT_DEVICE``, else the first GPU when there is one, else the CPU."""
    name = requested or os.environ.get("FTCOT_DEVICE") or ""
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for but no CUDA GPU is visible: use --device cpu")
    return device


def set_threads(threads: int | None = None) -> None:
    """Torch intra-op threads: ``threads``, else ``$FTCOT_THREADS``, else leave torch's default.

    Two training processes on two cores run best with one thread each."""
    value = threads if threads is not None else os.environ.get("FTCOT_THREADS")
    if value in (None, ""):
        return
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        where = "" if threads is not None else " ($FTCOT_THREADS)"
        raise UserError(f"threads{where} must be an integer >= 1, got {value!r}")
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast precision on ``device``: bf16 on GPUs that have it, else fp16; None on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast to ``autocast_dtype(device)`` (weights stay as they are), nothing on the CPU."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    """A loss scaler, enabled only under fp16 autocast (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type, enabled=autocast_dtype(device) == torch.float16)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Evaluation mode without gradients, restoring the previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)
