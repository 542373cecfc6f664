"""The one validated settings model: training settings, teacher options and a cell's fields,
checked the same way wherever they come from (command line, matrix file, pytest fixture,
baseline), before any teacher is asked or any model trained.

Each model only checks: a value that is not given stays absent, so the defaults live where they
are used (``TrainConfig``, the teachers) and what is stored (cell keys) does not change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ftcot.errors import UserError

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
UNKNOWN_SETTING = "is not a known setting"


class _Checked(BaseModel):
    """Strict types (no ``"5"`` for 5, no ``true`` for 1), every problem reported at once."""

    model_config = ConfigDict(strict=True, extra="forbid")


class TrainingSettings(_Checked):
    """Overrides of ``ftcot.contracts.student.TrainConfig``; its field names, checked."""

    lr: PositiveFloat | None = None
    epochs: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    max_length: PositiveInt | None = None
    warmup_steps: NonNegativeInt | None = None
    grad_accum: PositiveInt | None = None
    max_steps: PositiveInt | None = None
    max_new_tokens: PositiveInt | None = None
    eval_batch_size: PositiveInt | None = None
    lora: str | None = None
    weight_decay: NonNegativeFloat | None = None
    max_grad_norm: NonNegativeFloat | None = None
    gradient_checkpointing: bool | None = None
    data_parallel: PositiveInt | None = None

    @field_validator("lora")
    @classmethod
    def _lora(cls, value: str | None) -> str | None:
        if value is not None:
            from ftcot.specs import parse_lora

            try:
                parse_lora(value)
            except UserError as exc:
                raise ValueError(str(exc)) from None
        return value


MAX_SEED = 2**32 - 1  # the widest range every seeded library (torch, numpy, providers) takes
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


class CellSettings(_Checked):
    """The fields of a ``CellSpec``."""

    task: Annotated[str, Field(min_length=1)]
    teacher: Annotated[str, Field(min_length=1)]
    student: Annotated[str, Field(min_length=1)]
    method: str
    degree: PositiveInt = 1
    seed: Seed = 0
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    teacher_options: dict[str, Any] = Field(default_factory=dict)  # checked by check_teacher_options
    filters: tuple[str, ...] | list[str] = ("correct",)
    report_epoch: str = "last"
    split: Annotated[str, Field(min_length=1)] = "default"


Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class BaselineCellModel(_Checked):
    """One cell of a baseline file (``ftcot.check``); its ``spec`` is checked as a cell."""

    model_config = ConfigDict(strict=True, extra="allow")

    spec: dict[str, Any]
    accuracy: Fraction
    n: PositiveInt
    key: str = ""
    duration_s: NonNegativeFloat = 0.0
    spread: Fraction | None = None
    seeds: PositiveInt = 1
    texts: dict[str, str] = Field(default_factory=dict)
    throughput: dict[str, NonNegativeFloat] = Field(default_factory=dict)


class BaselineModel(_Checked):
    """A baseline file: at least one cell, accuracies in [0, 1], ``n`` >= 1."""

    model_config = ConfigDict(strict=True, extra="allow")

    ftcot_baseline: Literal[1]
    created: str = ""
    scoring: Literal["paper", "strict"] = "paper"
    versions: dict[str, str] = Field(default_factory=dict)
    data: dict[str, str | None] = Field(default_factory=dict)
    cells: Annotated[list[BaselineCellModel], Field(min_length=1)]


def problems(model: type[BaseModel], data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(location, message) for every problem of ``data`` as ``model``; empty when it is valid."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [(tuple(err["loc"]), describe(err)) for err in exc.errors()]
    return []


def describe(err: Any) -> str:
    """One pydantic error as a short phrase with the value given, e.g. ``must be > 0, got -1``."""
    kind, ctx = err["type"], err.get("ctx") or {}
    given = err.get("input")
    if kind == "extra_forbidden":
        return UNKNOWN_SETTING
    if kind == "missing":
        return "is missing"
    text = {
        "greater_than": f"must be > {ctx.get('gt')}",
        "greater_than_equal": f"must be >= {ctx.get('ge')}",
        "finite_number": "must be a finite number",
        "int_type": "must be an integer",
        "float_type": "must be a number",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "dict_type": "must be a table of settings",
        "literal_error": f"must be one of {ctx.get('expected')}",
        "string_too_short": "must not be empty",
        "too_short": "must not be empty",
        "less_than_equal": f"must be <= {ctx.get('le')}",
        "list_type": "must be a list",
    }.get(kind)
    if text is None:
        text = err["msg"].removeprefix("Value error, ")
        text = text[:1].lower() + text[1:]
    return text if kind == "value_error" else f"{text}, got {given!r}"


def joined(found: list[tuple[tuple[str | int, ...], str]], prefix: str = "") -> str:
    """Problems as one line: ``lr must be > 0, got -1.0; batch_size must be >= 1, got 0``."""
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in loc)} {message}" for loc, message in found)


def check_training(training: dict[str, Any]) -> None:
    """UserError naming every bad training setting."""
    found = problems(TrainingSettings, training)
    if found:
        raise UserError(f"bad training settings: {joined(found)}")


def check_teacher_options(options: dict[str, Any], teacher: type | None = None, *, known_only: bool = False) -> None:
    """UserError naming every bad option: one that neither the core (``CORE_TEACHER_PARAMS``) nor
    the ``teacher`` class declares, or a value its ``Param`` refuses. ``known_only``: check the
    values of the options that are declared and let the rest pass (the teacher is not known)."""
    from ftcot.contracts.teacher import teacher_params

    params = {p.name: p for p in teacher_params(teacher)}
    unknown = sorted(name for name in options if name not in params)
    if unknown and not known_only:
        whose = f"teacher {getattr(teacher, 'name', '') or teacher.__name__}" if teacher is not None else "no teacher"
        raise UserError(f"{whose}: unknown option(s) {', '.join(unknown)}; known: {', '.join(params)}")
    found = [(name, params[name].problem(value)) for name, value in options.items() if name in params]
    bad = [f"{name} {problem}" for name, problem in found if problem]
    if bad:
        raise UserError(f"bad teacher options: {'; '.join(bad)}")


def check_cell(fields: dict[str, Any]) -> None:
    """UserError naming every bad field of a cell (a ``CellSpec`` as a dict)."""
    found = problems(CellSettings, fields)
    if found:
        raise UserError(f"bad cell settings: {joined(found)}")
