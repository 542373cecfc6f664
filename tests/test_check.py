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
    Z,
    binomial_variance,
    comparability_warnings,
    compare_cell,
    default_tolerance,
    environment_versions,
    power_warnings,
    report_text,
    seed_spreads,
    throughput,
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


def v(p: float, n: int) -> float:
    q = (p * n + 1) / (n + 2)
    return q * (1 - q) / n


def test_tolerance_is_a_one_sided_z_test_on_seed_spread_and_binomial_variance() -> None:
    assert binomial_variance(0.5, 100) == pytest.approx(0.25 / 100)
    assert default_tolerance(0.5, 100, 0.5, 100) == pytest.approx(Z * math.sqrt(2 * 0.25 / 100))
    assert default_tolerance(0.9, 32, 0.8, 64) == pytest.approx(Z * math.sqrt(v(0.9, 32) + v(0.8, 64)))
    # two runs are two draws of the training noise: twice the seeds' variance
    assert default_tolerance(0.9, 100, 0.9, 100, spread=0.05) == pytest.approx(
        Z * math.sqrt(2 * 0.05 ** 2 + 2 * v(0.9, 100)))
    assert Z == pytest.approx(3.09)  # alpha = 0.001, one-sided


def test_tolerance_never_below_two_points_and_above_zero_at_100_percent() -> None:
    assert default_tolerance(0.5, 1_000_000, 0.5, 1_000_000) == pytest.approx(0.02)
    # seeds that agreed at 100% leave the binomial floor: one question of 60 is not a regression
    assert default_tolerance(1.0, 60, 59 / 60, 60, spread=0.0) > 1 / 60
    assert compare_cell(base(1.0, 60), now(59 / 60, 60)).verdict == "ok"
    assert compare_cell(base(1.0, 60), now(0.5, 60)).verdict == "worse"


def test_seed_spread_is_the_standard_deviation_over_cells_that_differ_only_in_seed() -> None:
    cells = [base(1.0, 60, seed=0), base(0.98, 60, seed=1), base(0.5, 60, seed=0, student="tiny-llama")]
    seed_spreads(cells)
    assert cells[0].spread == cells[1].spread == pytest.approx(0.0141421, abs=1e-6)
    assert cells[0].seeds == cells[1].seeds == 2
    assert cells[2].spread is None and cells[2].seeds == 1
    assert cells[0].detects == pytest.approx(default_tolerance(1.0, 60, 1.0, 60, cells[0].spread))
    assert [w.split(": ")[1] for w in power_warnings(Baseline(cells=cells))] == [
        "one seed, so its training noise is not known"]
    far = [base(0.9, 60, seed=0), base(0.5, 60, seed=1)]  # seeds 40 points apart: little power
    seed_spreads(far)
    assert all("detects only drops over" in w for w in power_warnings(Baseline(cells=far)))


def test_changed_texts_fail_the_cell_and_say_which() -> None:
    texts = {"teacher_step1": "Q: x\nA: Let's think step by step.", "train_target": " {rationale} --> yes END"}
    cell = base(1.0, 60)
    cell.texts = texts
    same = now(1.0, 60)
    same.extra = {"texts": dict(texts)}
    assert compare_cell(cell, same).verdict == "ok"
    other = now(1.0, 60)
    other.extra = {"texts": {**texts, "teacher_step1": "Q: x\nA: Let's think."}}
    row = compare_cell(cell, other)
    assert row.verdict == "changed" and row.detail.startswith("teacher_step1: ") and row.detail.endswith("Let's think.\"")
    assert compare_cell(cell, now(1.0, 60)).verdict == "ok"  # a cell stored without texts is not compared


def test_throughput_fails_only_when_asked_and_beyond_the_factor() -> None:
    cell = base(1.0, 60)
    cell.throughput = {"train": 100.0, "eval": 50.0}
    slow = now(1.0, 60)
    slow.train_samples = 120
    slow.extra = {"timing": {"train_s": 120 * 10 / 30.0, "eval_s": 60 / 45.0}, "history": [{}] * 10}
    assert throughput(slow) == {"train": pytest.approx(30.0), "eval": pytest.approx(45.0)}
    assert compare_cell(cell, slow).verdict == "ok"
    assert compare_cell(cell, slow, speed=4).verdict == "ok"
    row = compare_cell(cell, slow, speed=2)
    assert row.verdict == "slower" and row.detail.startswith("training 3.33x slower")
    assert row.slowdown == {"train": pytest.approx(3.333, abs=1e-3), "eval": pytest.approx(1.111, abs=1e-3)}


def test_small_test_set_does_not_flap_but_large_real_drop_is_caught() -> None:
    # two answers fewer out of 32 is noise
    assert compare_cell(base(30 / 32, 32), now(28 / 32, 32)).verdict == "ok"
    # the same 6-point drop measured on 5,000 examples is real
    assert compare_cell(base(0.9375, 5000), now(0.875, 5000)).verdict == "worse"
    # a drop from perfect to 70% on 32 is far outside the test's threshold
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
    # 5 points down on 32 examples: within the statistical threshold, outside a fixed 3 points
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
    rich = base(0.75, 32, seed=1)
    rich.spread, rich.seeds, rich.texts, rich.throughput = 0.05, 3, {"stop": "END"}, {"train": 12.5}
    baseline = Baseline(cells=[base(0.75, 32), rich], scoring="strict", versions={"torch": "2.13.0"},
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
