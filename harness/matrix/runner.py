"""The driver loop: prepare cells on the driver, execute them on an executor, record results.

The driver is the store's only writer. A cell that fails (while preparing, executing or
recording) is stored with ``status="failed"`` and its error, and the other cells go on;
a cell lost with its worker process is retried up to ``max_retries`` times.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcot.matrix.config import TEACHER_METHODS
from ftcot.matrix.executors import Lost, WorkerError
from ftcot.matrix.plan import PlannedCell
from ftcot.matrix.view import MatrixView
from ftcot.records import CellResult
from ftcot.registry import registry
from ftcot.store import Store

if TYPE_CHECKING:
    from ftcot.matrix.teacher_phase import TeacherPhase
    from ftcot.pipeline.cell import CellSpec

log = logging.getLogger(__name__)
POLL_S = 0.5


def run_order(cells: list[PlannedCell]) -> list[PlannedCell]:
    """Longest cells first (Fine-tune-CoT, higher degrees), so parallel slots finish together."""
    def weight(item: tuple[int, PlannedCell]) -> tuple:
        position, cell = item
        cot = cell.spec.method in TEACHER_METHODS
        return (not cot, -cell.spec.degree if cot else 0, position)

    return [cell for _, cell in sorted(enumerate(cells), key=weight)]


def failure_result(spec: CellSpec, scoring: str, exc: BaseException, stage: str) -> CellResult:
    """A failed cell as stored: its identity, the error in one line and the traceback."""
    from ftcot.pipeline.cell import public_student
    from ftcot.secrets import Redactor

    redact = Redactor()
    kind = exc.kind if isinstance(exc, WorkerError) else type(exc).__name__
    message = redact(f"{stage}: {kind}: {exc}".splitlines()[0][:500])
    return CellResult(
        task=spec.task, teacher=spec.teacher, student=public_student(spec.student), method=spec.method,
        degree=spec.degree, seed=spec.seed, scoring=scoring, status="failed", error=message,
        report_epoch=spec.report_epoch,
        extra={"traceback": redact("".join(traceback.format_exception(exc))[-4000:])},
    )


class Spend:
    """Teacher spend of this run: stored completion costs of the matrix's teacher pairs,
    measured against where they stood when the run began."""

    def __init__(self, store: Store):
        self.store = store
        self._baseline: dict[tuple[str, str], float] = {}

    def _cost(self, task: str, teacher: str) -> float:
        return self.store.completion_cost(task, teacher)

    def before(self, task: str, teacher: str) -> None:
        if (task, teacher) not in self._baseline and getattr(registry().resolve("teacher", teacher)[0], "calls_model", True):
            self._baseline[(task, teacher)] = self._cost(task, teacher)

    def total(self) -> float:
        return sum(self._cost(t, s) - base for (t, s), base in self._baseline.items())


def _task_key(spec: CellSpec, data_dir: Path | None, cache: dict[str, str]) -> str:
    if spec.task not in cache:
        from ftcot.registry import create_task

        try:
            cache[spec.task] = create_task(spec.task, data_dir=data_dir).key
        except Exception as exc:  # the cell's own prepare reports it; its spend is keyed by the spec
            log.debug("cannot build task %s for its key: %s: %s", spec.task, type(exc).__name__, exc)
            cache[spec.task] = spec.task
    return cache[spec.task]


def run_cells(cells: list[PlannedCell], *, store: Store, data_dir: Path | None, scoring: str, executor: Any,
              view: MatrixView, max_retries: int = 1, retry_lost: bool = True,
              phase: TeacherPhase | None = None) -> dict[str, CellResult]:
    """Run every given cell; returns key -> stored result (done or failed). With a teacher
    ``phase``, it is started here and a cell starts as soon as its teacher group is done."""
    from ftcot.pipeline import prepare_cell, record_cell

    pending = deque(run_order(cells))
    in_flight: dict[str, PlannedCell] = {}
    tries: dict[str, int] = {}
    results: dict[str, CellResult] = {}
    spend = Spend(store)
    task_keys: dict[str, str] = {}

    def fail(cell: PlannedCell, exc: BaseException, stage: str) -> None:
        result = failure_result(cell.spec, scoring, exc, stage)
        store.put_cell(cell.key, result)
        results[cell.key] = result
        view.update(cell.key, "failed", result.error or "")

    def finish(key: str, outcome: Any) -> None:
        cell = in_flight.pop(key)
        if isinstance(outcome, Lost) and retry_lost and tries.get(key, 0) < max_retries:
            tries[key] = tries.get(key, 0) + 1
            view.update(key, "retrying", f"retry {tries[key]}/{max_retries}: {outcome}")
            pending.appendleft(cell)
            return
        if isinstance(outcome, BaseException):
            fail(cell, outcome, "execute")
            return
        view.update(key, "recording")
        try:
            result = record_cell(cell.spec, outcome, store, scoring)
        except Exception as exc:
            fail(cell, exc, "record")
            return
        results[key] = result
        accuracy = "" if result.accuracy is None else f"accuracy {result.accuracy:.3f} (n={result.n})"
        view.update(key, "done", accuracy)

    for cell in pending:
        if cell.spec.method in TEACHER_METHODS:
            spend.before(_task_key(cell.spec, data_dir, task_keys), cell.spec.teacher)
    if phase is not None:
        for cell in pending:
            if not phase.ready(cell.spec):
                view.update(cell.key, "teacher")
        phase.start()

    def next_ready() -> PlannedCell | None:
        for cell in pending:
            if phase is None or phase.ready(cell.spec):
                pending.remove(cell)
                return cell
        return None

    try:
        while pending or in_flight:
            while pending and len(in_flight) < executor.capacity:
                ready = next_ready()
                if ready is None:  # every waiting cell waits on its teacher group
                    break
                cell = ready
                view.update(cell.key, "preparing")
                try:
                    inputs = prepare_cell(cell.spec, store, data_dir, scoring, progress=False)
                except Exception as exc:
                    fail(cell, exc, "prepare")
                    continue
                finally:
                    view.spend = spend.total()
                executor.submit(cell.key, inputs, cell.spec)
                in_flight[cell.key] = cell
                view.update(cell.key, "running")
                for key, outcome in executor.wait(timeout=0):  # record what finished meanwhile
                    finish(key, outcome)
            if phase is not None and pending and not in_flight:
                phase.wait(POLL_S)  # nothing running: wake when a teacher group is done
                view.spend = spend.total()
                continue
            for key, outcome in executor.wait(timeout=POLL_S):
                finish(key, outcome)
    finally:
        executor.close()
        if phase is not None:
            phase.close()
    return results
