"""Filters: which teacher completions become training samples.

The contract is ``ftcot.api.Filter``; the pipeline's filter stage runs them in order.

Built-ins (registered below through the same hook a third-party package uses):

- ``correct``: keep completions whose predicted answer equals the gold answer (the paper's filter);
- ``max-tokens:N``: drop rationales longer than N tokens of the student's tokenizer;
- ``dedupe``: drop a rationale already seen for the same example.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ftcot.api import Completion, Filter, FilterContext, Register, UserError, hookimpl


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


@hookimpl
def ftcot_register_filters(register: Register) -> None:
    """The built-in filters."""
    register(CorrectFilter)
    register(MaxTokensFilter)
    register(DedupeFilter)
