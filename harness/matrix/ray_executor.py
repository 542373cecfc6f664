"""Cells as Ray tasks: each asks for the CPUs and GPUs its student needs (config:
``[students."SPEC"] num_cpus / num_gpus``), ``--address`` joins an existing cluster.

Workers receive a cell's prepared inputs from the driver and return its outputs; they never
open the store. Ray re-runs a task whose worker died (``max_retries``), so a lost worker
costs only the cell it was running; an exception raised by the cell itself is not retried
(``retry_exceptions=False``): it is recorded as the cell's error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcot.errors import UserError
from ftcot.matrix.executors import Lost, execute_in_worker

if TYPE_CHECKING:
    from ftcot.pipeline.cell import CellInputs, CellSpec

WORKER_NICENESS = "RAY_worker_niceness"


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("the ray executor needs Ray: pip install 'ftcot[ray]'") from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, models_dir: Path, address: str | None = None,
                 resources: Callable[[Any], dict[str, float]] | None = None,
                 threads_per_cell: int | None = None, max_retries: int = 1):
        self.ray = import_ray()
        if not self.ray.is_initialized():
            if address is None:
                # a Ray started here runs its workers at normal priority (Ray's default niceness
                # of 15 starves the cells whenever anything else runs on the machine)
                os.environ.setdefault(WORKER_NICENESS, "0")
            try:
                self.ray.init(address=address, log_to_driver=False, include_dashboard=False,
                              configure_logging=False)
            except ConnectionError as exc:
                raise UserError(f"cannot reach the Ray cluster at {address}: {exc}; check --address") from None
        self.models_dir = str(models_dir)
        self.resources = resources or (lambda spec: {"num_cpus": 1.0, "num_gpus": 0.0})
        self.threads = threads_per_cell
        self.max_retries = max_retries
        self._remote = self.ray.remote(execute_in_worker)
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        # prepare a little ahead of what the cluster can run at once
        self.capacity = max(2, cpus * 2)
        self._refs: dict[Any, str] = {}

    def submit(self, key: str, inputs: CellInputs, spec: CellSpec | None = None) -> None:
        wants = self.resources(spec)
        threads = self.threads or max(1, int(wants.get("num_cpus", 1)))
        ref = self._remote.options(
            num_cpus=wants.get("num_cpus", 1), num_gpus=wants.get("num_gpus", 0),
            max_retries=self.max_retries, retry_exceptions=False, name=f"cell-{key[:12]}",
        ).remote(inputs, self.models_dir, threads)
        self._refs[ref] = key

    def wait(self, timeout: float | None = None) -> list[tuple[str, Any]]:
        if not self._refs:
            return []
        ready, _ = self.ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        finished = []
        for ref in ready:
            key = self._refs.pop(ref)
            try:
                finished.append((key, self.ray.get(ref)))
            except self.ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
                finished.append((key, cause))
            except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError,
                    self.ray.exceptions.OwnerDiedError) as exc:
                finished.append((key, Lost(f"worker lost after {self.max_retries} retries: {exc}")))
            except self.ray.exceptions.RayError as exc:
                finished.append((key, Lost(f"{type(exc).__name__}: {exc}")))
        return finished

    def close(self) -> None:
        for ref in list(self._refs):
            self.ray.cancel(ref, force=True)
        self._refs.clear()
