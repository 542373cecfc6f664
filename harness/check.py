"""The regression gate: a baseline file of cells and their accuracies, and the comparison of a
new run of the same cells against it.

A baseline file is JSON::

    {
      "ftcot_baseline": 1,
      "created": "2026-11-26T01:02:03+00:00",
      "scoring": "paper",
      "versions": {"ftcot": "0.1.0", "torch": "2.13.0", "transformers": "5.24.0", "python": "3.12.3"},
      "data": {"<task spec>": "<task.fingerprint()>", ...},
      "cells": [{"spec": {<CellSpec.to_dict()>}, "key": "<cell_key>", "accuracy": 0.94, "n": 200,
                 "duration_s": 41.2, "spread": 0.012, "seeds": 3,
                 "texts": {"teacher_step1": "Q: ...", "train_target": " {rationale} --> yes END", ...},
                 "throughput": {"train": 84.2, "eval": 67.3}}, ...]
    }

``spread``, ``seeds``, ``texts`` and ``throughput`` are optional (older baselines lack them).

A cell is *worse* when its accuracy drops below the baseline's by more than its tolerance: the
drop a one-sided z-test at alpha = 0.001 per cell calls unlikely under the cell's own noise,
``3.09 * sqrt(2*s**2 + v(p1, n1) + v(p2, n2))``. ``s`` is the standard deviation of the cell's
accuracy over the seeds recorded in the baseline (cells that differ only in ``seed``): a run on
another CPU or thread count is a fresh draw of the training noise, so the difference of two
draws has twice its variance. ``v(p, n) = q(1-q)/n`` with ``q = (pn+1)/(n+2)`` is the binomial
variance of an accuracy over ``n`` test questions (``q`` keeps it above 0 at 0% and 100%), the
floor for a cell whose seeds agreed by chance. The tolerance is never below 2 points; it is
the smallest drop the cell can detect, and the report shows it. ``--tolerance`` fixes it instead.

A cell is *changed* when the texts it builds (``ftcot.pipeline.texts``: the teacher's two
prompts, the training pair, the evaluation prompt, the stop marker) differ from the baseline's,
and *slower*, when asked (``speed``), when its training or evaluation throughput fell by more
than a factor. A cell that is missing or failed is bad too. Differences in versions, data or
scoring do not fail the gate; they are reported as warnings that say why two runs may not be
comparable.

The pipeline (which may pull in torch) is imported only where cells are run or keyed.
"""

from __future__ import annotations

import io
import json
import math
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcot.errors import UserError
from ftcot.fileio import write_output
from ftcot.records import CellResult

if TYPE_CHECKING:
    from rich.table import Table

    from ftcot.store import Store

FORMAT_VERSION = 1
MIN_TOLERANCE = 0.02  # 2 points
Z = 3.09  # one-sided z-test at alpha = 0.001 per cell
WEAK_POINTS = 15.0  # --update warns about a cell that cannot detect a drop of this many points
VERSIONED_PACKAGES = ("ftcot", "torch", "transformers")
SPEC_FIELDS = ("task", "teacher", "student", "method", "degree", "seed")

WORSE, CHANGED, SLOWER, MISSING, FAILED, OK, BETTER = (
    "worse", "changed", "slower", "missing", "failed", "ok", "better")
BAD_VERDICTS = (WORSE, CHANGED, SLOWER, MISSING, FAILED)
TEST = (f"one-sided z-test per cell (alpha = 0.001, z = {Z}) on the change's standard error: the "
        f"baseline's seed spread (2*s^2) and both runs' binomial variance; never below "
        f"{100 * MIN_TOLERANCE:g} points")


# -- statistics --------------------------------------------------------------------------------
def binomial_variance(p: float, n: int) -> float:
    """The variance of an accuracy ``p`` over ``n`` questions, ``q(1-q)/n`` with ``q = (pn+1)/(n+2)``."""
    if n <= 0:
        return 0.0
    q = (p * n + 1.0) / (n + 2.0)
    return q * (1.0 - q) / n


