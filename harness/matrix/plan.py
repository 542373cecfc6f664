"""From a config to cells: expand the grid, look each cell up in the store, and estimate what
the teachers still have to write.

Methods that need no teacher (``fine-tune``, the prompting baselines) are not multiplied by
teachers or degrees; ``fine-tune-cot`` is multiplied by both. Every method is multiplied by
seeds. Nothing here imports torch: a finished matrix is planned, found done and reported
without opening a model.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcot.contracts.teacher import Generation, Teacher
from ftcot.errors import UserError
from ftcot.matrix.config import NO_TEACHER, TEACHER_METHODS, MatrixConfig
from ftcot.records import CellResult
from ftcot.specs import split_assignments
from ftcot.store import Store

if TYPE_CHECKING:
    from ftcot.contracts.task import Task
    from ftcot.pipeline.cell import CellSpec
    from ftcot.records import Example

ONLY_FIELDS = ("task", "teacher", "student", "method", "degree", "seed")


@dataclass
class PlannedCell:
    """A cell of the grid, its store key and what the store holds for it."""

    spec: CellSpec
    key: str
    result: CellResult | None = None

    @property
    def status(self) -> str:
        """``done``, ``failed`` (recorded with its error; run again) or ``todo``."""
        if self.result is None:
            return "todo"
        return "done" if self.result.status == "done" else "failed"

    @property
    def label(self) -> str:
        return cell_label(self.spec)


def cell_label(spec: CellSpec, names: dict[str, str] | None = None) -> str:
    """``task · student · Fine-tune-CoT D=4 (teacher) · seed 0``, specs shortened through ``names``."""
    from ftcot.leaderboard import METHOD_LABELS
    from ftcot.pipeline.cell import public_student

    names = names or {}
    method = METHOD_LABELS.get(spec.method, spec.method)
    if spec.method in TEACHER_METHODS:
        method += f" D={spec.degree} ({names.get(spec.teacher, spec.teacher)})"
    return " · ".join([names.get(spec.task, spec.task), names.get(spec.student, public_student(spec.student)), method,
                       f"seed {spec.seed}"])


def expand(config: MatrixConfig) -> list[Any]:
    """Every cell spec of the grid, in a stable order; a student that cannot honour its training
    settings (``Student.check_config``) is a UserError here, before anything runs."""
    from ftcot.formatting import TRAINED_METHODS
    from ftcot.pipeline import CellSpec
    from ftcot.pipeline.cell import train_config
    from ftcot.registry import create_student

    specs = []
    checked: set[tuple[str, str]] = set()
    trains = any(method in TRAINED_METHODS for method in config.methods)
    for task in config.tasks:
        for student in config.students:
            training = config.training_for(task, student)
            memo = (student, repr(sorted(training.items())))
            if trains and memo not in checked:
                checked.add(memo)
                create_student(student).check_config(train_config(CellSpec(
                    task=task, teacher=NO_TEACHER, student=student, method=config.methods[0], training=training)))
            for method in config.methods:
                if method in TEACHER_METHODS:
                    combos = [(t, d) for t in config.teachers for d in config.degrees_for(task)]
                else:
                    combos = [(NO_TEACHER, 1)]
                for teacher, degree in combos:
                    for seed in config.seeds:
                        specs.append(CellSpec(
                            task=task, teacher=teacher, student=student, method=method,
                            degree=degree, seed=seed, training=training,
                            teacher_options=config.teacher_options_for(teacher) if teacher != NO_TEACHER else {},
                            filters=tuple(config.filters), report_epoch=config.report_epoch,
                            split=config.split,
                        ))
    return specs


def parse_only(values: list[str] | None) -> dict[str, set[str]]:
    """``--only task=coin_flip:flips=4,train=20,student=tiny-llama`` -> field -> accepted values.

    A comma starts a new filter only when a field name and ``=`` follow it, so task specs
    with commas stay whole. Repeating a field accepts any of its values.
    """
    selected: dict[str, set[str]] = defaultdict(set)
    for raw in values or []:
        what = f"--only {raw!r} (FIELD=VALUE[,FIELD=VALUE...] with FIELD among {', '.join(ONLY_FIELDS)})"
        for name, value in split_assignments(raw, what, starts=ONLY_FIELDS):
            if name not in ONLY_FIELDS:
                raise UserError(f"--only {raw!r}: write FIELD=VALUE[,FIELD=VALUE...] with FIELD among "
                                f"{', '.join(ONLY_FIELDS)}")
            selected[name].add(value)
    return dict(selected)


def matches_only(spec: CellSpec, selected: dict[str, set[str]]) -> bool:
    for name, accepted in selected.items():
        value = str(getattr(spec, name))
        plugin = value.partition(":")[0]
        if value not in accepted and plugin not in accepted:
            return False
    return True


def plan_cells(config: MatrixConfig, store: Store, scoring: str,
               only: dict[str, set[str]] | None = None) -> list[PlannedCell]:
    """The grid's cells (those ``only`` selects), each with its stored result if any."""
    from ftcot.pipeline import cell_key

    specs = [s for s in expand(config) if not only or matches_only(s, only)]
    if only and not specs:
        raise UserError("--only selects no cell of this matrix; check the field values against the config")
    keys = [cell_key(spec, scoring) for spec in specs]
    stored = store.get_cells(keys)
    return [PlannedCell(spec, key, stored.get(key)) for spec, key in zip(specs, keys)]


