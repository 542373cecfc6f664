"""Helpers for testing a plugin in-process, for plugin authors and ftcot's own tests.

``registered(*classes)`` makes plugin classes known to the registry for the ``with`` block,
through the same checks as an installed package (a class that fails them raises
``AssertionError`` with the warning); ``run_cell(task, ...)`` runs one tiny cell and returns its
``CellResult``::

    from ftcot.testing import registered, run_cell

    def test_my_task():
        with registered(SortDigits):
            cell = run_cell("sort_digits:train=16,test=8", teacher="oracle")
        assert cell.n == 8

The pytest plugin offers the same as fixtures: ``ftcot_plugin`` and ``ftcot_cell``.
"""

from __future__ import annotations

import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TINY_STUDENT = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"
"""A student that trains in about a second on a CPU: for checking that a cell runs, not how well."""
TINY_TRAINING: dict[str, Any] = {"max_steps": 2, "batch_size": 4, "max_new_tokens": 32}
"""Training settings of ``run_cell`` unless given: two optimizer steps, short generations."""
IN_PROCESS_PACKAGE = "in-process"


def kind_of(cls: type) -> str:
    """The plugin kind whose base ``cls`` subclasses; AssertionError for none."""
    from ftcot.registry import BASES

    for kind, base in BASES.items():
        if isinstance(cls, type) and issubclass(cls, base):
            return kind
    raise AssertionError(f"{cls!r} subclasses none of ftcot.api's Task, Teacher, Student, Filter, Reporter")


def _plugin(classes: tuple[type, ...]) -> object:
    """A plugin object whose hooks register ``classes``, each under its kind's hook."""
    from ftcot import hookimpl

    by_kind: dict[str, list[type]] = {}
    for cls in classes:
        by_kind.setdefault(kind_of(cls), []).append(cls)
    plugin = types.SimpleNamespace()
    for kind, found in by_kind.items():
        def hook(register: Any, _found: tuple[type, ...] = tuple(found)) -> None:
            for cls in _found:
                register(cls)

        setattr(plugin, f"ftcot_register_{kind}s", hookimpl(hook))
    return plugin


@contextmanager
def registered(*classes: type, package: str = IN_PROCESS_PACKAGE) -> Iterator[Any]:
    """Register plugin classes in this process for the ``with`` block; yields the ``Registry``."""
    from ftcot import registry as reg_module

    entry = (package, _plugin(classes))
    reg_module._EXTRA_PLUGINS.append(entry)
    reg_module.registry.cache_clear()
    try:
        reg = reg_module.registry()
        problems = [w for w in reg.warnings if f"{package!r}" in w]
        if problems:
            raise AssertionError(problems[0])
        yield reg
    finally:
        reg_module._EXTRA_PLUGINS.remove(entry)
        reg_module.registry.cache_clear()


def install_package(root: Path, dist: str, module: str, source: str, version: str = "0.3.1") -> None:
    """Write module ``module`` with ``source`` under ``root`` and entry-point metadata naming it in
    the ``ftcot`` group, as pip would install distribution ``dist``: with ``root`` on
    ``PYTHONPATH``, ftcot loads it like an installed plugin package."""
    import textwrap

    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ftcot]\n{module} = {module}\n")


def run_cell(task: str, *, teacher: str | None = None, student: str = TINY_STUDENT,
             method: str = "fine-tune-cot", degree: int = 1, seed: int = 0,
             training: dict[str, Any] | None = None, teacher_options: dict[str, Any] | None = None,
             filters: tuple[str, ...] = ("correct",), report_epoch: str = "last", split: str = "default",
             store: Any = None, data_dir: str | Path | None = None, scoring: str = "paper") -> Any:
    """Run one cell (or read it from ``store`` when done) and return its ``CellResult``.

    ``teacher`` defaults to ``oracle`` for methods that use one, ``training`` to ``TINY_TRAINING``,
    ``store`` to a fresh one in a temporary directory. AssertionError when the cell failed.
    """
    from ftcot.matrix.config import NO_TEACHER, TEACHER_METHODS
    from ftcot.pipeline import CellSpec
    from ftcot.pipeline import run_cell as run
    from ftcot.store import Store

    if teacher is None:  # as a matrix names them, so both share finished cells
        teacher = "oracle" if method in TEACHER_METHODS else NO_TEACHER
    spec = CellSpec(task=task, teacher=teacher, student=student, method=method, degree=degree, seed=seed,
                    training=dict(TINY_TRAINING if training is None else training),
                    teacher_options=dict(teacher_options or {}), filters=tuple(filters),
                    report_epoch=report_epoch, split=split)
    if store is not None:
        cell = run(spec, store, data_dir, scoring, progress=False)
    else:
        with tempfile.TemporaryDirectory(prefix="ftcot-cell-") as directory:
            own = Store(Path(directory) / "ftcot.db")
            try:
                cell = run(spec, own, data_dir, scoring, progress=False)
            finally:
                own.close()
    if cell.status != "done" or cell.accuracy is None:
        raise AssertionError(f"ftcot cell {task} / {student} / {method} failed: {cell.error}")
    return cell