def default_tolerance(p1: float, n1: int, p2: float, n2: int, spread: float | None = None) -> float:
    """The smallest drop from ``p1`` (baseline, seed standard deviation ``spread``) to ``p2`` the
    gate calls a regression: ``Z`` standard errors of the change, at least ``MIN_TOLERANCE``."""
    variance = 2.0 * (spread or 0.0) ** 2 + binomial_variance(p1, n1) + binomial_variance(p2, n2)
    return max(MIN_TOLERANCE, Z * math.sqrt(variance))


def seed_spreads(cells: list[BaselineCell]) -> None:
    """Set each cell's ``spread`` and ``seeds`` from the cells that differ from it only in seed."""
    groups: dict[str, list[BaselineCell]] = {}
    for cell in cells:
        key = json.dumps({k: v for k, v in cell.spec.items() if k != "seed"}, sort_keys=True, default=str)
        groups.setdefault(key, []).append(cell)
    for group in groups.values():
        spread = statistics.stdev(c.accuracy for c in group) if len(group) > 1 else None
        for cell in group:
            cell.spread = None if spread is None else round(spread, 6)
            cell.seeds = len(group)


def throughput(cell: CellResult) -> dict[str, float]:
    """Training examples per second (examples x epochs / training time; none when the model was
    reused) and test questions per second of evaluation, from what the cell recorded."""
    extra = cell.extra if isinstance(cell.extra, dict) else {}
    timing = extra.get("timing") or {}
    out = {}
    train_s = float(timing.get("train_s") or 0.0)
    if train_s > 0 and cell.train_samples and not extra.get("reused_model"):
        epochs = len(extra.get("history") or []) or 1
        out["train"] = round(cell.train_samples * epochs / train_s, 3)
    eval_s = float(timing.get("eval_s") or 0.0)
    if eval_s > 0 and cell.n:
        out["eval"] = round(cell.n / eval_s, 3)
    return out


def texts_of(cell: CellResult) -> dict[str, str]:
    """The texts a stored cell recorded (``ftcot.pipeline.texts``); empty for older cells."""
    texts = cell.extra.get("texts") if isinstance(cell.extra, dict) else None
    return dict(texts) if isinstance(texts, dict) else {}


