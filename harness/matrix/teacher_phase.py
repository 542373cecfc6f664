"""The teacher phase of a matrix: every distinct (task, teacher, D) group of the cells to run asks
its teacher before the cells that need it, all groups at once, each on its own thread; their
requests all go out from the process's one event loop (``ftcot.event_loop``).

Groups whose teacher reaches the same provider share one concurrency budget (the largest
``concurrency`` among them), so four groups against one API keep as many requests in flight as
one would, not four times as many. A cell is ready as soon as its own group is done; its
``prepare_cell`` then finds every completion in the store.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcot.matrix.config import TEACHER_METHODS
from ftcot.matrix.plan import PlannedCell, teacher_groups

if TYPE_CHECKING:
    from ftcot.contracts.teacher import Teacher
    from ftcot.pipeline.cell import CellSpec
    from ftcot.store import Store

log = logging.getLogger(__name__)
GroupKey = tuple[str, str, str, float, str]  # task, teacher, split, temperature, options (JSON)


def group_key(spec: CellSpec) -> GroupKey:
    return (spec.task, spec.teacher, spec.split, spec.temperature,
            json.dumps(spec.teacher_options, sort_keys=True, default=str))


@dataclass
class TeacherGroup:
    """The completions one teacher writes for one task's training questions, up to ``degree``."""

    key: GroupKey
    degree: int

    @property
    def options(self) -> dict[str, Any]:
        return {k: v for k, v in json.loads(self.key[4]).items() if k != "temperature"}


def phase_groups(cells: list[PlannedCell]) -> list[TeacherGroup]:
    """The teacher groups of these cells (training questions; the largest D each needs)."""
    return [TeacherGroup((task, teacher, split, temperature, options), degree)
            for (task, teacher, split, part, temperature, options), degree in teacher_groups(cells, False).items()
            if part == "train"]


class TeacherPhase:
    """Runs the groups concurrently; ``ready(spec)`` says whether a cell's group is done,
    ``wait(timeout)`` blocks until another group finishes."""

    def __init__(self, groups: list[TeacherGroup], store: Store, data_dir: Path | None, scoring: str):
        self.groups = groups
        self.store, self.data_dir, self.scoring = store, data_dir, scoring
        self.errors: dict[GroupKey, BaseException] = {}
        self._done: set[GroupKey] = set()
        self._changed = threading.Condition()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future] = []

    def start(self) -> TeacherPhase:
        if not self.groups:
            return self
        teachers = [self._teacher(g) for g in self.groups]
        share_budgets(teachers)
        self._pool = ThreadPoolExecutor(len(self.groups), thread_name_prefix="ftcot-teacher")
        self._futures = [self._pool.submit(self._run, g, t) for g, t in zip(self.groups, teachers)]
        return self

    def _teacher(self, group: TeacherGroup) -> Teacher | str:
        from ftcot.pipeline.teach import create_teacher

        try:
            return create_teacher(group.key[1], group.options)
        except Exception as exc:  # a bad spec: the cell's own prepare reports it
            from ftcot.secrets import Redactor, describe

            log.debug("cannot build teacher %s ahead of its cells: %s", group.key[1], describe(exc, Redactor()))
            return group.key[1]

    def _run(self, group: TeacherGroup, teacher: Teacher | str) -> None:
        from ftcot.pipeline.teach import teach
        from ftcot.registry import create_task

        task_spec, _, split, temperature, _ = group.key
        try:
            task = create_task(task_spec, data_dir=self.data_dir)
            teach(self.store, task, teacher, task.train_examples(split), degree=group.degree,
                  temperature=temperature, scoring=self.scoring, options=group.options, progress=False)
        except BaseException as exc:  # the cells of this group report it when they prepare
            self.errors[group.key] = exc
        finally:
            with self._changed:
                self._done.add(group.key)
                self._changed.notify_all()

    def ready(self, spec: CellSpec) -> bool:
        if spec.method not in TEACHER_METHODS:
            return True
        key = group_key(spec)
        with self._changed:
            return key in self._done or all(g.key != key for g in self.groups)

    def wait(self, timeout: float) -> None:
        """Until a group finishes (or ``timeout`` seconds)."""
        with self._changed:
            before = len(self._done)
            if before < len(self.groups):
                self._changed.wait_for(lambda: len(self._done) > before, timeout)

    @property
    def finished(self) -> bool:
        with self._changed:
            return len(self._done) == len(self.groups)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def share_budgets(teachers: list[Teacher | str]) -> None:
    """Give teachers that reach the same place (provider and address) one concurrency budget:
    the largest ``concurrency`` among them."""
    from ftcot.limits import Slots

    places: dict[str, list[Any]] = {}
    for teacher in teachers:
        place = getattr(teacher, "place", None)
        if callable(place) and hasattr(teacher, "slots"):
            places.setdefault(place(), []).append(teacher)
    for members in places.values():
        budget = Slots(max(int(getattr(t, "concurrency", 1)) for t in members))
        for teacher in members:
            teacher.slots = budget
