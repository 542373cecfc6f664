"""Data-parallel training through accelerate: ``data_parallel = N`` trains in N processes, one per
GPU (``cuda:0`` ... ``cuda:N-1``), or on a machine without GPUs in N CPU processes on gloo.

The global batch stays ``batch_size`` (each process takes every N-th example of each batch and
weights its loss by its share of the batch's target tokens), so the weights and loss curve match
one process's up to floating-point rounding, and a model trained on one GPU or several is the same
model (``data_parallel`` is not part of a model's key). The first process writes the per-epoch
checkpoints; the calling process then resumes from the last one, which loads the trained weights.
The starting weights travel to the workers as a saved model (``dp-start/`` in the checkpoint
folder). Per-epoch callbacks run once, after the last epoch, so ``best-on-*`` report modes are
refused with data parallelism.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

import torch
from torch.multiprocessing.spawn import ProcessException

from ftcot.api import StudentModel, TrainConfig, UserError

START_DIR = "dp-start"


class Parallel:
    """What the training loop needs inside one of the N processes."""

    def __init__(self, accelerator: Any):
        self.accelerator = accelerator
        self.rank = accelerator.process_index
        self.world = accelerator.num_processes
        self.is_main = accelerator.is_main_process

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module wrapped for gradient averaging across processes (DistributedDataParallel)."""
        return self.accelerator.prepare_model(module)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        return self.accelerator.reduce(value, reduction="mean")

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(student: StudentModel, pairs: list[tuple[str, str]], config: TrainConfig, checkpoint_dir: Path,
        seed: int) -> None:
    """Train in ``config.data_parallel`` processes until the checkpoint in ``checkpoint_dir`` holds
    the last epoch."""
    world = config.data_parallel
    device = getattr(student, "device", torch.device("cpu"))
    if device.type == "cuda" and torch.cuda.device_count() < world:
        raise UserError(f"data_parallel = {world} needs {world} GPUs; {torch.cuda.device_count()} visible")
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise UserError("data_parallel > 1 needs accelerate: pip install accelerate") from None
    start = Path(checkpoint_dir) / START_DIR
    if start.exists():
        shutil.rmtree(start)
    student.save(start)
    try:
        torch.multiprocessing.start_processes(
            _worker, args=(world, _free_port(), str(start), pairs, config.to_dict(), str(checkpoint_dir), seed,
                           device.type == "cuda", torch.get_num_threads()),
            nprocs=world, start_method="spawn",
        )
    except ProcessException as exc:
        last = str(exc).strip().splitlines()[-1]
        raise UserError(f"data-parallel training failed in a worker: {last}") from None
    finally:
        shutil.rmtree(start, ignore_errors=True)


def _worker(rank: int, world: int, port: int, start: str, pairs: list[tuple[str, str]], config: dict[str, Any],
            checkpoint_dir: str, seed: int, cuda: bool, threads: int) -> None:
    """One process: join the group through accelerate, load the starting weights, train."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(max(1, threads // world) if cuda else 1)
    from accelerate import Accelerator

    from ftcot.students import training

    accelerator = Accelerator(cpu=not cuda)
    student = StudentModel.load_saved(Path(start), device=str(accelerator.device))
    settings = TrainConfig.from_dict(config)
    student.max_length = settings.max_length  # type: ignore[attr-defined]
    training.train(student, pairs, settings, Path(checkpoint_dir), seed, progress=False,
                   parallel=Parallel(accelerator))
    accelerator.end_training()
