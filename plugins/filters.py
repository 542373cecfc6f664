"""Filters: which teacher completions become training samples.

A filter looks at a list of completions and gives, for each, ``None`` (keep) or the reason it
drops it. ``apply_filters`` runs several in order, each on what the previous ones kept, and
records for every dropped completion which filter dropped it and why (``FilterResult``).
Completions whose teacher call failed are always dropped first, by the ``failed`` step.

Built-ins (registered below through the same hook a third-party package uses):

- ``correct``: keep completions whose predicted answer equals the gold answer (the paper's filter);
- ``max-tokens:N``: drop rationales longer than N tokens of the student's tokenizer;
- ``dedupe``: drop a rationale already seen for the same example.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness import hookimpl
from harness.errors import UserError
from harness.records import Completion, Example

FAILED_STEP = "failed"


@dataclass
class FilterContext:
    """What filters may need besides the completions themselves.

    ``examples`` maps sample_index to the example (gold answers); ``count_tokens`` counts
    student tokens of a text and is only given when a filter asks for it (``needs_tokens``).
    """

    task: Any = None
    examples: dict[int, Example] = field(default_factory=dict)
    scoring: str = "paper"
    count_tokens: Callable[[str], int] | None = None


class Filter:
    """Base class of filter plugins: subclass, set ``name``, implement ``reasons``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_tokens: ClassVar[bool] = False  # True: the context must carry ``count_tokens``

    def __init__(self, argument: str | None = None):
        self.argument = argument

    @classmethod
    def from_spec(cls, argument: str | None, **options: Any) -> Filter:
        if argument is not None:
            raise UserError(f"filter {cls.name!r} takes no argument (got {argument!r}); write just {cls.name}")
        return cls()

    @property
    def spec(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"

    def reasons(self, completions: Sequence[Completion], context: FilterContext) -> list[str | None]:
        """One entry per completion: None to keep it, else why it is dropped."""
        raise NotImplementedError


class CorrectFilter(Filter):
    """Keep completions whose predicted answer equals the gold answer (the paper's filter)."""

    name = "correct"
    description = "keep completions whose answer equals the gold answer (the paper's filter)"

    def reasons(self, completions: Sequence[Completion], context: FilterContext) -> list[str | None]:
        return [self._reason(c, context) for c in completions]

    @staticmethod
    def _reason(c: Completion, context: FilterContext) -> str | None:
        example = context.examples.get(c.sample_index)
        correct = c.correct
        if example is not None and context.task is not None and (correct is None or c.scoring != context.scoring):
            # scored under another rule set (or not at all): score again with the task's own rules
            prediction = context.task.extract(c.answer_text, "direct", context.scoring)
            correct = prediction is not None and context.task.is_correct(prediction, example.answer, context.scoring)
            shown = prediction
        else:
            shown = c.prediction
        if correct:
            return None
        gold = example.answer if example is not None else "?"
        if shown is None:
            return f"no answer found in the teacher's answer {_clip(c.answer_text)!r} (gold {gold!r})"
        return f"teacher answered {shown!r}, gold is {gold!r}"


class MaxTokensFilter(Filter):
    """Drop rationales longer than N student tokens."""

    name = "max-tokens"
    description = "drop rationales longer than N student tokens (max-tokens:N)"
    needs_tokens = True

    def __init__(self, limit: int):
        super().__init__(str(limit))
        self.limit = limit

    @classmethod
    def from_spec(cls, argument: str | None, **options: Any) -> MaxTokensFilter:
        try:
            limit = int(argument) if argument is not None else -1
        except ValueError:
            limit = -1
        if limit < 1:
            raise UserError(f"max-tokens needs a positive token count, e.g. max-tokens:128 (got {argument!r})")
        return cls(limit)

    def reasons(self, completions: Sequence[Completion], context: FilterContext) -> list[str | None]:
        if context.count_tokens is None:
            raise UserError("the max-tokens filter counts student tokens: name a student (--student SPEC)")
        out: list[str | None] = []
        for c in completions:
            n = context.count_tokens(c.rationale.strip())
            out.append(None if n <= self.limit else f"rationale has {n} student tokens > {self.limit}")
        return out


class DedupeFilter(Filter):
    """Drop a rationale already seen for the same example (whitespace and case ignored)."""

    name = "dedupe"
    description = "drop repeated rationales for the same example"

    def reasons(self, completions: Sequence[Completion], context: FilterContext) -> list[str | None]:
        seen: dict[tuple[int, str], int] = {}
        out: list[str | None] = []
        for c in completions:
            key = (c.sample_index, _normalise(c.rationale))
            if key in seen:
                out.append(f"same rationale as completion {seen[key]} of example {c.sample_index}")
            else:
                seen[key] = c.index
                out.append(None)
        return out


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _clip(text: str, size: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= size else text[: size - 3] + "..."


# -- running filters ----------------------------------------------------------------------


@dataclass
class Drop:
    """One dropped completion: which one, which filter dropped it, and why."""

    task: str
    sample_index: int
    completion_index: int
    teacher: str
    filter: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FilterStep:
    """Counts for one filter in a chain: how many it saw, kept and dropped."""

    filter: str
    seen: int
    kept: int
    dropped: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FilterResult:
    """The completions kept, every drop with its provenance, and per-filter counts."""

    kept: list[Completion]
    dropped: list[Drop]
    steps: list[FilterStep]

    @property
    def total(self) -> int:
        return len(self.kept) + len(self.dropped)

    def dropped_by(self, filter_spec: str) -> list[Drop]:
        return [d for d in self.dropped if d.filter == filter_spec]

    def to_dict(self, with_drops: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "completions": self.total,
            "kept": len(self.kept),
            "dropped": len(self.dropped),
            "steps": [s.to_dict() for s in self.steps],
        }
        if with_drops:
            data["drops"] = [d.to_dict() for d in self.dropped]
        return data


def parse_filter_specs(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"correct,max-tokens:128"`` (or several such strings) -> ``("correct", "max-tokens:128")``.

    ``none`` or an empty string means no filters. A piece with ``=`` and no ``:`` continues the
    previous filter's argument, so ``myfilter:a=1,b=2`` stays one spec.
    """
    if text is None:
        return ()
    chunks = [text] if isinstance(text, str) else list(text)
    specs: list[str] = []
    for chunk in chunks:
        for piece in chunk.split(","):
            piece = piece.strip()
            if not piece or piece.lower() == "none":
                continue
            if specs and "=" in piece and ":" not in piece and ":" in specs[-1]:
                specs[-1] += "," + piece
            else:
                specs.append(piece)
    return tuple(specs)


def create_filters(specs: Iterable[str]) -> list[Filter]:
    """Instantiate filter plugins by spec (UserError for unknown names or bad arguments)."""
    from harness.plugins import create

    return [create("filter", spec) for spec in specs]


def needs_tokens(filters: Iterable[Filter]) -> bool:
    return any(getattr(f, "needs_tokens", False) for f in filters)


def apply_filters(
    completions: Iterable[Completion], filters: Sequence[Filter], context: FilterContext
) -> FilterResult:
    """Run ``filters`` in order; failed teacher calls are dropped first (step ``failed``)."""
    current = list(completions)
    dropped: list[Drop] = []
    steps: list[FilterStep] = []

    def run_step(spec: str, reasons: Sequence[str | None]) -> None:
        nonlocal current
        if len(reasons) != len(current):
            raise RuntimeError(f"filter {spec!r} returned {len(reasons)} decisions for {len(current)} completions")
        kept: list[Completion] = []
        before = len(dropped)
        for c, reason in zip(current, reasons):
            if reason is None:
                kept.append(c)
            else:
                dropped.append(Drop(c.task, c.sample_index, c.index, c.teacher, spec, str(reason)))
        steps.append(FilterStep(spec, len(current), len(kept), len(dropped) - before))
        current = kept

    run_step(FAILED_STEP, [f"teacher call failed: {c.error}" if c.failed else None for c in current])
    for f in filters:
        run_step(f.spec, f.reasons(current, context))
    return FilterResult(current, dropped, steps)


@hookimpl
def ftcot_register_filters(register):
    """The built-in filters."""
    register(CorrectFilter)
    register(MaxTokensFilter)
    register(DedupeFilter)