# -- the baseline file -------------------------------------------------------------------------
def environment_versions() -> dict[str, str]:
    """Versions of the packages that can change a result (read from metadata: torch is not imported)."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    versions["python"] = platform.python_version()
    return versions


@dataclass
class BaselineCell:
    """One cell of a baseline: what it is (a ``CellSpec`` as a dict) and what it scored."""

    spec: dict[str, Any]
    accuracy: float
    n: int
    key: str = ""
    duration_s: float = 0.0
    spread: float | None = None  # standard deviation of the accuracy over the cell's seeds
    seeds: int = 1  # how many seeds ``spread`` is over
    texts: dict[str, str] = field(default_factory=dict)  # ftcot.pipeline.texts
    throughput: dict[str, float] = field(default_factory=dict)  # {"train": examples/s, "eval": questions/s}

    @property
    def detects(self) -> float:
        """The smallest drop (a fraction) that fails this cell, against a run at the same accuracy."""
        return default_tolerance(self.accuracy, self.n, self.accuracy, self.n, self.spread)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"spec": self.spec, "key": self.key, "accuracy": self.accuracy, "n": self.n,
                                "duration_s": self.duration_s}
        if self.spread is not None:
            data.update(spread=self.spread, seeds=self.seeds)
        if self.texts:
            data["texts"] = self.texts
        if self.throughput:
            data["throughput"] = self.throughput
        return data

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> BaselineCell:
        spread = item.get("spread")
        return cls(spec=item["spec"], accuracy=float(item["accuracy"]), n=item["n"], key=str(item.get("key", "")),
                   duration_s=float(item.get("duration_s", 0.0)),
                   spread=None if spread is None else float(spread), seeds=int(item.get("seeds", 1)),
                   texts=dict(item.get("texts") or {}), throughput=dict(item.get("throughput") or {}))

    @property
    def label(self) -> str:
        s = self.spec
        return (f"{s.get('task')} | {s.get('teacher')} | {s.get('student')} | {s.get('method')}"
                f" D={s.get('degree', 1)} seed={s.get('seed', 0)}")


@dataclass
class Baseline:
    """What a baseline file holds."""

    cells: list[BaselineCell]
    scoring: str = "paper"
    versions: dict[str, str] = field(default_factory=dict)
    data: dict[str, str | None] = field(default_factory=dict)
    created: str = ""
    path: str = ""  # the file it was read from, for messages

    def to_dict(self) -> dict[str, Any]:
        return {
            "ftcot_baseline": FORMAT_VERSION,
            "created": self.created,
            "scoring": self.scoring,
            "versions": self.versions,
            "data": self.data,
            "cells": [c.to_dict() for c in self.cells],
        }

    def save(self, path: Path, store: Path | None = None) -> None:
        """Write the file atomically; never over ``store``, a SQLite file or a file that is
        neither an ftcot baseline nor written by ftcot."""
        write_output(path, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", "baseline", store,
                     owned=_is_baseline_text)

    @classmethod
    def load(cls, path: Path) -> Baseline:
        """Read and check a baseline file: UserError listing every problem, one per line."""
        from ftcot.pipeline import CellSpec
        from ftcot.validation import BaselineModel, problems

        fix = (f"fix it, or move it away and run `ftcot check --update {path}` to record every finished "
               f"cell of the store")
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise UserError(f"baseline {path} does not exist: write it with `ftcot check --update {path}`") from None
        except IsADirectoryError:
            raise UserError(f"baseline {path} is a directory: give the baseline's JSON file") from None
        except OSError as exc:
            raise UserError(f"cannot read baseline {path}: {exc.strerror}; check the path") from None
        except UnicodeDecodeError:
            raise UserError(f"baseline {path} is not UTF-8 JSON text; {fix}") from None
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, ValueError) as exc:
            raise UserError(f"baseline {path} is not valid JSON ({exc}); {fix}") from None
        if not isinstance(raw, dict) or "ftcot_baseline" not in raw:
            raise UserError(f"{path} is not an ftcot baseline (format {FORMAT_VERSION}); {fix}")
        found = [(".".join(str(p) for p in loc), message) for loc, message in problems(BaselineModel, raw)]
        cells = raw.get("cells")
        for i, item in enumerate(cells if isinstance(cells, list) else []):
            if isinstance(item, dict) and isinstance(item.get("spec"), dict):
                try:
                    CellSpec.from_dict(item["spec"])
                except UserError as exc:
                    found.append((f"cells.{i}.spec", str(exc)))
        if found:
            noun = "problem" if len(found) == 1 else "problems"
            raise UserError(f"baseline {path} has {len(found)} {noun} ({fix}):\n"
                            + "\n".join(f"  {where} {message}" for where, message in found))
        cells = [BaselineCell.from_dict(item) for item in raw["cells"]]
        return cls(cells=cells, scoring=raw.get("scoring", "paper"), versions=dict(raw.get("versions", {})),
                   data=dict(raw.get("data", {})), created=str(raw.get("created", "")), path=str(path))


def _is_baseline_text(content: bytes) -> bool:
    """Whether a file's content is an ftcot baseline (any version), which ``--update`` may replace."""
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and "ftcot_baseline" in data


def task_fingerprints(tasks: list[str], data_dir: Path) -> tuple[dict[str, str | None], list[str]]:
    """``task.fingerprint()`` for each task spec; a task that cannot be loaded maps to None, with a warning."""
    from ftcot.registry import create_task

    found: dict[str, str | None] = {}
    warnings = []
    for spec in tasks:
        try:
            found[spec] = str(create_task(spec, data_dir=data_dir).fingerprint())
        except Exception as exc:  # the task's own error says what is missing; the gate goes on
            found[spec] = None
            warnings.append(f"cannot fingerprint task {spec}: {exc}")
    return found, warnings


