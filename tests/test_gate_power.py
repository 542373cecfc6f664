"""The gate has power: regressions planted in a copy of the package make ``ftcot check
baselines/ci.json`` exit 1, each through the part of the gate that should see it, while the
unmodified copy exits 0.

Each run is a fresh store and a fresh process importing the copy (``PYTHONPATH`` ahead of the
installed package), as CI runs the gate after a change. The thread count is ``$FTCOT_THREADS``
(1 unless set): run it with 1 and 2 to see two machines' worth of floating-point noise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "baselines" / "ci.json"
LAYOUT = {"ftcot": "harness", "ftcot/tasks": "tasks", "ftcot/teachers": "teachers", "ftcot/students": "students",
          "ftcot/plugins": "plugins"}

# name -> (file, the original text, the planted text, the verdicts the gate must give)
PLANTS: dict[str, tuple[str, str, str, set[str]] | None] = {
    "unmodified": None,
    # the teacher is asked another Zero-shot-CoT prompt: the offline teacher does not read it,
    # so the cell's recorded teacher prompts are what changes
    "zero-shot-cot trigger": ("harness/formatting.py", 'ZS_COT_TRIGGER = "Let\'s think step by step."',
                              'ZS_COT_TRIGGER = "Let\'s think."', {"changed"}),
    # a Fine-tune-CoT output's answer is read before the `-->` marker instead of after it
    "answer scoring": ("harness/scoring.py", "region = region[at + len(prefix):]", "region = region[:at]",
                       {"worse"}),
    # the paper's filter keeps every completion, the wrong ones too
    "correct filter": ("plugins/filters.py", "        if correct:\n            return None",
                       "        if correct or not correct:\n            return None", {"changed"}),
    # the loss covers the prompt's tokens as well as the answer's
    "label masking": ("students/model.py", "labels.append([-100] * len(prompt) + answer + [-100] * pad)",
                      "labels.append(prompt + answer + [-100] * pad)", {"worse"}),
    # the Fine-tune-CoT target loses its end-of-answer marker
    "end-of-answer marker": ("harness/formatting.py",
                             'return Pair(question + QUESTION_END, f" {rationale}{ANSWER_ARROW}{answer} {STOP}")',
                             'return Pair(question + QUESTION_END, f" {rationale}{ANSWER_ARROW}{answer}")',
                             {"changed"}),
}


def package_copy(root: Path, plant: tuple[str, str, str, set[str]] | None) -> Path:
    """The package laid out as it installs (``ftcot`` and its plugin subpackages) under ``root``,
    with ``plant`` applied (its original text must occur exactly once)."""
    for target, source in LAYOUT.items():
        shutil.copytree(REPO / source, root / target, ignore=shutil.ignore_patterns("__pycache__"),
                        dirs_exist_ok=True)
    if plant is not None:
        name, original, planted, _ = plant
        folder, _, rest = name.partition("/")
        target = next(t for t, s in LAYOUT.items() if s == folder)
        path = root / target / rest
        text = path.read_text()
        assert text.count(original) == 1, f"{name} no longer holds {original!r}: update the plant"
        path.write_text(text.replace(original, planted))
    return root


def gate(root: Path, store: Path) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(root), "FTCOT_THREADS": os.environ.get("FTCOT_THREADS", "1")}
    env.pop("FTCOT_STORE", None)
    where = subprocess.run([sys.executable, "-c", "import ftcot; print(ftcot.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(root), f"the copy is not the package imported: {where}"
    out = subprocess.run([sys.executable, "-m", "ftcot", "--store", str(store), "check", str(BASELINE), "--json"],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode in (0, 1), out.stderr[-3000:]
    return out.returncode, json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PLANTS))
def test_the_ci_gate_fails_on_each_planted_regression_and_passes_the_unmodified_code(
        name: str, tmp_path: Path) -> None:
    plant = PLANTS[name]
    started = time.perf_counter()
    code, report = gate(package_copy(tmp_path / "pkg", plant), tmp_path / "store" / "ftcot.db")
    verdicts = {row["verdict"] for row in report["rows"]}
    moves = ", ".join(f"{row['method']} seed {row['seed']}: {row['verdict']} {row['change_points']:+.1f} "
                      f"(detects >{row['tolerance_points']:.1f})" for row in report["rows"]
                      if row["change_points"] is not None)
    print(f"\n{name}: exit {code} in {time.perf_counter() - started:.0f} s; {moves}")
    if plant is None:
        assert code == 0, json.dumps(report["rows"], indent=1)
        assert verdicts <= {"ok", "better"}
    else:
        assert code == 1, f"the gate missed the planted {name}: {moves}"
        assert verdicts & plant[3], f"{name} was caught as {verdicts}, not {plant[3]}"
