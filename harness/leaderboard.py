"""Leaderboards from stored cells, shaped like the paper's main table: one row per student and
method (and teacher and degree D for Fine-tune-CoT), one column per task, a mean column, the
best of each column marked, mean ± standard error over seeds, and the teachers' own accuracy
on the same test split as reference rows.

Reporters (``plugins/reporters.py``) turn a ``Leaderboard`` into text; this module only
aggregates.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcot.records import CellResult
from ftcot.tables import legend, short_names

if TYPE_CHECKING:
    from ftcot.store import Store

METHOD_LABELS = {
    "fine-tune-cot": "Fine-tune-CoT",
    "fine-tune": "Fine-tune",
    "zero-shot": "Zero-shot",
    "zero-shot-cot": "Zero-shot-CoT",
    "few-shot-cot": "Few-shot-CoT",
    "teacher": "Teacher",
}
METHOD_ORDER = ("zero-shot", "zero-shot-cot", "few-shot-cot", "fine-tune", "fine-tune-cot")
PARAMETER_KEYS = ("parameters", "num_parameters", "n_parameters")


@dataclass
class Entry:
    """One leaderboard cell: a (task, teacher, student, method, degree) over its seeds."""

    task: str
    teacher: str
    student: str
    method: str
    degree: int
    seeds: list[int]
    accuracies: list[float]
    n: int
    scoring: str = "paper"
    report_epoch: str = "last"
    d_protocol: str = ""  # fine-tune-cot: how D > 1's budget relates to D = 1's (pipeline.cell)

    @property
    def accuracy(self) -> float:
        return sum(self.accuracies) / len(self.accuracies)

    @property
    def stderr(self) -> float | None:
        """Standard error of the mean over seeds; None with a single seed."""
        k = len(self.accuracies)
        if k < 2:
            return None
        mean = self.accuracy
        variance = sum((a - mean) ** 2 for a in self.accuracies) / (k - 1)
        return math.sqrt(variance / k)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "teacher": self.teacher or None, "student": self.student or None,
            "method": self.method, "degree": self.degree, "seeds": self.seeds,
            "accuracy": self.accuracy, "stderr": self.stderr, "n": self.n,
            "scoring": self.scoring, "report_epoch": self.report_epoch,
            **({"d_protocol": self.d_protocol} if self.d_protocol else {}),
        }


@dataclass
class Row:
    """A leaderboard row: a student with a method (teacher, D), or a teacher for reference."""

    student: str
    method: str
    teacher: str
    degree: int
    entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def is_teacher(self) -> bool:
        return self.method == "teacher"

    @property
    def label(self) -> str:
        return self.short_label({})

    def short_label(self, teachers: dict[str, str]) -> str:
        """The method column: method, D and teacher, the teacher by its short name in ``teachers``."""
        teacher = teachers.get(self.teacher, self.teacher)
        if self.is_teacher:
            return f"Teacher: {teacher}"
        label = METHOD_LABELS.get(self.method, self.method)
        if self.method == "fine-tune-cot":
            label += f" D={self.degree}"
            if self.teacher:
                label += f" ({teacher})"
        return label

    def mean(self) -> float | None:
        values = [e.accuracy for e in self.entries.values()]
        return sum(values) / len(values) if values else None


@dataclass
class Leaderboard:
    tasks: list[str]
    rows: list[Row]
    teacher_rows: list[Row]
    scoring: list[str]
    report_epochs: list[str]
    parameters: dict[str, int] = field(default_factory=dict)
    show_n: bool = False
    title: str = "ftcot leaderboard"
    d_protocols: list[str] = field(default_factory=list)  # of the fine-tune-cot cells with D > 1

    @property
    def entries(self) -> list[Entry]:
        return [e for row in self.rows for e in row.entries.values()]

    def best(self, task: str | None) -> float | None:
        """The best student accuracy in a column (``None`` = the mean column)."""
        found = [row.mean() if task is None else (row.entries[task].accuracy if task in row.entries else None)
                 for row in self.rows]
        values = [v for v in found if v is not None]
        return max(values) if values else None

    def is_best(self, row: Row, task: str | None) -> bool:
        if row.is_teacher:
            return False
        value = row.mean() if task is None else (row.entries[task].accuracy if task in row.entries else None)
        best = self.best(task)
        return value is not None and best is not None and math.isclose(value, best, abs_tol=1e-12)

    @property
    def subtitle(self) -> str:
        """The rule set and the reported epoch: shown by every format."""
        from ftcot.pipeline import REPORT_EPOCH_LABELS
        from ftcot.pipeline.cell import D_PROTOCOL_LABELS

        epochs = [REPORT_EPOCH_LABELS.get(mode, mode) for mode in self.report_epochs]
        text = (f"scoring: {', '.join(self.scoring) or 'n/a'} · reported epoch: "
                f"{', '.join(epochs) or 'n/a'} · mean ± standard error over seeds")
        protocols = [D_PROTOCOL_LABELS.get(p, p) for p in self.d_protocols]
        return text + (f" · {'; '.join(protocols)}" if protocols else "")

    def task_names(self) -> dict[str, str]:
        return short_names(self.tasks)

    def student_names(self) -> dict[str, str]:
        return short_names(self.students())

    def teacher_names(self) -> dict[str, str]:
        return short_names(row.teacher for row in self.rows + self.teacher_rows if row.teacher)

    def legend(self) -> list[str]:
        """``short = full spec`` for every shortened task, student or teacher name."""
        return legend(self.task_names(), self.student_names(), self.teacher_names())

    def students(self) -> list[str]:
        return list(dict.fromkeys(row.student for row in self.rows))

    def to_json(self) -> list[dict[str, Any]]:
        """The JSON format: every aggregated cell, teacher references last (method ``teacher``)."""
        items = [e.to_dict() for e in self.entries]
        items += [e.to_dict() for row in self.teacher_rows for e in row.entries.values()]
        return items


def _parameters(cell: CellResult) -> int | None:
    """The student's parameter count, as the worker recorded it in the cell (model folders are
    never read here: on a cluster they live on the workers)."""
    extra = cell.extra if isinstance(cell.extra, dict) else {}
    info = extra.get("student_info")
    candidates = [info.get("parameters") if isinstance(info, dict) else None, *(extra.get(k) for k in PARAMETER_KEYS)]
    for value in candidates:
        if isinstance(value, (int, float)) and value > 0:
            return int(value)
    return None


def build(cells: Iterable[CellResult], teacher_accuracy: dict[tuple[str, str], tuple[float, int]] | None = None,
          show_n: bool = False, task_order: list[str] | None = None,
          student_order: list[str] | None = None, title: str = "ftcot leaderboard",
          scoring: str | None = None) -> Leaderboard:
    """Aggregate finished cells (failed ones are left out) into a leaderboard; ``scoring``
    keeps only the cells scored with that rule set."""
    from ftcot.pipeline.cell import d_protocol

    groups: dict[tuple, list[CellResult]] = defaultdict(list)
    parameters: dict[str, int] = {}
    for cell in cells:
        if cell.status != "done" or cell.accuracy is None or (scoring and cell.scoring != scoring):
            continue
        teacher = cell.teacher if cell.method == "fine-tune-cot" else ""
        degree = cell.degree if cell.method == "fine-tune-cot" else 1
        groups[(cell.task, teacher, cell.student, cell.method, degree)].append(cell)
        if cell.student not in parameters and (count := _parameters(cell)) is not None:
            parameters[cell.student] = count
    rows: dict[tuple, Row] = {}
    tasks: list[str] = list(task_order or [])
    rule_sets: set[str] = set()
    epochs: set[str] = set()
    protocols: set[str] = set()
    for (task, teacher, student, method, degree), members in groups.items():
        members.sort(key=lambda c: c.seed)
        protocol = ""
        if method == "fine-tune-cot":
            protocol = ",".join(sorted({d_protocol(_training(c)) for c in members}))
            if degree > 1:
                protocols.update(protocol.split(","))
        entry = Entry(task, teacher, student, method, degree, [c.seed for c in members],
                      [float(c.accuracy or 0.0) for c in members], max(c.n for c in members),
                      ",".join(sorted({c.scoring for c in members})),
                      ",".join(sorted({c.report_epoch for c in members})), protocol)
        rule_sets.update(c.scoring for c in members)
        epochs.update(c.report_epoch for c in members)
        rows.setdefault((student, method, teacher, degree), Row(student, method, teacher, degree)).entries[task] = entry
        if task not in tasks:
            tasks.append(task)
    students = list(student_order or [])
    # the rest smallest first where sizes are known (as the paper orders its students)
    students += sorted({key[0] for key in rows} - set(students),
                       key=lambda s: (parameters.get(s, math.inf), s))

    def row_order(key: tuple) -> tuple:
        student, method, teacher, degree = key
        position = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
        return (students.index(student), position, teacher, degree)

    ordered = [rows[key] for key in sorted(rows, key=row_order)]
    teacher_rows: dict[str, Row] = {}
    for (task, teacher), (accuracy, n) in sorted((teacher_accuracy or {}).items()):
        if task not in tasks:
            continue
        row = teacher_rows.setdefault(teacher, Row("", "teacher", teacher, 1))
        row.entries[task] = Entry(task, teacher, "", "teacher", 1, [], [accuracy], n,
                                  ",".join(sorted(rule_sets)), "")
    return Leaderboard(tasks=[t for t in tasks if any(t in r.entries for r in ordered)], rows=ordered,
                       teacher_rows=list(teacher_rows.values()), scoring=sorted(rule_sets),
                       report_epochs=sorted(epochs), parameters=parameters, show_n=show_n, title=title,
                       d_protocols=sorted(protocols))


def _training(cell: CellResult) -> dict[str, Any]:
    """The training settings a cell recorded with its spec."""
    spec = cell.extra.get("spec") if isinstance(cell.extra, dict) else None
    training = spec.get("training") if isinstance(spec, dict) else None
    return training if isinstance(training, dict) else {}


def teacher_test_accuracy(store: Store, cells: Iterable[CellResult], data_dir: Path | None,
                          splits: dict[str, str] | None = None) -> dict[tuple[str, str], tuple[float, int]]:
    """Each Fine-tune-CoT teacher's accuracy on its task's test split, from its stored
    completions of the test examples (the first completion of each, greedy at D=1).
    Pairs whose teacher has not answered the test questions are left out."""
    from ftcot.registry import create_task

    found: dict[tuple[str, str], tuple[float, int]] = {}
    pairs = sorted({(c.task, c.teacher) for c in cells if c.method == "fine-tune-cot" and c.teacher})
    tasks: dict[str, Any] = {}
    for task_spec, teacher in pairs:
        try:
            task = tasks.get(task_spec) or create_task(task_spec, data_dir=data_dir)
            tasks[task_spec] = task
            split = (splits or {}).get(task_spec, "default")
            test = {e.sample_index for e in task.test_examples(split)}
            key = task.key
        except Exception as exc:  # missing data or a plugin's bug: the board goes on without this row
            from ftcot.registry import failure_line

            print(f"warning: no test accuracy for teacher {teacher} on {task_spec}: {failure_line(exc)}", file=sys.stderr)
            continue
        answers = [c for c in store.completions(task=key, teacher=teacher)
                   if c.index == 0 and not c.failed and c.sample_index in test and c.correct is not None]
        if answers:
            found[(task_spec, teacher)] = (sum(bool(c.correct) for c in answers) / len(answers), len(answers))
    return found
