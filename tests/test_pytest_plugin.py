"""The pytest plugin, as a user's project sees it: loaded through the ``pytest11`` entry point,
the ``ftcot_cell`` fixture on real tiny cells, the ``ftcot_baseline`` marker."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import ftcot.matrix.config  # noqa: F401  (loaded here, kept through pytester's in-process runs)
from ftcot.check import build_baseline
from ftcot.pipeline import CellSpec, cell_key, run_cell
from ftcot.store import Store

pytest_plugins = ["pytester"]

TASK = "coin_flip:flips=2,train=32,test=16,seed=0"
TRAINING = {"max_steps": 20, "batch_size": 16, "max_new_tokens": 8}

USER_TESTS = f"""
TASK = {TASK!r}
TRAINING = {TRAINING!r}

def test_accuracy_is_a_share(ftcot_cell):
    cell = ftcot_cell(TASK, student="tiny-gpt2", method="fine-tune", training=TRAINING)
    assert cell.status == "done" and cell.n == 16 and 0.0 <= cell.accuracy <= 1.0

def test_impossible_goal_fails(ftcot_cell):
    assert ftcot_cell(TASK, student="tiny-gpt2", method="fine-tune", training=TRAINING).accuracy > 1.0

def test_broken_cell_fails_with_its_error(ftcot_cell):
    ftcot_cell(TASK, student="no-such-student", method="fine-tune", training=TRAINING)
"""


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store for the user's runs. First, one quick untrained cell runs here in this
    process: pytester's in-process runs unload the modules they import (and numpy or torch
    cannot be loaded twice), so what a cell needs must already be loaded."""
    warm = Store(tmp_path_factory.mktemp("warm") / "ftcot.db")
    run_cell(CellSpec(task=TASK, teacher="oracle", student="tiny-gpt2", method="zero-shot", training=TRAINING),
             warm, None, "paper", progress=False)
    warm.close()
    return tmp_path_factory.mktemp("plugin") / "ftcot.db"


def test_the_entry_point_names_the_plugin_module() -> None:
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="pytest11")}
    assert eps.get("ftcot") == "ftcot.pytest_plugin"


def test_loading_the_plugin_does_not_import_torch() -> None:
    code = "import sys, ftcot.pytest_plugin; assert 'torch' not in sys.modules, sorted(sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]


def test_plugin_registers_marker_and_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.ftcot_baseline(path, tolerance=None)*"])
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--ftcot-store=PATH*", "*--ftcot-data-dir=DIR*"])


def test_ftcot_cell_runs_real_cells(pytester: pytest.Pytester, store_file: Path) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(f"--ftcot-store={store_file}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*assert *.accuracy > 1.0*"])
    result.stdout.fnmatch_lines(["*ftcot cell*no-such-student*fine-tune*unknown student*"])
    store = Store(store_file)
    try:
        cells = store.cells(status="done")
    finally:
        store.close()
    # no teacher for plain fine-tuning, named as a matrix names it
    assert [(c.task, c.teacher, c.student, c.method, c.n) for c in cells] == [(TASK, "none", "tiny-gpt2", "fine-tune", 16)]


def test_store_comes_from_the_environment(pytester: pytest.Pytester, store_file: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_env=USER_TESTS.split("def test_impossible")[0])
    monkeypatch.setenv("FTCOT_STORE", str(store_file))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)  # the cell finished by the previous test: read, not retrained


def _baseline(store_file: Path, path: Path, accuracy: float | None = None, n: int | None = None) -> Path:
    store = Store(store_file)
    try:  # the user's cell (finished already when the tests above ran)
        run_cell(CellSpec(task=TASK, teacher="none", student="tiny-gpt2", method="fine-tune", training=TRAINING),
                 store, None, "paper", progress=False)
        baseline, _ = build_baseline(store, Path("."), "paper")
    finally:
        store.close()
    for cell in baseline.cells:
        cell.accuracy = cell.accuracy if accuracy is None else accuracy
        cell.n = cell.n if n is None else n
    baseline.save(path)
    return path


def test_baseline_marker_passes_and_fails_with_the_gate_table(pytester: pytest.Pytester, store_file: Path) -> None:
    (pytester.path / "baselines").mkdir()
    _baseline(store_file, pytester.path / "baselines" / "same.json")  # runs the user's cell if needed
    store = Store(store_file)
    cell = store.cells(status="done")[0]
    key = cell_key(CellSpec.from_dict(cell.extra["spec"]), "paper")
    store.put_cell(key, dataclasses.replace(cell, accuracy=0.0))  # a run that got none of its 16 right
    store.close()
    try:
        _baseline(store_file, pytester.path / "baselines" / "same.json")
        # a baseline that claims more than this run reached: every answer right out of 10,000
        _baseline(store_file, pytester.path / "baselines" / "higher.json", accuracy=1.0, n=10_000)
        _check_marker_outcomes(pytester, store_file)
    finally:
        store = Store(store_file)
        store.put_cell(key, cell)
        store.close()


def _check_marker_outcomes(pytester: pytest.Pytester, store_file: Path) -> None:
    pytester.makepyfile(test_gate="""
        import pytest

        @pytest.mark.ftcot_baseline("baselines/same.json")
        def test_same():
            pass

        @pytest.mark.ftcot_baseline("baselines/higher.json")
        def test_higher():
            pass

        @pytest.mark.ftcot_baseline("baselines/higher.json", tolerance=100)
        def test_higher_with_wide_tolerance():
            pass

        @pytest.mark.ftcot_baseline("baselines/absent.json")
        def test_absent():
            pass

        @pytest.mark.ftcot_baseline
        def test_no_path():
            pass

        @pytest.mark.ftcot_baseline("baselines/higher.json")
        def test_own_failure_comes_first():
            assert 1 == 2
    """)
    recorder = pytester.inline_run(f"--ftcot-store={store_file}", "-p", "no:cacheprovider")
    passed, _, failed = recorder.listoutcomes()
    assert sorted(r.nodeid.split("::")[1] for r in passed) == ["test_higher_with_wide_tolerance", "test_same"]
    why = {r.nodeid.split("::")[1]: r.longreprtext for r in failed}
    assert sorted(why) == ["test_absent", "test_higher", "test_no_path", "test_own_failure_comes_first"]
    assert "1 of 1 cells got worse" in why["test_higher"] and "worse" in why["test_higher"]
    assert "baselines/higher.json" in why["test_higher"] and "tiny-gpt2" in why["test_higher"]
    assert "absent.json" in why["test_absent"] and "does not exist" in why["test_absent"]
    assert "needs the baseline's path" in why["test_no_path"]
    assert "assert 1 == 2" in why["test_own_failure_comes_first"]
    assert "got worse" not in why["test_own_failure_comes_first"]