# -- from the store ----------------------------------------------------------------------------
def spec_of(cell: CellResult) -> dict[str, Any]:
    """The ``CellSpec`` dict a stored cell was run from: ``extra["spec"]`` when the pipeline kept
    it, else rebuilt from the cell's own fields (defaults for the rest)."""
    from ftcot.pipeline import CellSpec, public_student, public_teacher_options

    spec = cell.extra.get("spec") if isinstance(cell.extra, dict) else None
    if isinstance(spec, dict):  # a store written before addresses were made public is cleaned here
        spec = dict(spec)
        if isinstance(spec.get("student"), str):
            spec["student"] = public_student(spec["student"])
        if isinstance(spec.get("teacher_options"), dict):
            spec["teacher_options"] = public_teacher_options(spec["teacher_options"])
        return spec

    return CellSpec(task=cell.task, teacher=cell.teacher, student=cell.student, method=cell.method,
                    degree=cell.degree, seed=cell.seed, report_epoch=cell.report_epoch).to_dict()


def build_baseline(store: Store, data_dir: Path, scoring: str,
                   specs: list[dict[str, Any]] | None = None) -> tuple[Baseline, list[str]]:
    """A baseline from what the store holds: the given cells, or every finished cell in it.

    Returns the baseline and warnings (stored cells whose spec could not be recovered)."""
    warnings: list[str] = []
    if specs is not None:
        chosen = _given_cells(store, scoring, specs)
    else:
        chosen = _stored_cells(store, scoring, warnings)
    tasks = sorted({spec["task"] for spec, _, _ in chosen})
    data, fp_warnings = task_fingerprints(tasks, data_dir)
    baseline = Baseline(
        cells=[BaselineCell(spec=spec, key=key, accuracy=float(cell.accuracy or 0.0), n=cell.n,
                            duration_s=round(cell.duration_s, 3), texts=texts_of(cell), throughput=throughput(cell))
               for spec, key, cell in chosen],
        scoring=scoring,
        versions=environment_versions(),
        data=data,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    seed_spreads(baseline.cells)
    return baseline, warnings + fp_warnings + power_warnings(baseline)


def _given_cells(store: Store, scoring: str,
                 specs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, CellResult]]:
    """(spec, key, cell) of each given spec; UserError when some are not finished in the store."""
    from ftcot.pipeline import CellSpec, cell_key

    chosen: list[tuple[dict[str, Any], str, CellResult]] = []
    missing = []
    for spec in specs:
        key = cell_key(CellSpec.from_dict(spec), scoring)
        cell = store.get_cell(key)
        if cell is None or cell.status != "done" or cell.accuracy is None:
            missing.append(_label(spec))
        else:
            chosen.append((spec, key, cell))
    if missing:
        raise UserError(
            f"{len(missing)} cell(s) of the baseline are not finished in the store "
            f"({'; '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}): "
            f"run them first (`ftcot check` runs them), then update"
        )
    return chosen


def _stored_cells(store: Store, scoring: str,
                  warnings: list[str]) -> list[tuple[dict[str, Any], str, CellResult]]:
    """(spec, key, cell) of every finished cell scored with ``scoring`` whose spec can be
    recovered (a warning in ``warnings`` for each other); UserError when there is none."""
    from ftcot.pipeline import CellSpec, cell_key

    chosen: list[tuple[dict[str, Any], str, CellResult]] = []
    seen = set()
    for cell in store.cells(status="done"):
        if cell.accuracy is None or cell.scoring != scoring:
            continue
        try:
            spec = spec_of(cell)
            key = cell_key(CellSpec.from_stored(spec), scoring)
        except UserError as exc:  # written by another ftcot version
            warnings.append(f"skipped a stored cell of {cell.task} / {cell.student}: {exc}")
            continue
        if key in seen:
            continue
        stored = store.get_cell(key)
        if stored is None or stored.to_dict() != cell.to_dict():
            warnings.append(f"skipped a stored cell whose settings cannot be recovered: {_label(spec)}")
            continue
        seen.add(key)
        chosen.append((spec, key, cell))
    if not chosen:
        raise UserError(
            f"the store holds no finished cells scored with {scoring!r}: run the cells "
            f"(e.g. `ftcot demo` or `ftcot matrix run CONFIG`) before `ftcot check --update`"
        )
    return chosen


