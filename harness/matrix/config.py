"""A matrix config: one TOML file naming tasks, teachers, students, methods, degrees and seeds,
with training and teacher settings and per-student, per-task and per-teacher overrides.

``tasks``, ``teachers`` and ``students`` are each either a list of plugin specs or a table
whose keys are the specs and whose values hold that entry's overrides::

    students = ["tiny-gpt2"]                     # a plain list, or:
    [students."tiny-llama"]
    num_cpus = 1
    training = { max_steps = 300 }

A task's table may hold ``training`` and its own ``degrees``; a student's ``training``,
``num_cpus`` and ``num_gpus`` (what a Ray task of that student asks for); a teacher's holds
options for that teacher, over the ``[teacher]`` table's.

Every problem in a file (unknown keys, unknown plugin names, wrong types) is reported at
once, in one ``UserError``, each with its line number.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcot.contracts.teacher import CORE_TEACHER_PARAMS
from ftcot.errors import UserError
from ftcot.formatting import FINE_TUNE_COT, METHODS
from ftcot.matrix.tomllines import LineIndex
from ftcot.pipeline import REPORT_EPOCHS
from ftcot.settings import SCORING_RULES
from ftcot.specs import Param
from ftcot.validation import MAX_SEED

TEACHER_METHODS = frozenset({FINE_TUNE_COT})
NO_TEACHER = "none"  # the teacher of cells whose method needs none

TOP_LEVEL = {
    "tasks": "list of task specs, or a table of [tasks.\"SPEC\"] overrides",
    "teachers": "list of teacher specs, or a table of [teachers.\"SPEC\"] options",
    "students": "list of student specs, or a table of [students.\"SPEC\"] overrides",
    "methods": f"list among {', '.join(METHODS)}",
    "degrees": "list of diversity degrees D >= 1",
    "seeds": "list of integer seeds",
    "training": "table of training settings",
    "teacher": "table of teacher settings",
    "data_dir": "path (relative to the config file)",
    "store": "path of the store file (relative to the config file)",
    "scoring": f"one of {', '.join(SCORING_RULES)}",
    "filters": "list of filter specs",
    "report_epoch": f"one of {', '.join(REPORT_EPOCHS)}",
    "split": "split name, e.g. default",
    "parallel": "cells at a time with the local executor (>= 1)",
    "threads_per_cell": "torch threads per cell (>= 1)",
    "max_retries": "times a cell lost with its worker is retried (>= 0)",
    "teacher_test": "true/false: teachers also answer the test questions, for the leaderboard's teacher rows",
}
STUDENT_KEYS = {"training": "table", "num_cpus": "number", "num_gpus": "number"}
TASK_KEYS = {"training": "table", "degrees": "degrees"}


@dataclass
class MatrixConfig:
    """A validated matrix config; paths are resolved against the config file's folder."""

    path: Path
    tasks: list[str]
    teachers: list[str]
    students: list[str]
    methods: list[str]
    degrees: list[int] = field(default_factory=lambda: [1])
    seeds: list[int] = field(default_factory=lambda: [0])
    training: dict[str, Any] = field(default_factory=dict)
    teacher_options: dict[str, Any] = field(default_factory=dict)
    student_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    teacher_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_dir: Path | None = None
    store: Path | None = None
    scoring: str | None = None
    filters: list[str] = field(default_factory=lambda: ["correct"])
    report_epoch: str = "last"
    split: str = "default"
    parallel: int = 1
    threads_per_cell: int | None = None
    max_retries: int = 1
    teacher_test: bool = True

    def training_for(self, task: str, student: str) -> dict[str, Any]:
        """Training settings of one cell: global, then the task's, then the student's; a student
        asking for N > 1 GPUs trains data-parallel in N processes unless it sets ``data_parallel``."""
        merged = dict(self.training)
        merged.update(self.task_overrides.get(task, {}).get("training", {}))
        merged.update(self.student_overrides.get(student, {}).get("training", {}))
        gpus = self.student_overrides.get(student, {}).get("num_gpus", 0)
        if gpus > 1:
            merged.setdefault("data_parallel", int(gpus))
        return merged

    def degrees_for(self, task: str) -> list[int]:
        """Diversity degrees of a task's Fine-tune-CoT cells: the task's own list, else ``degrees``."""
        return list(self.task_overrides.get(task, {}).get("degrees", self.degrees))

    def teacher_options_for(self, teacher: str) -> dict[str, Any]:
        """The ``[teacher]`` options this teacher reads (the core's and its own), then its own table."""
        known = {p.name for p in _teacher_params(teacher)}
        shared = {k: v for k, v in self.teacher_options.items() if k in known}
        return {**shared, **self.teacher_overrides.get(teacher, {})}

    def resources_for(self, student: str) -> dict[str, float]:
        """Ray resources a cell of this student asks for."""
        own = self.student_overrides.get(student, {})
        return {"num_cpus": float(own.get("num_cpus", self.threads_per_cell or 1)),
                "num_gpus": float(own.get("num_gpus", 0))}


