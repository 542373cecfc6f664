"""What names a cell (``CellSpec``) and its keys, and the plain picklable data passed between
the stages: ``Sample`` and ``EvalItem``, ``CellInputs`` (driver to worker) and ``CellOutputs``
(worker to driver)."""

from __future__ import annotations

import contextvars
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ftcot import formatting as fmt
from ftcot.contracts.student import OPERATIONAL_FIELDS, TrainConfig
from ftcot.contracts.teacher import ALL_COMPLETIONS, default_temperature, teacher_params
from ftcot.errors import UserError
from ftcot.pipeline.scorer import Scorer
from ftcot.records import Record
from ftcot.secrets import SECRET_NAME, public_options
from ftcot.specs import declared_params, flag
from ftcot.store import content_key
from ftcot.validation import check_cell, check_teacher_options, check_training

PIPELINE_VERSION = 1
REPORT_EPOCHS = ("last", "best-on-test", "best-on-val")
REPORT_EPOCH_LABELS = {
    "last": "last epoch",
    "best-on-val": "best epoch on a validation slice of the training split",
    "best-on-test": "best epoch on the TEST set (the paper's protocol; optimistic)",
}
VAL_FRACTION = 0.1
VAL_MAX = 500
VAL_SEED = 0
# How a diverse-reasoning cell's training budget relates to D = 1's (``d_protocol``).
D_PROTOCOL_LABELS = {
    "epochs": "D > 1 trains as many epochs as D = 1, on D times the samples (the paper's protocol)",
    "steps": "D > 1 trains as many optimizer steps as D = 1 (max_steps), so fewer epochs",
}
# baselines prompt a base model: cap their generation like the teacher's two steps
BASELINE_MAX_NEW_TOKENS = {"zero-shot": 32, "zero-shot-cot": 128, "zero-shot-cot-answer": 32, "few-shot-cot": 256}
# set while a spec is read back from the store: an option its teacher no longer declares (an
# older matrix gave shared options to every teacher) was accepted when stored, so it stays readable
_READING_STORED = contextvars.ContextVar("reading_stored", default=False)


