"""ftcot's pytest plugin (entry point ``pytest11``): gate a project's own tests on small students.

- ``ftcot_cell`` fixture: ``ftcot_cell(task, student=..., method=..., teacher=..., degree=1,
  seed=0, training={...})`` runs one cell through the pipeline (or returns it from the store when
  it is already done) and gives its ``CellResult``. The teacher defaults to ``oracle`` (rationales
  computed for the generated tasks) where the method uses one, else ``none``, as in a matrix::

      def test_student(ftcot_cell):
          cell = ftcot_cell("coin_flip:flips=4,train=64,test=32,seed=0", student="tiny-gpt2",
                            method="fine-tune-cot", training={"epochs": 2})
          assert cell.accuracy >= 0.9

- ``@pytest.mark.ftcot_baseline("baselines/demo.json", tolerance=None)``: after the test passes,
  runs the gate of ``ftcot check`` on that baseline and fails the test with its table when a cell
  got worse. A relative path is taken from the pytest root directory.

The store comes from ``--ftcot-store``, else ``$FTCOT_STORE``, else ``./ftcot-runs/ftcot.db``; the
data directory from ``--ftcot-data-dir``, else ``$FTCOT_DATA_DIR``. Imports here stay light (no
torch) because pytest loads this module in every run of every project where ftcot is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

MARKER = "ftcot_baseline"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ftcot", "ftcot cells and regression baselines")
    group.addoption("--ftcot-store", default=None, metavar="PATH",
                    help="ftcot store file for ftcot_cell and ftcot_baseline (default: $FTCOT_STORE, "
                         "else ./ftcot-runs/ftcot.db)")
    group.addoption("--ftcot-data-dir", default=None, metavar="DIR",
                    help="dataset directory (default: $FTCOT_DATA_DIR)")
    group.addoption("--ftcot-scoring", default="paper", choices=("paper", "strict"),
                    help="answer-scoring rule set for ftcot_cell (default: paper)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path, tolerance=None): fail the test when a cell of this ftcot baseline got worse",
    )


def _settings(config: pytest.Config) -> tuple[Path, Path]:
    from ftcot.settings import default_data_dir, default_store_path

    store = config.getoption("ftcot_store")
    data_dir = config.getoption("ftcot_data_dir")
    return (Path(store) if store else default_store_path(),
            Path(data_dir) if data_dir else default_data_dir())


@pytest.fixture(scope="session")
def ftcot_store(pytestconfig: pytest.Config) -> Any:
    """The session's ftcot ``Store``."""
    from ftcot.store import Store

    store = Store(_settings(pytestconfig)[0])
    yield store
    store.close()


@pytest.fixture
def ftcot_cell(ftcot_store: Any, pytestconfig: pytest.Config) -> Callable[..., Any]:
    """A function that runs one cell (or reads it when done) and returns its ``CellResult``;
    a cell that fails fails the test with its error."""
    from ftcot.errors import UserError

    data_dir = _settings(pytestconfig)[1]
    scoring = pytestconfig.getoption("ftcot_scoring")

    def run(task: str, *, student: str, method: str = "fine-tune-cot", teacher: str | None = None,
            degree: int = 1, seed: int = 0, training: dict[str, Any] | None = None,
            teacher_options: dict[str, Any] | None = None, filters: tuple[str, ...] = ("correct",),
            report_epoch: str = "last", split: str = "default") -> Any:
        from ftcot.matrix.config import NO_TEACHER, TEACHER_METHODS
        from ftcot.pipeline import CellSpec, run_cell

        if teacher is None:  # as a matrix names them, so both share finished cells
            teacher = "oracle" if method in TEACHER_METHODS else NO_TEACHER
        try:  # the settings are checked (ftcot.validation) before anything runs
            spec = CellSpec(task=task, teacher=teacher, student=student, method=method, degree=degree,
                            seed=seed, training=dict(training or {}),
                            teacher_options=dict(teacher_options or {}), filters=tuple(filters),
                            report_epoch=report_epoch, split=split)
            cell = run_cell(spec, ftcot_store, data_dir, scoring, progress=False)
        except UserError as exc:
            pytest.fail(f"ftcot cell {task} / {student} / {method}: {exc}", pytrace=False)
        if cell.status != "done" or cell.accuracy is None:
            pytest.fail(f"ftcot cell {task} / {student} / {method} failed: {cell.error}", pytrace=False)
        return cell

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    result = yield  # the test body; if it failed, its own failure is reported and the gate is not run
    marker = item.get_closest_marker(MARKER)
    if marker is not None:
        _gate(item, marker)
    return result


def _gate(item: pytest.Item, marker: pytest.Mark) -> None:
    from ftcot.check import Baseline, check, report_text
    from ftcot.errors import UserError
    from ftcot.store import Store

    if not marker.args:
        pytest.fail(f"@pytest.mark.{MARKER} needs the baseline's path, e.g. "
                    f'@pytest.mark.{MARKER}("baselines/demo.json")', pytrace=False)
    path = Path(marker.args[0])
    if not path.is_absolute():
        path = item.config.rootpath / path
    store_path, data_dir = _settings(item.config)
    try:
        baseline = Baseline.load(path)
        store = Store(store_path)
        try:
            report = check(baseline, store, data_dir, tolerance_points=marker.kwargs.get("tolerance"),
                           progress=False)
        finally:
            store.close()
    except UserError as exc:
        pytest.fail(f"ftcot baseline {path}: {exc}", pytrace=False)
    if not report.ok:
        pytest.fail(f"ftcot baseline {path}: cells got worse\n{report_text(report)}", pytrace=False)