class _Problems:
    """Collects problems with their line numbers; raises them together."""

    def __init__(self, path: Path, index: LineIndex):
        self.path, self.index = path, index
        self.items: list[tuple[int, str]] = []

    def add(self, key: tuple[str, ...], message: str, value: str | None = None) -> None:
        line = self.index.line_of_value(key, value) if value is not None else self.index.line_of(key)
        self.items.append((line or 0, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = [f"  line {line}: {msg}" if line else f"  {msg}" for line, msg in sorted(self.items)]
        noun = "problem" if len(lines) == 1 else "problems"
        raise UserError(
            f"matrix config {self.path} has {len(lines)} {noun} (fix them and run again):\n" + "\n".join(lines)
        )


def _type_name(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _known_names(kind: str) -> list[str]:
    from ftcot.registry import registry

    return registry().names(kind)


def _where_spec(key: str, spec: str, as_table: bool) -> tuple[tuple[str, ...], str | None]:
    """Where a spec of ``tasks``/``teachers``/``students`` is written: its own table, or a list item."""
    return ((key, spec), None) if as_table else ((key,), spec)


def _check_plugins(data: dict, key: str, kind: str, specs: list[str], problems: _Problems,
                   options_for: dict[str, dict[str, Any]] | None = None) -> None:
    """Build each plugin, as a cell would, so a bad argument (``coin_flip:flipz=3``,
    ``tiny-llama:layers=-1``) is reported now, not after a teacher has been paid."""
    from ftcot.registry import build_problem

    as_table = isinstance(data.get(key), dict)
    for spec in specs:
        problem = build_problem(kind, spec, **((options_for or {}).get(spec, {})))
        if problem is not None:
            where, value = _where_spec(key, spec, as_table)
            problems.add(where, f"{kind} {spec!r}: {problem}", value=value)


def _check_settings(model: type, table: Any, where: tuple[str, ...], what: str, problems: _Problems) -> None:
    """Every problem of one settings table (training settings, teacher options), at its line."""
    from ftcot.validation import UNKNOWN_SETTING
    from ftcot.validation import problems as found

    if not isinstance(table, dict):
        return
    for loc, message in found(model, table):
        name = ".".join(str(part) for part in loc)
        text = f"unknown {what} {name!r}" if message == UNKNOWN_SETTING else f"{what} {name} {message}"
        problems.add(where + (str(loc[0]),) if loc else where, text)


def _check_spec_list(data: dict, key: str, kind: str, problems: _Problems,
                     allowed: dict[str, str] | None) -> tuple[list[str], dict[str, dict]]:
    """``tasks``/``teachers``/``students``: a list of specs or a table of spec -> overrides."""
    value = data.get(key)
    if value is None:
        return [], {}
    overrides: dict[str, dict] = {}
    if isinstance(value, list):
        specs = value
    elif isinstance(value, dict):
        specs = list(value)
        for spec, own in value.items():
            if not isinstance(own, dict):
                problems.add((key, spec), f"{key}.{spec!r} must be a table of settings, not {_type_name(own)}")
                continue
            if allowed is not None:
                for sub, sub_value in own.items():
                    if sub not in allowed:
                        problems.add((key, spec, sub), f"unknown key {sub!r} under {key}.{spec!r} "
                                     f"(known: {', '.join(sorted(allowed))})")
                    elif allowed[sub] == "table" and not isinstance(sub_value, dict):
                        problems.add((key, spec, sub), f"{key}.{spec!r}.{sub} must be a table, not {_type_name(sub_value)}")
                    elif allowed[sub] == "number" and not (_is_number(sub_value) and sub_value >= 0):
                        problems.add((key, spec, sub), f"{key}.{spec!r}.{sub} must be a number >= 0")
                    elif allowed[sub] == "degrees" and not (
                            isinstance(sub_value, list) and sub_value
                            and all(_is_int(d) and d >= 1 for d in sub_value)):
                        problems.add((key, spec, sub), f"{key}.{spec!r}.{sub} must be a list of integers >= 1")
            overrides[spec] = own
    else:
        problems.add((key,), f"{key} must be a list of {kind} specs or a table, not {_type_name(value)}")
        return [], {}
    good: list[str] = []
    known = _known_names(kind)
    for spec in specs:
        if not isinstance(spec, str) or not spec.strip():
            problems.add((key,), f"{key} entries must be non-empty strings, not {spec!r}")
            continue
        name = spec.partition(":")[0].strip()
        if name not in known:
            message = f"unknown {kind} {name!r} in {key} (known: {', '.join(known) or 'none'}; `ftcot plugins` lists them)"
            if isinstance(value, dict):
                problems.add((key, spec), message)
            else:
                problems.add((key,), message, value=spec)
            continue
        good.append(spec)
    if len(set(specs)) != len(specs):
        problems.add((key,), f"{key} lists the same {kind} twice")
    return good, overrides


def _check_list(data: dict, key: str, problems: _Problems, item_ok, what: str) -> list | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        problems.add((key,), f"{key} must be a list of {what}, not {_type_name(value)}")
        return None
    bad = [item for item in value if not item_ok(item)]
    for item in bad:
        problems.add((key,), f"{key}: {item!r} is not {what}", value=str(item) if isinstance(item, str) else None)
    return value if not bad else None


def _teacher_params(spec: str) -> tuple[Param, ...]:
    """The options teacher ``spec`` reads: the core's and the ones its plugin declares."""
    from ftcot.contracts.teacher import teacher_params
    from ftcot.pipeline.cell import teacher_class

    return teacher_params(teacher_class(spec))


def _check_teacher_tables(data: dict, teachers: list[str], overrides: dict[str, dict],
                          problems: _Problems) -> dict[str, dict[str, Any]]:
    """Check ``[teacher]`` (an option some teacher of the matrix, or the core, reads) and each
    ``[teachers."SPEC"]`` (options that teacher reads); the options of each good teacher."""
    by_teacher = {spec: {p.name: p for p in _teacher_params(spec)} for spec in teachers}
    shared: dict[str, Any] = data["teacher"] if isinstance(data.get("teacher"), dict) else {}
    known_anywhere = {name: param for params in [{p.name: p for p in CORE_TEACHER_PARAMS}, *by_teacher.values()]
                      for name, param in params.items()}
    for name, value in shared.items():
        readers = [params[name] for params in by_teacher.values() if name in params] or (
            [known_anywhere[name]] if name in known_anywhere else [])
        if not readers:
            problems.add(("teacher", name), f"unknown teacher option {name!r}: no teacher of the matrix reads it "
                                            f"(known: {', '.join(known_anywhere)})")
        elif (problem := readers[0].problem(value)) is not None:
            problems.add(("teacher", name), f"teacher option {name} {problem}")
    options: dict[str, dict[str, Any]] = {}
    for spec in teachers:
        params, own, bad = by_teacher[spec], overrides.get(spec, {}), False
        for name, value in own.items():
            problem = params[name].problem(value) if name in params else (
                f"is not an option of this teacher (known: {', '.join(params)})")
            if problem is not None:
                bad = True
                problems.add(("teachers", spec, name), f"teacher option {name} {problem}")
        if not bad:
            merged = {**{k: v for k, v in shared.items() if k in params}, **own}
            options[spec] = {k: v for k, v in merged.items() if k != "temperature"}
    return options


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = ""
        if "twice" in str(exc):
            hint = ("; note that a list (tasks = [...]) and tables ([tasks.\"X\"]) of the same key cannot "
                    "be mixed: write every entry as a table")
        raise UserError(f"matrix config {path} is not valid TOML: {exc}{hint}") from None


def _check_filters(data: dict, problems: _Problems) -> list[str] | None:
    filters = _check_list(data, "filters", problems, lambda f: isinstance(f, str) and f, "a filter spec")
    known = _known_names("filter")
    for spec in filters or []:
        name = spec.partition(":")[0]
        if name not in known:
            problems.add(("filters",), f"unknown filter {name!r} (known: {', '.join(known) or 'none'})", value=spec)
            continue
        from ftcot.registry import build_problem

        problem = build_problem("filter", spec)
        if problem is not None:
            problems.add(("filters",), f"filter {spec!r}: {problem}", value=spec)
    return filters


def _check_scalars(data: dict, problems: _Problems) -> None:
    """The top-level keys that hold one value (paths, choices, counts)."""
    for key in ("training", "teacher"):
        if key in data and not isinstance(data[key], dict):
            problems.add((key,), f"{key} must be a table, not {_type_name(data[key])}")
    for key in ("data_dir", "store", "split"):
        if key in data and not isinstance(data[key], str):
            problems.add((key,), f"{key} must be a string, not {_type_name(data[key])}")
    for key, choices in (("scoring", SCORING_RULES), ("report_epoch", REPORT_EPOCHS)):
        if key in data and data[key] not in choices:
            problems.add((key,), f"{key} must be one of {', '.join(choices)}, not {data[key]!r}")
    if "teacher_test" in data and not isinstance(data["teacher_test"], bool):
        problems.add(("teacher_test",), f"teacher_test must be true or false, not {data['teacher_test']!r}")
    for key, low in (("parallel", 1), ("threads_per_cell", 1), ("max_retries", 0)):
        if key in data and not (_is_int(data[key]) and data[key] >= low):
            problems.add((key,), f"{key} must be an integer >= {low}, not {data[key]!r}")


def _check_gpus(data: dict, student_overrides: dict[str, dict], problems: _Problems) -> None:
    for spec, own in student_overrides.items():
        gpus = own.get("num_gpus", 0)
        if isinstance(gpus, (int, float)) and gpus > 1:
            if gpus != int(gpus):
                problems.add(("students", spec, "num_gpus"), f"num_gpus above 1 must be a whole number (one "
                             f"training process per GPU), not {gpus}")
            if data.get("report_epoch", "last") != "last":
                problems.add(("students", spec, "num_gpus"), "num_gpus above 1 trains data-parallel, which reports "
                             "the last epoch only: use report_epoch = \"last\" or one GPU")


def _check_training_tables(data: dict, overrides: dict[str, dict[str, dict]], problems: _Problems) -> None:
    from ftcot.validation import TrainingSettings

    sections: list[tuple[tuple[str, ...], Any]] = [(("training",), data.get("training"))]
    for key in ("tasks", "students"):
        sections += [((key, spec, "training"), own.get("training")) for spec, own in overrides[key].items()]
    for where, table in sections:
        _check_settings(TrainingSettings, table, where, "training setting", problems)


def parse_config(text: str, path: Path) -> MatrixConfig:
    """Validate a config's text; ``path`` names it in errors and anchors relative paths."""
    data = _parse_toml(text, path)
    problems = _Problems(path, LineIndex(text))
    for key in data:
        if key not in TOP_LEVEL:
            problems.add((key,), f"unknown key {key!r} (known: {', '.join(TOP_LEVEL)})")

    tasks, task_overrides = _check_spec_list(data, "tasks", "task", problems, TASK_KEYS)
    teachers, teacher_overrides = _check_spec_list(data, "teachers", "teacher", problems, None)
    students, student_overrides = _check_spec_list(data, "students", "student", problems, STUDENT_KEYS)
    for key in ("tasks", "students", "methods"):
        if key not in data:
            problems.add((), f"missing key {key!r}: {TOP_LEVEL[key]}")
    for key in ("tasks", "students", "methods", "degrees", "seeds"):
        if key in data and isinstance(data[key], (list, dict)) and not data[key]:
            problems.add((key,), f"{key} is empty: the matrix would have no cells")
    methods = _check_list(data, "methods", problems, lambda m: m in METHODS, f"a method ({', '.join(METHODS)})") or []
    degrees = _check_list(data, "degrees", problems, lambda d: _is_int(d) and d >= 1, "an integer >= 1")
    seeds = _check_list(data, "seeds", problems, lambda s: _is_int(s) and 0 <= s <= MAX_SEED,
                        f"an integer from 0 to {MAX_SEED}")
    filters = _check_filters(data, problems)
    if any(m in TEACHER_METHODS for m in methods) and not data.get("teachers"):
        problems.add(("methods",), "methods include fine-tune-cot, which needs `teachers` (e.g. teachers = [\"oracle\"])")
    _check_scalars(data, problems)
    _check_gpus(data, student_overrides, problems)
    _check_training_tables(data, {"tasks": task_overrides, "students": student_overrides}, problems)
    teacher_options = _check_teacher_tables(data, teachers, teacher_overrides, problems)
    _check_plugins(data, "tasks", "task", tasks, problems)
    _check_plugins(data, "students", "student", students, problems)
    _check_plugins(data, "teachers", "teacher", [t for t in teachers if t in teacher_options], problems,
                   teacher_options)
    problems.raise_if_any()
    return _config(data, path, tasks, teachers, students, methods, degrees, seeds, filters,
                   (task_overrides, teacher_overrides, student_overrides))


def _config(data: dict, path: Path, tasks: list[str], teachers: list[str], students: list[str], methods: list[str],
            degrees: list | None, seeds: list | None, filters: list | None,
            overrides: tuple[dict, dict, dict]) -> MatrixConfig:
    """The checked ``data`` as a ``MatrixConfig``."""
    base = path.resolve().parent
    return MatrixConfig(
        path=path,
        tasks=tasks,
        teachers=teachers,
        students=students,
        methods=list(dict.fromkeys(methods)),
        degrees=list(dict.fromkeys(degrees or [1])),
        seeds=list(dict.fromkeys(seeds or [0])),
        training=dict(data.get("training", {})),
        teacher_options=dict(data.get("teacher", {})),
        task_overrides=overrides[0],
        teacher_overrides=overrides[1],
        student_overrides=overrides[2],
        data_dir=(base / data["data_dir"]) if "data_dir" in data else None,
        store=(base / data["store"]) if "store" in data else None,
        scoring=data.get("scoring"),
        filters=list(filters) if filters is not None else ["correct"],
        report_epoch=data.get("report_epoch", "last"),
        split=data.get("split", "default"),
        parallel=data.get("parallel", 1),
        threads_per_cell=data.get("threads_per_cell"),
        max_retries=data.get("max_retries", 1),
        teacher_test=data.get("teacher_test", True),
    )


def load_config(path: str | Path) -> MatrixConfig:
    """Read and validate the config file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read matrix config {path}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"matrix config {path} is not UTF-8 text (byte {exc.start}): give a TOML file") from None
    return parse_config(text, path)
