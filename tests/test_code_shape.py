"""The shape of the code: no function longer than ``MAX_LINES`` in the package, and pipeline
stages that read on their own (the filter stage does not import the train stage)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("harness", "tasks", "teachers", "students", "plugins")
MAX_LINES = 60


def function_lengths() -> dict[str, int]:
    """``path::qualified.name`` -> lines from ``def`` to the function's last line, for every
    function and method under ``FOLDERS``."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found[f"{path}::{name}"] = (child.end_lineno or child.lineno) - child.lineno + 1
                visit(child, path, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, path, prefix + child.name + ".")
            else:
                visit(child, path, prefix)

    for folder in FOLDERS:
        for file in sorted((ROOT / folder).rglob("*.py")):
            visit(ast.parse(file.read_text(encoding="utf-8")), file.relative_to(ROOT).as_posix(), "")
    return found


def test_no_function_is_longer_than_the_limit() -> None:
    lengths = function_lengths()
    assert len(lengths) > 500  # the walk sees the whole package
    long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert long == {}, f"functions over {MAX_LINES} lines: split them"


def test_the_filter_stage_does_not_import_the_train_stage() -> None:
    tree = ast.parse((ROOT / "harness/pipeline/filter.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "ftcot.pipeline.student" in imported
    assert not {m for m in imported if m and m.startswith("ftcot.pipeline.train")}
