"""Where cells execute. The driver prepares each cell (teacher, filters, formatting: everything
that reads or writes the store) and records its result; an executor only runs
``execute_cell(inputs, models_dir)`` somewhere else and hands back the outputs. The store
thus has one writer, the driver, whichever executor runs the cells.

An executor has ``capacity`` (cells worth preparing ahead), ``submit(key, inputs, spec)`` and
``wait(timeout)``, which returns finished cells as ``(key, outputs)`` or ``(key, Lost|Exception)``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftcot.pipeline.cell import CellInputs, CellSpec

log = logging.getLogger(__name__)
THREAD_VARIABLES = ("FTCOT_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class Lost(Exception):
    """The process running a cell died before returning; the cell may be retried."""


def limit_threads(threads: int | None) -> None:
    """Cap the math libraries' threads in this process (before torch starts its pools)."""
    if not threads:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


QUIET_VARIABLES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "TQDM_DISABLE": "1"}


def start_worker(threads: int | None, log_dir: str | None = None) -> None:
    """A local worker's set-up: thread caps, no progress bars, output to its own log file
    (so the driver's live view stays readable)."""
    limit_threads(threads)
    os.environ.update(QUIET_VARIABLES)
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        log = open(Path(log_dir) / f"worker-{os.getpid()}.log", "a", buffering=1)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)


class WorkerError(Exception):
    """An error raised in a worker that cannot cross back to the driver as itself (a provider's
    exception class that does not unpickle): its class name and message, secrets removed."""

    def __init__(self, kind: str, message: str):
        super().__init__(kind, message)
        self.kind, self.message = kind, message

    def __str__(self) -> str:
        return self.message


def execute_in_worker(inputs: Any, models_dir: str, threads: int | None) -> Any:
    """What a worker runs for one cell; its error reaches the driver as itself when it can."""
    limit_threads(threads)
    os.environ.update(QUIET_VARIABLES)
    from ftcot.pipeline import execute_cell

    try:
        return execute_cell(inputs, Path(models_dir), progress=False)
    except Exception as exc:
        raise portable(exc) from None


def portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling (the way back to the driver), else a ``WorkerError``
    with its class name and message: the cell records the real cause, not a dead worker."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception as reason:  # any exception may fail to pickle or to unpickle
        from ftcot.secrets import Redactor, describe

        log.debug("%s does not survive pickling (%s): sent as a WorkerError", type(exc).__name__, describe(reason, Redactor()))
        return WorkerError(type(exc).__name__, Redactor()(" ".join(str(exc).split())))
    return exc


class LocalExecutor:
    """``parallel`` cells at a time, each in its own worker process (spawned, so a worker
    starts clean of the driver's threads); a worker that dies costs only the cells it was
    running, which the runner retries."""

    name = "local"

    def __init__(self, models_dir: Path, parallel: int = 1, threads_per_cell: int | None = None,
                 log_dir: Path | None = None):
        self.models_dir = str(models_dir)
        self.log_dir = str(log_dir) if log_dir else None
        self.capacity = max(1, parallel)
        self.threads = threads_per_cell
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future, str] = {}

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.capacity, mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker, initargs=(self.threads, self.log_dir),
            )
        return self._pool

    def submit(self, key: str, inputs: CellInputs, spec: CellSpec | None = None) -> None:
        future = self._ensure_pool().submit(execute_in_worker, inputs, self.models_dir, self.threads)
        self._futures[future] = key

    def wait(self, timeout: float | None = None) -> list[tuple[str, Any]]:
        if not self._futures:
            return []
        done, _ = wait_futures(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        finished: list[tuple[str, Any]] = []
        broken = False
        for future in done:
            key = self._futures.pop(future)
            exc = future.exception()
            if isinstance(exc, BrokenProcessPool):
                broken = True
                finished.append((key, Lost(f"worker process died: {exc}")))
            elif exc is not None:
                finished.append((key, exc))
            else:
                finished.append((key, future.result()))
        if broken:
            # the pool is unusable: every cell still in it is lost too; start a fresh pool
            for key in list(self._futures.values()):
                finished.append((key, Lost("worker pool broke while this cell ran")))
            self._futures.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        return finished

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def make_executor(kind: str, models_dir: Path, parallel: int, threads_per_cell: int | None,
                  address: str | None = None, resources=None, max_retries: int = 1):
    """``local`` or ``ray``."""
    if kind == "ray":
        from ftcot.matrix.ray_executor import RayExecutor

        return RayExecutor(models_dir, address=address, resources=resources,
                           threads_per_cell=threads_per_cell, max_retries=max_retries)
    return LocalExecutor(models_dir, parallel=parallel, threads_per_cell=threads_per_cell,
                         log_dir=Path(models_dir).parent / "logs")