def power_warnings(baseline: Baseline) -> list[str]:
    """One line per cell that has little power as a gate: no seed spread recorded, or a drop of
    ``WEAK_POINTS`` it would not detect (seeds that disagree, a small test set)."""
    out = []
    for cell in baseline.cells:
        if cell.spread is None:
            out.append(f"{cell.label}: one seed, so its training noise is not known: add seeds "
                       f"(the same cell with seed 1, 2) to the baseline")
        elif 100 * cell.detects > WEAK_POINTS:
            out.append(f"{cell.label}: detects only drops over {100 * cell.detects:.1f} points (seeds spread "
                       f"{100 * cell.spread:.1f}, n={cell.n}): pick a cell that learns reliably, far from chance")
    return out


def _label(spec: dict[str, Any]) -> str:
    return BaselineCell(spec=spec, accuracy=0.0, n=0).label


# -- building the plugins up front -------------------------------------------------------------
def plugin_problems(baseline: Baseline, data_dir: Path) -> list[str]:
    """One line per plugin a baseline cell names that cannot be built (its task, teacher,
    student and filters, as the cell would build them), naming the cell; empty when all build."""
    from ftcot.pipeline import CellSpec
    from ftcot.registry import build_problem

    built: dict[tuple[str, str, str], str | None] = {}
    found = []
    for i, item in enumerate(baseline.cells, 1):
        spec = CellSpec.from_dict(item.spec)
        options = {k: v for k, v in spec.teacher_options.items() if k != "temperature"}
        wanted: list[tuple[str, str, dict[str, Any]]] = [("task", spec.task, {"data_dir": data_dir}),
                                                         ("student", spec.student, {})]
        if spec.uses_teacher:
            wanted.insert(1, ("teacher", spec.teacher, options))
            wanted += [("filter", f, {}) for f in spec.filters]
        for kind, name, kwargs in wanted:
            memo = (kind, name, json.dumps(kwargs, sort_keys=True, default=str))
            if memo not in built:
                built[memo] = build_problem(kind, name, **kwargs)
            if built[memo] is not None:
                found.append(f"cell {i} ({item.label}): {kind} {name!r}: {built[memo]}")
    return found


def check_plugins(baseline: Baseline, data_dir: Path) -> None:
    """UserError listing every plugin of the baseline that cannot be built, before anything runs."""
    found = plugin_problems(baseline, data_dir)
    if found:
        noun = "plugin that cannot be built" if len(found) == 1 else "plugins that cannot be built"
        where = f"baseline {baseline.path}" if baseline.path else "the baseline"
        raise UserError(f"{where} names {len(found)} {noun} (fix the cell's spec in the baseline, or "
                        f"install the plugin package, and run again):\n" + "\n".join(f"  {line}" for line in found))


# -- running the cells and comparing -----------------------------------------------------------
def gather(baseline: Baseline, store: Store, data_dir: Path, run: bool = True, progress: bool = True,
           on_cell: Callable[[int], None] | None = None) -> list[CellResult | None]:
    """The current result of each baseline cell: run through the pipeline (which returns a
    finished cell from the store at once), or, with ``run=False``, only read from the store.
    ``on_cell(i)`` is called before cell ``i`` starts."""
    from ftcot.pipeline import CellSpec, cell_key, run_cell

    results: list[CellResult | None] = []
    for i, item in enumerate(baseline.cells):
        if on_cell:
            on_cell(i)
        spec = CellSpec.from_dict(item.spec)
        if run:
            try:
                result = run_cell(spec, store, data_dir, baseline.scoring, progress=progress)
            except UserError as exc:
                result = _failed(item.spec, baseline.scoring, str(exc))
            except Exception as exc:  # a broken cell is reported in the table, the others still run
                result = _failed(item.spec, baseline.scoring, f"{type(exc).__name__}: {exc}")
        else:
            result = store.get_cell(cell_key(spec, baseline.scoring))  # type: ignore[assignment]  # None: not run
        results.append(result)
    return results


