"""Matrices: a TOML config expands to cells (task × teacher × student × method × D × seed),
each run once through the per-cell pipeline and stored; re-running does only what is missing.

- ``config``: loading and validating the TOML file;
- ``plan``: expanding the grid, store status, teacher estimates;
- ``runner``: the driver loop (prepare, execute, record), with ``executors`` (local worker
  processes) and ``ray_executor`` (Ray tasks);
- ``view``: the live terminal view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from ftcot.errors import UserError
from ftcot.matrix.config import MatrixConfig, load_config
from ftcot.matrix.plan import PlannedCell, PlanSummary, estimate_teachers, plan_cells
from ftcot.store import Store

__all__ = ["MatrixConfig", "Matrix", "load_config"]


@dataclass
class Matrix:
    """A config with the store, data directory and scoring rule set it runs against.

    The config's own ``data_dir`` and ``scoring`` win over the command line's defaults, so a
    config file alone says where its results live; its ``store`` too, unless ``--store`` names
    another (``ftcot.commands.matrix.open_matrix``).
    """

    config: MatrixConfig
    store: Store
    data_dir: Path | None
    scoring: str

    @classmethod
    def open(cls, config: MatrixConfig, store: Store | None = None, data_dir: Path | None = None,
             scoring: str = "paper", store_path: Path | None = None) -> Matrix:
        if store is None:
            path = store_path or config.store
            if path is None:
                raise UserError("the matrix names no store: give --store PATH or a `store` key in the config")
            store = Store(path)
        return cls(config, store, config.data_dir or data_dir, config.scoring or scoring)

    def cells(self, only: dict[str, set[str]] | None = None) -> list[PlannedCell]:
        return plan_cells(self.config, self.store, self.scoring, only)

    def plan(self, only: dict[str, set[str]] | None = None) -> PlanSummary:
        cells = self.cells(only)
        return PlanSummary(cells, estimate_teachers(cells, self.store, self.data_dir, self.config.teacher_test))

    def run(self, cells: list[PlannedCell], console: Console, executor: str = "local",
            address: str | None = None) -> dict[str, Any]:
        """Run the cells not yet done (failed ones again); returns key -> CellResult."""
        from ftcot.matrix.executors import make_executor
        from ftcot.matrix.runner import run_cells
        from ftcot.matrix.view import MatrixView

        todo = [c for c in cells if c.status != "done"]
        if not todo:
            return {}
        runner = make_executor(
            executor, self.store.directory / "models", parallel=self.config.parallel,
            threads_per_cell=self.config.threads_per_cell, address=address,
            resources=lambda spec: self.config.resources_for(spec.student),
            max_retries=self.config.max_retries,
        )
        from ftcot.matrix.plan import cell_label
        from ftcot.tables import short_names

        names = {**short_names(self.config.tasks), **short_names(self.config.students),
                 **short_names(self.config.teachers)}
        view = MatrixView(console, {c.key: cell_label(c.spec, names) for c in todo}, len(cells) - len(todo),
                          title=f"matrix {self.config.path.name} ({executor})")
        from ftcot.matrix.teacher_phase import TeacherPhase, phase_groups

        phase = TeacherPhase(phase_groups(todo), self.store, self.data_dir, self.scoring)
        with view:
            results = run_cells(todo, store=self.store, data_dir=self.data_dir, scoring=self.scoring,
                                executor=runner, view=view, max_retries=self.config.max_retries,
                                retry_lost=executor != "ray", phase=phase)
        if self.config.teacher_test:
            self.evaluate_teachers(todo, console)
        return results

    def evaluate_teachers(self, cells: list[PlannedCell], console: Console) -> None:
        """The teachers of these Fine-tune-CoT cells answer their tasks' test questions once
        (greedy), through the store, for the leaderboard's teacher rows."""
        from ftcot.matrix.plan import teacher_groups
        from ftcot.pipeline.teach import teach
        from ftcot.registry import create_task

        for (task_spec, teacher, split, part, _, options_json), _ in teacher_groups(cells, True).items():
            if part != "test":
                continue
            options = {k: v for k, v in json.loads(options_json).items() if k != "temperature"}
            try:
                task = create_task(task_spec, data_dir=self.data_dir)
                result = teach(self.store, task, teacher, task.test_examples(split), degree=1, temperature=0.0,
                               scoring=self.scoring, options=options, progress=False)
            except Exception as exc:  # the cells are done; the reference row is a bonus
                console.print(f"[yellow]teacher {teacher} could not answer the test questions of {task_spec}: "
                              f"{type(exc).__name__}: {exc}[/]")
                continue
            answered = result.new + result.cached
            if answered:
                console.print(f"teacher {teacher} on the test questions of {task_spec}: "
                              f"{result.correct}/{answered} right", style="dim")

    def leaderboard(self, show_n: bool = False, title: str | None = None):
        """The leaderboard of this matrix's cells (whatever of them is stored)."""
        from ftcot.leaderboard import build, teacher_test_accuracy

        cells = [c.result for c in self.cells() if c.result is not None]
        splits = {t: self.config.split for t in self.config.tasks}
        teachers = teacher_test_accuracy(self.store, cells, self.data_dir, splits)
        return build(cells, teachers, show_n=show_n, task_order=self.config.tasks,
                     student_order=self.config.students,
                     title=title or f"ftcot leaderboard: {self.config.path.name}")
