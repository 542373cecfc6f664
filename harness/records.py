"""Typed records that flow through the pipeline; each is JSON round-trippable with
``to_dict``/``from_dict`` (and ``to_json``/``from_json``)."""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from typing import Any, Self


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


class Record:
    """Mixin: dict and JSON conversion for a flat dataclass of JSON-friendly fields."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = _field_names(cls)  # type: ignore[arg-type]  # a dataclass type is hashable
        if names.issuperset(data):
            return cls(**data)
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))


@dataclass
class Example(Record):
    """One question of a task, formatted as prompted (choices rendered into the question)."""

    task: str
    sample_index: int
    question: str
    answer: str
    choices: list[str] | None = None
    rationale: str | None = None  # a reference rationale, where the dataset has one
    meta: dict[str, Any] = field(default_factory=dict)  # generator state, e.g. for oracle rationales


@dataclass
class Completion(Record):
    """One teacher completion (the two Zero-shot-CoT steps) for one example, or a recorded failure."""

    task: str
    sample_index: int
    teacher: str
    index: int
    reasoning_prompt: str = ""
    rationale: str = ""
    answer_prompt: str = ""
    answer_text: str = ""
    prediction: str | None = None
    correct: bool | None = None
    finish_reason: str | None = None
    temperature: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None  # set when every try failed; a later run retries it
    scoring: str = "paper"

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class ReasoningSample(Record):
    """A completion kept by the filters, formatted as a student's (input, target) pair."""

    task: str
    sample_index: int
    completion_index: int
    teacher: str
    question: str
    rationale: str
    answer: str
    input: str
    target: str


@dataclass
class Prediction(Record):
    """A student's output on one test example, scored."""

    task: str
    sample_index: int
    student: str
    method: str
    text: str
    prediction: str | None
    correct: bool
    scoring: str = "paper"


@dataclass
class CellResult(Record):
    """One matrix cell: a (task, teacher, student, method, degree, seed) and its outcome."""

    task: str
    teacher: str
    student: str
    method: str
    degree: int = 1
    seed: int = 0
    accuracy: float | None = None
    n: int = 0
    train_samples: int = 0
    scoring: str = "paper"
    status: str = "done"  # done | failed
    error: str | None = None
    model_path: str | None = None
    epoch: int | None = None
    report_epoch: str = "last"
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


BATCH_ABANDONED = "abandoned"  # given up with `ftcot batches --abandon` (the provider lost it)
BATCH_DONE_STATUSES = ("completed", "failed", "expired", "cancelled", BATCH_ABANDONED)  # a batch that will not change
BATCH_SUBMITTING = "submitting"  # input file uploaded, batch maybe not created yet: ``id`` is the file's id


@dataclass
class BatchRecord(Record):
    """A provider batch job a teacher submitted: what it answers and how far it got.

    ``members``: each request's ``custom_id`` and the completion keys it answers. ``pending``: the
    keys whose results were not yet taken (handed to step 2, or stored); the batch is ``collected``
    once none are left. ``carried``: for a step-2 batch, each key's step-1 result (rationale,
    finish_reason, prompt_tokens, completion_tokens, cost_usd). No address and no key is kept.
    """

    id: str
    teacher: str
    task: str
    step: str  # "reasoning" (step 1) or "answer" (step 2)
    status: str  # BATCH_SUBMITTING, or the provider's: validating, in_progress, completed, failed, expired, ...
    requests: int
    input_file: str
    endpoint: str = ""
    output_file: str | None = None
    error_file: str | None = None
    completed: int = 0
    failed: int = 0
    created: float = 0.0
    members: dict[str, list[str]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    carried: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None

    @property
    def done(self) -> bool:
        """Whether the provider has finished with it (successfully or not)."""
        return self.status in BATCH_DONE_STATUSES

    @property
    def collected(self) -> bool:
        return not self.pending

    def status_line(self) -> str:
        """``batch_abc: in_progress, 3/24 done, 0 failed (step 1, coin_flip)``."""
        step = "step 1" if self.step == "reasoning" else "step 2"
        return (f"{self.id}: {self.status}, {self.completed}/{self.requests} done, {self.failed} failed "
                f"({step}, {self.task})")