def _failed(spec: dict[str, Any], scoring: str, error: str) -> CellResult:
    from ftcot.pipeline import public_student

    fields = {k: spec[k] for k in SPEC_FIELDS if k in spec}
    if isinstance(fields.get("student"), str):
        fields["student"] = public_student(fields["student"])
    return CellResult(**fields, scoring=scoring, status="failed", error=error)


@dataclass
class Row:
    """One cell's comparison."""

    baseline: BaselineCell
    current: CellResult | None
    verdict: str
    change: float | None  # current - baseline accuracy, as a fraction
    tolerance: float | None  # the smallest drop that fails the cell
    detail: str = ""  # why a cell is changed or slower
    slowdown: dict[str, float] = field(default_factory=dict)  # baseline / current throughput

    def to_dict(self) -> dict[str, Any]:
        cur = self.current
        return {
            **{k: self.baseline.spec.get(k) for k in SPEC_FIELDS},
            "spec": self.baseline.spec,
            "verdict": self.verdict,
            "baseline": {"accuracy": self.baseline.accuracy, "n": self.baseline.n},
            "current": None if cur is None else {
                "accuracy": cur.accuracy, "n": cur.n, "status": cur.status, "error": cur.error,
            },
            "change_points": None if self.change is None else round(100 * self.change, 4),
            "tolerance_points": None if self.tolerance is None else round(100 * self.tolerance, 4),
            "spread_points": None if self.baseline.spread is None else round(100 * self.baseline.spread, 4),
            "seeds": self.baseline.seeds,
            "slowdown": self.slowdown,
            "detail": self.detail,
        }


@dataclass
class Report:
    """The gate's outcome over every baseline cell."""

    rows: list[Row]
    warnings: list[str]
    fixed_tolerance: float | None = None
    speed: float | None = None  # the throughput factor that fails a cell; None: not checked

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict in BAD_VERDICTS]

    @property
    def ok(self) -> bool:
        return not self.regressions

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cells": len(self.rows),
            "regressions": len(self.regressions),
            "tolerance_points": None if self.fixed_tolerance is None else 100 * self.fixed_tolerance,
            "test": TEST if self.fixed_tolerance is None else "fixed tolerance",
            "speed_factor": self.speed,
            "warnings": self.warnings,
            "rows": [r.to_dict() for r in self.rows],
        }


def compare_cell(base: BaselineCell, current: CellResult | None, fixed_tolerance: float | None = None,
                 speed: float | None = None) -> Row:
    """One cell's verdict: missing, failed, changed (its texts), worse, slower (with ``speed``, a
    throughput factor), better or ok."""
    if current is None:
        return Row(base, None, MISSING, None, None)
    if current.status != "done" or current.accuracy is None:
        return Row(base, current, FAILED, None, None)
    change = current.accuracy - base.accuracy
    tolerance = fixed_tolerance if fixed_tolerance is not None else default_tolerance(
        base.accuracy, base.n, current.accuracy, current.n, base.spread)
    slowdown = slowdowns(base.throughput, throughput(current))
    changed = text_changes(base.texts, texts_of(current))
    slow = {k: v for k, v in slowdown.items() if speed is not None and v > speed}
    if changed:
        return Row(base, current, CHANGED, change, tolerance, "; ".join(changed), slowdown)
    if change < -tolerance - 1e-12:
        return Row(base, current, WORSE, change, tolerance, slowdown=slowdown)
    if slow:
        detail = "; ".join(f"{SPEED_NAMES[k]} {v:.2f}x slower ({base.throughput[k]:g} -> "
                           f"{throughput(current)[k]:g} {SPEED_UNITS[k]})" for k, v in slow.items())
        return Row(base, current, SLOWER, change, tolerance, detail, slowdown)
    verdict = BETTER if change > tolerance + 1e-12 else OK
    return Row(base, current, verdict, change, tolerance, slowdown=slowdown)


