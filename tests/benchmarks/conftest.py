"""Shared setup of the benchmark suite. Run it with:

    pytest tests/benchmarks --benchmark-json=bench.json

(the default test run leaves this folder out through ``addopts``; naming it runs it).

Every figure is a ratio or a rate measured against a baseline in the same run. A benchmark
reports its figure in ``benchmark.extra_info`` with these keys (the ``figure`` fixture fills
them in)::

    figure          what is measured, e.g. "store writes/s, batched"
    value, unit     the measurement, e.g. 41000.0, "writes/s"
    baseline        the same quantity for the baseline, measured in the same run
    baseline_label  what the baseline is, e.g. "single-row transactions"
    ratio           value / baseline
    goal            optional, e.g. "ratio >= 0.9" or "value < 3"

Benchmarks that put other keys in ``extra_info`` are shown too: keys whose name contains
``ratio`` or ``speedup`` fill the ratio column, the rest are listed as details. At the end of
the session a table of every figure is printed, and the figures are written to
``.benchmarks/figures.json`` and, with ``--benchmark-json``, into that file under
``ftcot_figures``.
"""

from __future__ import annotations

import io
import json
import math
import operator
import re
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIGURE_KEYS = ("figure", "value", "unit", "baseline", "baseline_label", "ratio", "goal")
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_GOAL = re.compile(r"^\s*(ratio|value)?\s*(>=|<=|>|<)\s*([0-9.eE+-]+)\s*\S*\s*$")
_figures: list[dict[str, Any]] = []


# -- what a benchmark test uses ----------------------------------------------------------------
@pytest.fixture
def figure(benchmark: Any) -> Callable[..., dict[str, Any]]:
    """``figure(name, value, unit, baseline=..., baseline_label=..., goal=..., **details)`` records
    this test's figure in ``benchmark.extra_info`` (ratio = value / baseline; details are shown
    under the figure) and returns it."""

    def record(name: str, value: float, unit: str, *, baseline: float | None = None,
               baseline_label: str = "", goal: str | None = None, **details: Any) -> dict[str, Any]:
        info = {"figure": name, "value": value, "unit": unit, "baseline": baseline,
                "baseline_label": baseline_label,
                "ratio": (value / baseline) if baseline else None, "goal": goal, **details}
        benchmark.extra_info.update({k: v for k, v in info.items() if v is not None})
        return info

    return record


@pytest.fixture
def timer(benchmark: Any) -> Any:
    """``timer.median(fn, rounds, setup)`` times a baseline by hand; ``timer.bench(fn, rounds, setup)``
    times the measured path under pytest-benchmark. Both return median seconds."""

    class Timer:
        median = staticmethod(median_seconds)

        @staticmethod
        def bench(fn: Callable[[], Any], rounds: int = 3, setup: Callable[[], Any] | None = None) -> float:
            return benchmark_seconds(benchmark, fn, rounds, setup)

    return Timer()


def median_seconds(fn: Callable[[], Any], rounds: int = 3, setup: Callable[[], Any] | None = None) -> float:
    """Median wall time of ``fn()`` over ``rounds`` runs, ``setup()`` untimed before each."""
    times = []
    for _ in range(rounds):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def benchmark_seconds(benchmark: Any, fn: Callable[[], Any], rounds: int = 3,
                      setup: Callable[[], Any] | None = None) -> float:
    """Run ``fn`` under pytest-benchmark (``setup`` untimed before each round) and return the
    median seconds; timed by hand where benchmarking is disabled."""
    own: list[float] = []

    def timed() -> None:
        start = time.perf_counter()
        fn()
        own.append(time.perf_counter() - start)

    benchmark.pedantic(timed, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    return float(stats.median) if stats is not None else statistics.median(own)


# -- collecting and showing the figures --------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if call.when == "call":
        bench = getattr(item, "funcargs", {}).get("benchmark")
        info = dict(getattr(bench, "extra_info", None) or {})
        if info:
            _figures.append(_normalise(item.nodeid, info, report.outcome))
    return report


def _normalise(nodeid: str, info: dict[str, Any], outcome: str) -> dict[str, Any]:
    entry = {"test": nodeid.split("::")[-1], "nodeid": nodeid, "outcome": outcome}
    entry.update({k: info[k] for k in FIGURE_KEYS if k in info})
    rest = {k: v for k, v in info.items() if k not in FIGURE_KEYS}
    if "ratio" not in entry:
        for k, v in rest.items():
            if isinstance(v, (int, float)) and ("ratio" in k or "speedup" in k or "speed_up" in k):
                entry["ratio"] = v
                entry.setdefault("figure", k)
                rest.pop(k)
                break
    entry.setdefault("figure", entry["test"])
    if rest:
        entry["details"] = rest
    met = _goal_met(entry)
    if met is not None:
        entry["goal_met"] = met
    return entry


def _goal_met(entry: dict[str, Any]) -> bool | None:
    goal = entry.get("goal")
    match = _GOAL.match(goal) if isinstance(goal, str) else None
    if not match:
        return None
    which = match.group(1) or ("ratio" if entry.get("ratio") is not None else "value")
    value = entry.get(which)
    if not isinstance(value, (int, float)):
        return None
    return bool(_OPS[match.group(2)](value, float(match.group(3))))


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if value == 0 or not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _details(details: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_num(v) if isinstance(v, (int, float)) else v}" for k, v in details.items())


def summary_table(figures: list[dict[str, Any]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title="ftcot benchmark figures (baselines measured in the same run)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for column, justify in (("figure", "left"), ("value", "right"), ("baseline", "right"),
                            ("ratio", "right"), ("goal", "left"), ("met", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for f in figures:
        unit = f" {f['unit']}" if f.get("unit") else ""
        base = _num(f.get("baseline")) + (unit if f.get("baseline") is not None else "")
        if f.get("baseline_label"):
            base = f"{base} ({f['baseline_label']})" if base else f["baseline_label"]
        name = f["figure"] + (f"\n[dim]{_details(f['details'])}[/]" if f.get("details") else "")
        met = {True: "[green]yes[/]", False: "[red]no[/]"}.get(f.get("goal_met"), "")
        if f.get("outcome") != "passed":
            met = f"[red]{f.get('outcome')}[/]"
        value = _num(f.get("value")) + (unit if f.get("value") is not None else "")
        ratio = _num(f.get("ratio")) + ("x" if f.get("ratio") is not None else "")
        table.add_row(name, value, base, ratio, str(f.get("goal") or ""), met)
    return table


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _figures:
        return
    from rich.console import Console

    buffer = io.StringIO()
    width = max(100, shutil.get_terminal_size((120, 24)).columns)
    Console(file=buffer, width=width, highlight=False).print(summary_table(_figures))
    terminalreporter.write_sep("=", "ftcot benchmark summary")
    terminalreporter.write(buffer.getvalue())
    path = Path(terminalreporter.config.rootpath) / ".benchmarks" / "figures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_figures, indent=2, default=str) + "\n", encoding="utf-8")
    terminalreporter.write_line(f"figures written to {path}")


def pytest_benchmark_update_json(config: Any, benchmarks: Any, output_json: dict[str, Any]) -> None:
    output_json["ftcot_figures"] = list(_figures)
