"""The driver loop: prepare cells on the driver, execute them on an executor, record results.

The driver is the store's only writer. A cell that fails (while preparing, executing or
recording) is stored with ``status="failed"`` and its error, and the other cells go on;
a cell lost with its worker process is retried up to ``max_retries`` times.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from dataclasses import dataclass, field
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
    driver = _Driver(store, data_dir, scoring, executor, view, max_retries, retry_lost, phase,
                     deque(run_order(cells)))
    driver.begin()
    try:
        driver.loop()
    finally:
        executor.close()
        if phase is not None:
            phase.close()
    return driver.results


@dataclass
class _Driver:
    """One ``run_cells``: the cells waiting, in flight, retried and finished."""

    store: Store
    data_dir: Path | None
    scoring: str
    executor: Any
    view: MatrixView
    max_retries: int
    retry_lost: bool
    phase: TeacherPhase | None
    pending: deque[PlannedCell]
    in_flight: dict[str, PlannedCell] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    results: dict[str, CellResult] = field(default_factory=dict)
    task_keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spend = Spend(self.store)

    def fail(self, cell: PlannedCell, exc: BaseException, stage: str) -> None:
        result = failure_result(cell.spec, self.scoring, exc, stage)
        self.store.put_cell(cell.key, result)
        self.results[cell.key] = result
        self.view.update(cell.key, "failed", result.error or "")

    def finish(self, key: str, outcome: Any) -> None:
        """Record a cell the executor handed back (a lost one is retried up to ``max_retries``)."""
        from ftcot.pipeline import record_cell

        cell = self.in_flight.pop(key)
        tries = self.tries
        if isinstance(outcome, Lost) and self.retry_lost and tries.get(key, 0) < self.max_retries:
            tries[key] = tries.get(key, 0) + 1
            self.view.update(key, "retrying", f"retry {tries[key]}/{self.max_retries}: {outcome}")
            self.pending.appendleft(cell)
            return
        if isinstance(outcome, BaseException):
            self.fail(cell, outcome, "execute")
            return
        self.view.update(key, "recording")
        try:
            result = record_cell(cell.spec, outcome, self.store, self.scoring)
        except Exception as exc:
            self.fail(cell, exc, "record")
            return
        self.results[key] = result
        accuracy = "" if result.accuracy is None else f"accuracy {result.accuracy:.3f} (n={result.n})"
        self.view.update(key, "done", accuracy)

    def begin(self) -> None:
        """Note where the teachers' spend stands, and start the teacher phase."""
        for cell in self.pending:
            if cell.spec.method in TEACHER_METHODS:
                self.spend.before(_task_key(cell.spec, self.data_dir, self.task_keys), cell.spec.teacher)
        if self.phase is not None:
            for cell in self.pending:
                if not self.phase.ready(cell.spec):
                    self.view.update(cell.key, "teacher")
            self.phase.start()

    def next_ready(self) -> PlannedCell | None:
        for cell in self.pending:
            if self.phase is None or self.phase.ready(cell.spec):
                self.pending.remove(cell)
                return cell
        return None

    def start(self, cell: PlannedCell) -> None:
        """Prepare ``cell`` here and hand it to the executor."""
        from ftcot.pipeline import prepare_cell

        self.view.update(cell.key, "preparing")
        try:
            inputs = prepare_cell(cell.spec, self.store, self.data_dir, self.scoring, progress=False)
        except Exception as exc:
            self.fail(cell, exc, "prepare")
            return
        finally:
            self.view.spend = self.spend.total()
        self.executor.submit(cell.key, inputs, cell.spec)
        self.in_flight[cell.key] = cell
        self.view.update(cell.key, "running")
        for key, outcome in self.executor.wait(timeout=0):  # record what finished meanwhile
            self.finish(key, outcome)

    def loop(self) -> None:
        while self.pending or self.in_flight:
            while self.pending and len(self.in_flight) < self.executor.capacity:
                ready = self.next_ready()
                if ready is None:  # every waiting cell waits on its teacher group
                    break
                self.start(ready)
            if self.phase is not None and self.pending and not self.in_flight:
                self.phase.wait(POLL_S)  # nothing running: wake when a teacher group is done
                self.view.spend = self.spend.total()
                continue
            for key, outcome in self.executor.wait(timeout=POLL_S):
                self.finish(key, outcome)
