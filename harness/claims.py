"""The paper's four claims, checked on a leaderboard: what a run shows and what it does not.

1. Fine-tune-CoT lets small students reason where vanilla fine-tuning fails.
2. Diverse reasoning (D > 1) improves them further.
3. Students can beat their teacher.
4. The gains grow with student size.

Each claim is judged on the leaderboard's means over seeds, in percentage points, with the
thresholds the demo promises (``THRESHOLDS``); ``ftcot demo`` prints the verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ftcot.leaderboard import Leaderboard, Row

THRESHOLDS = {
    "reasoning": 30.0,  # Fine-tune-CoT over vanilla on some task
    "diversity": 5.0,  # D > 1 over D = 1 on some task ...
    "diversity_worst": -5.0,  # ... and nowhere worse than this
    "teacher": 5.0,  # the best student over its teacher on some task
}


@dataclass(frozen=True)
class Claim:
    """One claim's verdict: whether it shows, and the measured numbers behind it."""

    name: str
    statement: str
    shown: bool
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "statement": self.statement, "shown": self.shown, "evidence": self.evidence}


def _points(value: float) -> str:
    return f"{value:+.1f} points"


def _accuracy(row: Row, task: str) -> float | None:
    entry = row.entries.get(task)
    return None if entry is None else 100 * entry.accuracy


def _students(board: Leaderboard) -> list[str]:
    """Students smallest first by parameter count where it is known (a matrix's leaderboard
    keeps its config's order); the rest keep the leaderboard's order, after them."""
    order = board.students()
    return sorted(order, key=lambda s: (board.parameters.get(s, math.inf), order.index(s)))


def reasoning(board: Leaderboard) -> Claim:
    best: tuple[float, str, str] | None = None
    for student in _students(board):
        vanilla = [r for r in board.rows if r.student == student and r.method == "fine-tune"]
        cot = [r for r in board.rows if r.student == student and r.method == "fine-tune-cot"]
        for task in board.tasks:
            base = next((a for r in vanilla if (a := _accuracy(r, task)) is not None), None)
            tops = [a for r in cot if (a := _accuracy(r, task)) is not None]
            if base is not None and tops and (best is None or max(tops) - base > best[0]):
                best = (max(tops) - base, task, student)
    statement = "Fine-tune-CoT lets small students reason where vanilla fine-tuning fails"
    if best is None:
        return Claim("reasoning", statement, False, "no task has both a vanilla and a Fine-tune-CoT cell")
    gap, task, student = best
    return Claim("reasoning", statement, gap >= THRESHOLDS["reasoning"],
                 f"largest gain over vanilla: {_points(gap)} ({board.task_names()[task]}, "
                 f"{board.student_names()[student]}; needs {THRESHOLDS['reasoning']:.0f})")


def diversity(board: Leaderboard) -> Claim:
    gaps: list[tuple[float, str, str, int]] = []
    for row in board.rows:
        if row.method != "fine-tune-cot" or row.degree <= 1:
            continue
        base = next((r for r in board.rows if r.method == "fine-tune-cot" and r.degree == 1
                     and r.student == row.student and r.teacher == row.teacher), None)
        if base is None:
            continue
        for task in board.tasks:
            high, low = _accuracy(row, task), _accuracy(base, task)
            if high is not None and low is not None:
                gaps.append((high - low, task, row.student, row.degree))
    statement = "Diverse reasoning (D > 1) improves students further"
    if not gaps:
        return Claim("diversity", statement, False, "no cells with both D = 1 and D > 1")
    best, worst = max(gaps), min(gaps)
    shown = best[0] >= THRESHOLDS["diversity"] and worst[0] >= THRESHOLDS["diversity_worst"]
    names, students = board.task_names(), board.student_names()
    return Claim("diversity", statement, shown,
                 f"D={best[3]} over D=1: best {_points(best[0])} ({names[best[1]]}, {students[best[2]]}), "
                 f"worst {_points(worst[0])} ({names[worst[1]]}, {students[worst[2]]}); needs "
                 f"{THRESHOLDS['diversity']:.0f} somewhere and nowhere below {THRESHOLDS['diversity_worst']:.0f}")


def teacher(board: Leaderboard) -> Claim:
    best: tuple[float, str, str] | None = None
    for teacher_row in board.teacher_rows:
        for task in board.tasks:
            reference = _accuracy(teacher_row, task)
            students = [a for r in board.rows if r.teacher == teacher_row.teacher and (a := _accuracy(r, task)) is not None]
            if reference is not None and students and (best is None or max(students) - reference > best[0]):
                best = (max(students) - reference, task, teacher_row.teacher)
    statement = "Students can beat their teacher"
    if best is None:
        return Claim("teacher", statement, False, "no teacher accuracy on the test questions (teacher_test)")
    gap, task, name = best
    return Claim("teacher", statement, gap >= THRESHOLDS["teacher"],
                 f"best student over teacher {name}: {_points(gap)} ({board.task_names()[task]}; "
                 f"needs {THRESHOLDS['teacher']:.0f})")


def size(board: Leaderboard) -> Claim:
    students = _students(board)
    seeds = min((len(e.seeds) for e in board.entries), default=0)
    statement = "The gains grow with student size"
    if len(students) < 2:
        return Claim("size", statement, False, f"{len(students)} student size; needs two or more")
    gains = []
    for student in students:
        cot = [r for r in board.rows if r.student == student and r.method == "fine-tune-cot"]
        values = [a for r in cot for task in board.tasks if (a := _accuracy(r, task)) is not None]
        gains.append(sum(values) / len(values) if values else 0.0)
    grows = all(b >= a for a, b in zip(gains, gains[1:])) and gains[-1] > gains[0]
    names = board.student_names()
    listed = ", ".join(f"{names[s]} {g:.1f}" for s, g in zip(students, gains))
    return Claim("size", statement, grows and seeds >= 2,
                 f"mean Fine-tune-CoT accuracy by size, smallest first: {listed}; {seeds} seeds per cell")


def check(board: Leaderboard) -> list[Claim]:
    """The four claims, in the paper's order."""
    return [reasoning(board), diversity(board), teacher(board), size(board)]