@dataclass
class TeacherEstimate:
    """What one (task, teacher, part, temperature) group still needs from its teacher."""

    task: str
    teacher: str
    part: str  # "train" (rationales to learn from) or "test" (the teacher's own accuracy)
    examples: int
    degree: int
    temperature: float
    needed: int
    cached: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    note: str = ""
    requests: int = 0  # step-1 requests (n samples each where the provider takes n) + step-2 requests

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def teacher_groups(cells: list[PlannedCell], teacher_test: bool) -> dict[tuple, int]:
    """(task, teacher, split, part, temperature, options) -> the largest degree still needed.
    Completions at different temperatures are different completions."""
    groups: dict[tuple, int] = {}
    for cell in cells:
        spec = cell.spec
        if spec.method not in TEACHER_METHODS:
            continue
        options = json.dumps(spec.teacher_options, sort_keys=True, default=str)
        if cell.status != "done":
            key = (spec.task, spec.teacher, spec.split, "train", spec.temperature, options)
            groups[key] = max(groups.get(key, 0), spec.degree)
        if teacher_test:
            groups.setdefault((spec.task, spec.teacher, spec.split, "test", 0.0, options), 1)
    return groups


def _missing(task: Task, teacher_spec: str, options: dict, examples: list[Example], degree: int,
             temperature: float, store: Store) -> tuple[list[int], Teacher]:
    """Per example, how many of its completions the store lacks (by the teacher's own keys), and the teacher."""
    from ftcot.pipeline.teach import create_teacher

    teacher = create_teacher(teacher_spec, {k: v for k, v in options.items() if k != "temperature"})
    generation = Generation.from_options(temperature, options)
    jobs = teacher.plan(task, examples, degree, generation)
    stored = store.get_completions(job.key for job in jobs)
    missing: dict[int, int] = {}
    for job in jobs:
        c = stored.get(job.key)
        missing[job.example.sample_index] = missing.get(job.example.sample_index, 0) + (c is None or c.failed)
    return list(missing.values()), teacher


def step1_requests(missing: list[int], per_request: int, temperature: float) -> int:
    """Step-1 requests for these per-question missing samples: one greedy rationale serves a
    question at temperature 0; else ``per_request`` samples a request."""
    if temperature <= 0:
        return sum(1 for m in missing if m)
    return sum(-(-m // per_request) for m in missing)


def estimate_teachers(cells: list[PlannedCell], store: Store, data_dir: Path | None,
                      teacher_test: bool = True) -> list[TeacherEstimate]:
    """Teacher completions the cells still to do need (and, with ``teacher_test``, the teachers'
    answers to the test questions), what the store holds, and calls, tokens and cost of the
    rest. Tokens come from question length and the steps' token limits (an upper bound for
    the rationales); cost from litellm's offline price map, None where a model is unpriced."""
    from ftcot.registry import create_task

    estimates = []
    tasks: dict[str, Any] = {}
    for (task_spec, teacher, split, part, temperature, options_json), degree in teacher_groups(
            cells, teacher_test).items():
        options = json.loads(options_json)
        try:
            task = tasks.get(task_spec) or create_task(task_spec, data_dir=data_dir)
            tasks[task_spec] = task
            examples = task.train_examples(split) if part == "train" else task.test_examples(split)
            missing, teacher_obj = _missing(task, teacher, options, examples, degree, temperature, store)
            calls_model = teacher_obj.cacheable and teacher_obj.calls_model
        except Exception as exc:  # missing data, a bad option: say so, plan the rest
            note = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            estimates.append(TeacherEstimate(task_spec, teacher, part, 0, degree, temperature, 0, 0, 0, 0, 0,
                                             None, note.splitlines()[0]))
            continue
        # a replay file may hold more completions than D per example: those count as needed too
        needed = max(len(examples) * degree, sum(missing))
        cached = needed - sum(missing)
        calls = needed - cached if calls_model else 0
        per_request = getattr(teacher_obj, "samples_per_request", lambda: 1)()
        firsts = step1_requests(missing, per_request, temperature) if calls_model else 0
        mean_chars = sum(len(e.question) for e in examples) / max(1, len(examples))
        generation = Generation.from_options(temperature, options)
        step1, step2 = generation.max_tokens, generation.answer_max_tokens
        # step 1 sends the question once a request; step 2 sends it again with the rationale
        # (about 4 characters a token)
        question = int(mean_chars / 4 + 12)
        prompt_tokens = firsts * question + calls * (question + step1)
        completion_tokens = calls * (step1 + step2)
        cost = teacher_obj.estimate_cost(prompt_tokens, completion_tokens) if calls else 0.0
        estimates.append(TeacherEstimate(
            task_spec, teacher, part, len(examples), degree, temperature, needed, cached, calls,
            prompt_tokens, completion_tokens, cost, "" if calls_model else "computed locally, no model calls",
            requests=firsts + calls,
        ))
    return estimates


@dataclass
class PlanSummary:
    cells: list[PlannedCell]
    teachers: list[TeacherEstimate] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {"cells": len(self.cells), "done": 0, "failed": 0, "todo": 0}
        for cell in self.cells:
            counts[cell.status] += 1
        return counts
