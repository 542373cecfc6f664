"""The benchmark suite's shared summary (tests/benchmarks/conftest.py): figures recorded with the
``figure`` fixture and figures other tests put straight into ``benchmark.extra_info`` both reach
the end-of-session table, ``.benchmarks/figures.json`` and the ``--benchmark-json`` file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).parent / "benchmarks" / "conftest.py"

BENCHMARKS = """
import time

def test_fast_path(figure, timer):
    slow = timer.median(lambda: time.sleep(0.02), rounds=2)
    fast = timer.bench(lambda: time.sleep(0.002), rounds=2)
    figure("widgets/s, batched", 1 / fast, "widgets/s", baseline=1 / slow, baseline_label="one at a time",
           goal="ratio >= 2", batch=32)

def test_raw_extra_info(benchmark):
    benchmark(lambda: None)
    benchmark.extra_info.update({"speedup_vs_naive": 5.0, "completions": 1200})

def test_missed_goal(figure, benchmark):
    benchmark(lambda: None)
    figure("re-run seconds", 4.5, "s", goal="value < 3")
"""


def test_summary_table_and_json_hold_every_figure(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_bench=BENCHMARKS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--benchmark-json=bench.json", "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*ftcot benchmark summary*",
        "*figure*value*baseline*ratio*goal*met*",
    ])
    text = result.stdout.str()
    assert "widgets/s, batched" in text and "(one at a time)" in text and "batch=32" in text
    assert "speedup_vs_naive" in text and "5x" in text and "completions=1,200" in text
    assert "re-run seconds" in text and "value < 3" in text

    figures = json.loads((pytester.path / ".benchmarks" / "figures.json").read_text())
    by_test = {f["test"]: f for f in figures}
    assert set(by_test) == {"test_fast_path", "test_raw_extra_info", "test_missed_goal"}
    fast = by_test["test_fast_path"]
    assert fast["ratio"] == pytest.approx(fast["value"] / fast["baseline"])
    assert fast["ratio"] > 2 and fast["goal_met"] is True and fast["details"] == {"batch": 32}
    assert by_test["test_raw_extra_info"]["ratio"] == 5.0
    assert by_test["test_missed_goal"]["goal_met"] is False
    bench = json.loads((pytester.path / "bench.json").read_text())
    assert [f["test"] for f in bench["ftcot_figures"]] == [f["test"] for f in figures]


def test_summary_works_with_benchmarking_disabled(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_bench=BENCHMARKS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--benchmark-disable")
    result.assert_outcomes(passed=3)
    figures = json.loads((pytester.path / ".benchmarks" / "figures.json").read_text())
    fast = next(f for f in figures if f["test"] == "test_fast_path")
    assert fast["ratio"] > 2  # timed by hand when pytest-benchmark does not measure