SPEED_NAMES = {"train": "training", "eval": "evaluation"}
SPEED_UNITS = {"train": "examples/s", "eval": "questions/s"}


def slowdowns(then: dict[str, float], now: dict[str, float]) -> dict[str, float]:
    """Per measure both runs have: how many times slower the current run is (baseline / current)."""
    return {k: round(then[k] / now[k], 3) for k in SPEED_NAMES if then.get(k) and now.get(k)}


def text_changes(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """One phrase per text the baseline recorded that the current cell builds differently; none
    when either side recorded no texts (an older baseline or store)."""
    if not then or not now:
        return []
    return [f"{name}: {_clip(then[name])!r} -> {_clip(now.get(name))!r}"
            for name in then if then[name] != now.get(name)]


def _clip(text: str | None, width: int = 90) -> str | None:
    if text is None or len(text) <= width:
        return text
    return "..." + text[-(width - 3):]


def comparability_warnings(baseline: Baseline, versions: dict[str, str],
                           data: dict[str, str | None], results: list[CellResult | None]) -> list[str]:
    """Why the two runs may not be comparable: other package versions, other data, other scoring."""
    out = []
    for name in (*VERSIONED_PACKAGES, "python"):
        then, now = baseline.versions.get(name), versions.get(name)
        if then and now and then != now:
            out.append(f"{name} {now} here, {then} in the baseline: accuracies may move for reasons other than a regression")
    for task, now in data.items():
        then = baseline.data.get(task)
        if then and now and then != now:
            out.append(f"task {task}: data fingerprint {now[:12]} here, {then[:12]} in the baseline: "
                       f"the test sets differ, the runs are not comparable")
    for result in results:
        if result is not None and result.status == "done" and result.scoring != baseline.scoring:
            out.append(f"a cell was scored with {result.scoring!r}, the baseline with {baseline.scoring!r}")
            break
    return out


def check(baseline: Baseline, store: Store, data_dir: Path, tolerance_points: float | None = None,
          run: bool = True, progress: bool = True,
          on_cell: Callable[[int], None] | None = None, speed: float | None = None) -> Report:
    """Build every plugin the baseline names (UserError listing those that fail), then gather
    its cells and compare each with its recorded accuracy."""
    check_plugins(baseline, data_dir)  # nothing runs or is compared while a cell cannot be built
    return compare(baseline, store, data_dir, tolerance_points, run=run, progress=progress, on_cell=on_cell,
                   speed=speed)


def compare(baseline: Baseline, store: Store, data_dir: Path, tolerance_points: float | None = None,
            run: bool = True, progress: bool = True,
            on_cell: Callable[[int], None] | None = None, speed: float | None = None) -> Report:
    """Gather the baseline's cells and compare each with its recorded accuracy (``check`` without
    building the plugins first, for callers that did)."""
    fixed = None if tolerance_points is None else tolerance_points / 100.0
    if fixed is not None and not 0 <= fixed < math.inf:
        raise UserError(f"--tolerance must be a finite number >= 0 points, got {tolerance_points}")
    if speed is not None and not 1 <= speed < math.inf:
        raise UserError(f"--speed must be a finite factor >= 1 (e.g. 2: half the baseline's throughput), got {speed}")
    results = gather(baseline, store, data_dir, run=run, progress=progress, on_cell=on_cell)
    data, warnings = task_fingerprints(sorted({c.spec["task"] for c in baseline.cells}), data_dir)
    warnings += comparability_warnings(baseline, environment_versions(), data, results)
    rows = [compare_cell(b, r, fixed, speed) for b, r in zip(baseline.cells, results)]
    order = {WORSE: 0, CHANGED: 1, SLOWER: 2, FAILED: 3, MISSING: 4, OK: 5, BETTER: 6}
    rows.sort(key=lambda r: order[r.verdict])
    return Report(rows=rows, warnings=warnings, fixed_tolerance=fixed, speed=speed)


# -- rendering ---------------------------------------------------------------------------------
_STYLE = {WORSE: "bold red", CHANGED: "bold red", SLOWER: "bold red", FAILED: "bold red", MISSING: "bold red",
          OK: "green", BETTER: "cyan"}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def report_table(report: Report) -> Table:
    """The comparison as a rich table, worst first: accuracies in points, n under each."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from ftcot.tables import legend, number_column, short_names, text_column

    bad = len(report.regressions)
    title = (f"ftcot check: {bad} of {len(report.rows)} cells got worse" if bad
             else f"ftcot check: {len(report.rows)} cells within tolerance")
    names = [short_names(str(r.baseline.spec.get(field)) for r in report.rows) for field in ("task", "teacher", "student")]
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_lines=True,
                  caption=escape("\n".join(legend(*names))) or None, caption_justify="left")
    text_column(table, "cell")
    for column in ("baseline", "now", "change", "detects"):
        number_column(table, column)
    text_column(table, "verdict", no_wrap=True)
    for row in report.rows:
        spec, cur = row.baseline.spec, row.current
        task, teacher, student = (n[str(spec.get(f))] for n, f in zip(names, ("task", "teacher", "student")))
        cell = (f"{task}\n{teacher} -> {student}, {spec.get('method')}, "
                f"D={spec.get('degree', 1)}, seed={spec.get('seed', 0)}")
        now = "-" if cur is None or cur.accuracy is None else f"{_pct(cur.accuracy)}\nn={cur.n}"
        spread = "" if row.baseline.spread is None else f"\nsd={100 * row.baseline.spread:.1f}"
        table.add_row(
            escape(cell), f"{_pct(row.baseline.accuracy)}\nn={row.baseline.n}{spread}", now,
            "-" if row.change is None else f"{100 * row.change:+.1f}",
            "-" if row.tolerance is None else f">{100 * row.tolerance:.1f}",
            f"[{_STYLE[row.verdict]}]{row.verdict}[/]",
        )
    return table


def print_report(report: Report, console: Any) -> None:
    """The table, each failed cell's error, then one ``warning:`` line per reason the runs may
    not be comparable."""
    from rich.markup import escape

    from ftcot.tables import print_table

    print_table(console, report_table(report))
    how = (f"fixed tolerance of {100 * report.fixed_tolerance:g} points" if report.fixed_tolerance is not None
           else TEST)
    speed = (f"; throughput checked: a cell fails {report.speed:g}x slower" if report.speed is not None
             else "; throughput not checked (--speed FACTOR)")
    console.print(f"detects: the smallest drop (points) that fails the cell: {how}{speed}", highlight=False,
                  soft_wrap=True, markup=False)
    for row in report.rows:
        if row.verdict in (CHANGED, SLOWER):
            console.print(f"[red]{row.verdict}:[/] {escape(row.baseline.label)}: {escape(row.detail)}",
                          highlight=False, soft_wrap=True)
    for row in report.rows:
        if row.verdict == FAILED and row.current is not None:
            error = (row.current.error or "no accuracy recorded").strip().splitlines()
            console.print(f"[red]failed:[/] {escape(row.baseline.label)}: {escape(error[0] if error else '')}",
                          highlight=False, soft_wrap=True)
    for line in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


def report_text(report: Report) -> str:
    """The report as plain text at its natural width (for a pytest failure message)."""
    from rich.console import Console

    buffer = io.StringIO()
    print_report(report, Console(file=buffer, no_color=True, highlight=False, color_system=None, emoji=False,
                                 soft_wrap=True))
    return buffer.getvalue()
