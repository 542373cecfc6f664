"""From a config to cells: expand the grid, look each cell up in the store, and estimate what
the teachers still have to write.

Methods that need no teacher (``fine-tune``, the prompting baselines) are not multiplied by
teachers or degrees; ``fine-tune-cot`` is multiplied by both. Every method is multiplied by
seeds. Nothing here imports torch: a finished matrix is planned, found done and reported
without opening a model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.matrix.config import NO_TEACHER, TEACHER_METHODS, MatrixConfig
from harness.records import CellResult
from harness.store import Store

ONLY_FIELDS = ("task", "teacher", "student", "method", "degree", "seed")
# Teachers that compute or import rationales instead of asking a model.
NO_CALL_TEACHERS = frozenset({"oracle", "replay"})
# Upper bounds of one Zero-shot-CoT completion: step 1 and step 2 new tokens.
STEP1_TOKENS, STEP2_TOKENS = 128, 32


@dataclass
class PlannedCell:
    """A cell of the grid, its store key and what the store holds for it."""

    spec: Any  # harness.pipeline.CellSpec
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


def cell_label(spec: Any, names: dict[str, str] | None = None) -> str:
    """``task · student · Fine-tune-CoT D=4 (teacher) · seed 0``, specs shortened through ``names``."""
    from harness.leaderboard import METHOD_LABELS

    names = names or {}
    method = METHOD_LABELS.get(spec.method, spec.method)
    if spec.method in TEACHER_METHODS:
        method += f" D={spec.degree} ({names.get(spec.teacher, spec.teacher)})"
    return " · ".join([names.get(spec.task, spec.task), names.get(spec.student, spec.student), method,
                       f"seed {spec.seed}"])


def expand(config: MatrixConfig) -> list[Any]:
    """Every cell spec of the grid, in a stable order."""
    from harness.pipeline import CellSpec

    specs = []
    for task in config.tasks:
        for student in config.students:
            training = config.training_for(task, student)
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
        current: list[str] | None = None
        pieces: list[list[str]] = []
        for piece in raw.split(","):
            name = piece.partition("=")[0].strip()
            if "=" in piece and name in ONLY_FIELDS:
                current = [name, piece.partition("=")[2]]
                pieces.append(current)
            elif current is not None:
                current[1] += "," + piece
            else:
                raise UserError(f"--only {raw!r}: write FIELD=VALUE[,FIELD=VALUE...] with FIELD among "
                                f"{', '.join(ONLY_FIELDS)}")
        for name, value in pieces:
            selected[name].add(value.strip())
    return dict(selected)


def _matches(spec: Any, selected: dict[str, set[str]]) -> bool:
    for name, accepted in selected.items():
        value = str(getattr(spec, name))
        plugin = value.partition(":")[0]
        if value not in accepted and plugin not in accepted:
            return False
    return True


def plan_cells(config: MatrixConfig, store: Store, scoring: str,
               only: dict[str, set[str]] | None = None) -> list[PlannedCell]:
    """The grid's cells (those ``only`` selects), each with its stored result if any."""
    from harness.pipeline import cell_key

    specs = [s for s in expand(config) if not only or _matches(s, only)]
    if only and not specs:
        raise UserError("--only selects no cell of this matrix; check the field values against the config")
    keys = [cell_key(spec, scoring) for spec in specs]
    stored = store.get_cells(keys)
    return [PlannedCell(spec, key, stored.get(key)) for spec, key in zip(specs, keys)]


@dataclass
class TeacherEstimate:
    """What one (task, teacher) pair still needs from its teacher for the cells to do."""

    task: str
    teacher: str
    examples: int
    degree: int
    needed: int
    cached: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _task_examples(task_spec: str, data_dir: Path, split: str) -> tuple[list[Any] | None, str]:
    from harness.plugins import create

    try:
        task = create("task", task_spec, data_dir=data_dir)
        return task.train_examples(split), ""
    except UserError as exc:
        return None, str(exc)
    except Exception as exc:  # a plugin's own bug should not stop the plan
        return None, f"{type(exc).__name__}: {exc}"


def _task_key(task_spec: str, data_dir: Path) -> str:
    from harness.plugins import create

    try:
        return create("task", task_spec, data_dir=data_dir).key
    except Exception:
        return task_spec


def _price(teacher: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Cost in USD from litellm's offline cost map, or None where the model has no price."""
    name, _, model = teacher.partition(":")
    if name in NO_CALL_TEACHERS:
        return 0.0
    if name != "litellm" or not model:
        return None
    try:
        import litellm

        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return float(prompt_cost + completion_cost)
    except Exception:
        return None


def estimate_teachers(cells: list[PlannedCell], store: Store, data_dir: Path) -> list[TeacherEstimate]:
    """Teacher completions the cells still to do need, what the store already holds, and
    tokens and cost of the rest (tokens from stored completions of the pair where there are
    some, else from question length and the step limits; an upper bound)."""
    degree_by_pair: dict[tuple[str, str, str], int] = {}
    for cell in cells:
        spec = cell.spec
        if cell.status == "done" or spec.method not in TEACHER_METHODS:
            continue
        pair = (spec.task, spec.teacher, spec.split)
        degree_by_pair[pair] = max(degree_by_pair.get(pair, 0), spec.degree)
    estimates = []
    for (task_spec, teacher, split), degree in degree_by_pair.items():
        examples, note = _task_examples(task_spec, data_dir, split)
        if examples is None:
            estimates.append(TeacherEstimate(task_spec, teacher, 0, degree, 0, 0, 0, 0, 0, None, note))
            continue
        wanted = {e.sample_index for e in examples}
        stored = store.completions(task=_task_key(task_spec, data_dir), teacher=teacher)
        have = [c for c in stored if not c.failed and c.index < degree and c.sample_index in wanted]
        needed = len(examples) * degree
        cached = min(len(have), needed)
        free = teacher.partition(":")[0] in NO_CALL_TEACHERS
        calls = 0 if free else needed - cached
        priced = [c for c in have if c.prompt_tokens or c.completion_tokens]
        if priced:
            per_prompt = sum(c.prompt_tokens for c in priced) / len(priced)
            per_completion = sum(c.completion_tokens for c in priced) / len(priced)
        else:
            mean_chars = sum(len(e.question) for e in examples) / max(1, len(examples))
            # step 1 prompt, then step 2 re-sends it with the rationale: about 4 characters a token
            per_prompt = 2 * (mean_chars / 4 + 12) + STEP1_TOKENS
            per_completion = STEP1_TOKENS + STEP2_TOKENS
        prompt_tokens, completion_tokens = int(calls * per_prompt), int(calls * per_completion)
        estimates.append(TeacherEstimate(
            task_spec, teacher, len(examples), degree, needed, cached, calls, prompt_tokens,
            completion_tokens, _price(teacher, prompt_tokens, completion_tokens) if calls or free else 0.0,
            "computed locally, no model calls" if free else "",
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