@dataclass(frozen=True)
class CellSpec:
    """Everything that names one cell of a matrix; JSON round-trippable."""

    task: str
    teacher: str
    student: str
    method: str
    degree: int = 1
    seed: int = 0
    training: dict = field(default_factory=dict)  # TrainConfig overrides
    teacher_options: dict = field(default_factory=dict)  # temperature, concurrency, ...
    filters: tuple[str, ...] = ("correct",)
    report_epoch: str = "last"
    split: str = "default"

    def __post_init__(self) -> None:
        filters = (self.filters,) if isinstance(self.filters, str) else tuple(self.filters or ())
        check_cell({**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "filters": filters,
                    "training": self.training or {}, "teacher_options": self.teacher_options or {}})
        if isinstance(self.teacher_options, dict):
            cls = teacher_class(self.teacher)  # unknown teacher: reported where it is built
            lenient = (cls is None and self.teacher != "none") or _READING_STORED.get()
            check_teacher_options(self.teacher_options, cls, known_only=lenient)
        fmt.check_method(self.method)
        if self.report_epoch not in REPORT_EPOCHS:
            raise UserError(f"unknown report epoch {self.report_epoch!r}; choose one of {', '.join(REPORT_EPOCHS)}")
        if int(self.degree) < 1:
            raise UserError(f"degree must be >= 1, got {self.degree}")
        object.__setattr__(self, "degree", int(self.degree))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "training", dict(self.training or {}))
        object.__setattr__(self, "teacher_options", dict(self.teacher_options or {}))
        object.__setattr__(self, "filters", filters)

    def __hash__(self) -> int:  # the dict fields are not hashable; hash their JSON
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["filters"] = list(self.filters)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise UserError(f"unknown cell field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   and f.name not in data]
        if missing:
            raise UserError(f"a cell needs the field(s) {', '.join(missing)}")
        return cls(**data)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> CellSpec:
        """A spec as a result recorded it: like ``from_dict``, but an option its teacher does not
        declare (any more) is kept rather than refused, so the result's key still matches."""
        token = _READING_STORED.set(True)
        try:
            return cls.from_dict(data)
        finally:
            _READING_STORED.reset(token)

    @property
    def uses_teacher(self) -> bool:
        return self.method == fmt.FINE_TUNE_COT

    @property
    def trains(self) -> bool:
        return self.method in fmt.TRAINED_METHODS

    @property
    def temperature(self) -> float:
        return float(self.teacher_options.get("temperature", default_temperature(self.degree)))


def teacher_class(teacher: str) -> type | None:
    """The plugin class of the teacher spec ``teacher``; None where none resolves (``none``, or
    an unknown teacher, which is reported where the teacher is built)."""
    from ftcot.registry import registry

    try:
        return registry().resolve("teacher", teacher)[0]
    except UserError:
        return None


def unkeyed_teacher_options(teacher: str) -> frozenset[str]:
    """The options of ``teacher`` (the core's and its own) declared ``keyed=False``: they change
    how completions are fetched, not what they are."""
    return frozenset(p.name for p in teacher_params(teacher_class(teacher)) if not p.keyed)


def train_config(spec: CellSpec) -> TrainConfig:
    """The cell's ``TrainConfig``: the paper's defaults with ``spec.training`` (checked when the
    spec was made) on top."""
    check_training(spec.training)
    return TrainConfig(**spec.training)


def d_protocol(training: dict[str, Any]) -> str:
    """``steps`` when the budget is ``max_steps`` (the same for every D), else ``epochs``."""
    return "steps" if training.get("max_steps") else "epochs"


def public_student(student: str) -> str:
    """The student spec as keys, labels and the store name it: without the options its plugin
    declares operational (``Student.operational_options``: an address, a poll interval, ...).
    A spec with none of them comes back unchanged, so its keys stay what they were."""
    _name, sep, argument = student.partition(":")
    if not sep or "=" not in argument:
        return student
    from ftcot.registry import registry

    try:
        cls = registry().resolve("student", student)[0]
    except UserError:
        return student  # reported where the student is built
    dropped = frozenset(getattr(cls, "operational_options", ())) | {p.name for p in declared_params(cls) if not p.keyed}
    if not dropped:
        return student
    pieces = [p for p in argument.split(",") if p.partition("=")[0].strip() not in dropped or "=" not in p]
    return f"{_name}:{','.join(pieces)}"


def public_spec(spec: CellSpec) -> dict[str, Any]:
    """``spec`` as the store, baselines and exports keep it: the public student, teacher options
    without credentials and with public addresses."""
    return spec.to_dict() | {"student": public_student(spec.student),
                             "teacher_options": public_teacher_options(spec.teacher_options)}


def public_teacher_options(options: dict[str, Any]) -> dict[str, Any]:
    """Teacher options as they are stored: no credential, every address without its userinfo."""
    return public_options(options)


def cell_key(spec: CellSpec, scoring: str) -> str:
    """Content hash of what determines the cell's result: the spec (teacher options that only
    change how completions are fetched, a student's operational options and training settings
    that only change memory or speed left out; the replay selection ``all_completions`` keyed only when true), the scoring rule set
    and the pipeline version."""
    data = spec.to_dict()
    data["student"] = public_student(spec.student)
    data["training"] = {k: v for k, v in spec.training.items() if k not in OPERATIONAL_FIELDS}
    unkeyed = unkeyed_teacher_options(spec.teacher)
    options = {k: v for k, v in spec.teacher_options.items() if k not in unkeyed and not SECRET_NAME.search(k)}
    if ALL_COMPLETIONS in options:  # "yes", 1 and true select the same completions; false is the default
        if flag(options.pop(ALL_COMPLETIONS), ALL_COMPLETIONS):
            options[ALL_COMPLETIONS] = True
    data["teacher_options"] = options
    return content_key("cell", PIPELINE_VERSION, data, scoring)


@dataclass(frozen=True)
class Sample:
    """One training example as the student will see it, before formatting."""

    sample_index: int
    completion_index: int
    question: str
    answer: str
    rationale: str | None = None  # None for vanilla fine-tuning


@dataclass(frozen=True)
class EvalItem:
    sample_index: int
    question: str
    gold: str


@dataclass(frozen=True)
class Answer(Record):
    """A student's scored answer to one test question: what evaluate hands to record."""

    sample_index: int
    text: str
    prediction: str | None
    correct: bool


@dataclass
class CellInputs:
    """What ``execute_cell`` needs: no store, no task files."""

    key: str
    spec: dict[str, Any]
    scoring: str
    task_key: str
    student: str
    method: str
    seed: int
    config: dict[str, Any]
    report_epoch: str
    samples: list[Sample]
    test: list[EvalItem]
    val: list[EvalItem]
    exemplars: str
    scorer: Scorer
    timing: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # teacher and filter summaries, for the record


@dataclass
class CellOutputs:
    """What ``execute_cell`` returns to the driver."""

    key: str
    spec: dict[str, Any]
    scoring: str
    task_key: str
    method: str
    predictions: list[Answer]
    accuracy: float
    n: int
    train_samples: int
    report_epoch: str
    epoch: int | None = None
    model_key: str | None = None
    model_path: str | None = None
    reused_model: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
