"""The gate's arithmetic and its baseline file, without running cells."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ftcot.check import (
    Baseline,
    BaselineCell,
    Report,
    comparability_warnings,
    compare_cell,
    default_tolerance,
    environment_versions,
    report_text,
)
from ftcot.errors import UserError
from ftcot.records import CellResult

SPEC = {"task": "coin_flip:flips=4,train=64,test=32,seed=0", "teacher": "oracle", "student": "tiny-gpt2",
        "method": "fine-tune-cot", "degree": 1, "seed": 0}


def base(accuracy: float, n: int, **spec) -> BaselineCell:
    return BaselineCell(spec={**SPEC, **spec}, accuracy=accuracy, n=n)


def now(accuracy: float | None, n: int, status: str = "done", error: str | None = None) -> CellResult:
    return CellResult(task=SPEC["task"], teacher="oracle", student="tiny-gpt2", method="fine-tune-cot",
                      accuracy=accuracy, n=n, status=status, error=error)


def test_tolerance_is_two_standard_errors_of_the_difference() -> None:
    assert default_tolerance(0.5, 100, 0.5, 100) == pytest.approx(2 * math.sqrt(0.25 / 100 * 2))
    assert default_tolerance(0.9, 32, 0.8, 64) == pytest.approx(2 * math.sqrt(0.9 * 0.1 / 32 + 0.8 * 0.2 / 64))


def test_tolerance_never_below_two_points() -> None:
    assert default_tolerance(1.0, 32, 1.0, 32) == pytest.approx(0.02)
    assert default_tolerance(0.5, 1_000_000, 0.5, 1_000_000) == pytest.approx(0.02)


def test_small_test_set_does_not_flap_but_large_real_drop_is_caught() -> None:
    # two answers fewer out of 32 is noise
    assert compare_cell(base(30 / 32, 32), now(28 / 32, 32)).verdict == "ok"
    # the same 6-point drop measured on 5,000 examples is real
    assert compare_cell(base(0.9375, 5000), now(0.875, 5000)).verdict == "worse"
    # a drop from perfect to 70% on 32 is far outside two standard errors
    assert compare_cell(base(1.0, 32), now(0.7, 32)).verdict == "worse"


def test_verdicts() -> None:
    assert compare_cell(base(0.5, 10_000), now(0.6, 10_000)).verdict == "better"
    assert compare_cell(base(0.5, 10_000), now(0.5, 10_000)).verdict == "ok"
    assert compare_cell(base(0.5, 10_000), None).verdict == "missing"
    assert compare_cell(base(0.5, 10_000), now(None, 0, "failed", "boom")).verdict == "failed"
    row = compare_cell(base(0.80, 200), now(0.70, 200))
    assert row.change == pytest.approx(-0.10)
    assert row.tolerance == pytest.approx(default_tolerance(0.8, 200, 0.7, 200))


def test_fixed_tolerance_replaces_the_statistical_one() -> None:
    # 5 points down on 32 examples: within two standard errors, outside a fixed 3 points
    assert compare_cell(base(0.90, 32), now(0.85, 32)).verdict == "ok"
    assert compare_cell(base(0.90, 32), now(0.85, 32), fixed_tolerance=0.03).verdict == "worse"
    # a drop of exactly the tolerance passes
    assert compare_cell(base(0.90, 32), now(0.85, 32), fixed_tolerance=0.05).verdict == "ok"


def test_report_fails_on_worse_missing_and_failed_only() -> None:
    good = Report(rows=[compare_cell(base(0.5, 10_000), now(0.6, 10_000))], warnings=[])
    assert good.ok and good.regressions == []
    for current in (None, now(None, 0, "failed", "boom"), now(0.1, 10_000)):
        bad = Report(rows=[compare_cell(base(0.5, 10_000), current)], warnings=[])
        assert not bad.ok and len(bad.regressions) == 1


def test_report_text_and_json_name_what_got_worse() -> None:
    rows = [compare_cell(base(0.9, 1000, seed=1), now(0.5, 1000)),
            compare_cell(base(0.5, 1000, seed=2), now(None, 0, "failed", "CUDA out of memory\nmore")),
            compare_cell(base(0.5, 1000, seed=3), now(0.5, 1000))]
    report = Report(rows=rows, warnings=["torch 9 here, 2.13.0 in the baseline: ..."])
    text = report_text(report)
    assert "2 of 3 cells got worse" in text
    assert "worse" in text and "failed" in text and "CUDA out of memory" in text and "more" not in text
    assert "90.0" in text and "50.0" in text and "-40.0" in text
    assert "warning: torch 9 here" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["regressions"] == 2
    assert data["rows"][0]["change_points"] == pytest.approx(-40.0)
    assert data["rows"][0]["seed"] == 1 and data["rows"][1]["current"]["error"].startswith("CUDA")


def test_baseline_round_trip(tmp_path: Path) -> None:
    baseline = Baseline(cells=[base(0.75, 32)], scoring="strict", versions={"torch": "2.13.0"},
                        data={SPEC["task"]: "abc"}, created="2026-01-01T00:00:00+00:00")
    path = tmp_path / "sub" / "b.json"
    baseline.save(path)
    loaded = Baseline.load(path)
    assert loaded.to_dict() == baseline.to_dict()
    assert json.loads(path.read_text())["ftcot_baseline"] == 1


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ('{"cells": []}', "is not an ftcot baseline"),
    ('{"ftcot_baseline": 1, "cells": [{"accuracy": 0.5, "n": 3}]}', r"cells\.0\.spec is missing"),
    ('{"ftcot_baseline": 1, "cells": [{"spec": {"task": "t", "teacher": "o", "student": "s", "method": "m"},'
     ' "accuracy": "high", "n": 3}]}', r"cells\.0\.accuracy must be a number"),
])
def test_bad_baseline_files_are_errors_with_one_line_per_problem(tmp_path: Path, content: str | None,
                                                                 message: str) -> None:
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError, match=message) as info:
        Baseline.load(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 1 or (lines[0].startswith(f"baseline {path} has {len(lines) - 1} problem")
                               and all(line.startswith("  cells.") for line in lines[1:]))


def test_warnings_say_why_runs_are_not_comparable() -> None:
    baseline = Baseline(cells=[base(0.5, 10)], scoring="paper",
                        versions={"ftcot": "0.1.0", "torch": "2.13.0", "transformers": "5.24.0"},
                        data={"t1": "a" * 64, "t2": "b" * 64})
    same = comparability_warnings(baseline, {"ftcot": "0.1.0", "torch": "2.13.0", "transformers": "5.24.0"},
                                  {"t1": "a" * 64, "t2": "b" * 64}, [now(0.5, 10)])
    assert same == []
    other = comparability_warnings(baseline, {"ftcot": "0.1.0", "torch": "2.14.0", "transformers": "5.24.0"},
                                   {"t1": "a" * 64, "t2": "c" * 64},
                                   [CellResult(task="t1", teacher="o", student="s", method="m", accuracy=0.5,
                                               n=10, scoring="strict")])
    assert len(other) == 3
    assert any("torch 2.14.0" in w and "2.13.0" in w for w in other)
    assert any("t2" in w and "not comparable" in w for w in other)
    assert any("'strict'" in w for w in other)


def test_versions_are_read_without_importing_torch() -> None:
    code = ("import sys, ftcot.check as c; v = c.environment_versions(); "
            "assert 'torch' not in sys.modules, 'torch imported'; print(v['torch'], v['transformers'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [environment_versions()["torch"], environment_versions()["transformers"]]
    assert environment_versions()["torch"].startswith("2.")
