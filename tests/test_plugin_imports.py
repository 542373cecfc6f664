"""Built-ins are plugins like any other: every module under tasks/, teachers/, students/ and
plugins/ imports only ``ftcot.api``, ``hookimpl``/``__version__`` from ``ftcot`` and its own
folder (at any depth, relative imports included), and everything ``ftcot.api`` exports is in the
plugin guide."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import ftcot.api

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FOLDERS = ("tasks", "teachers", "students", "plugins")
FROM_FTCOT = ("hookimpl", "__version__", "api")  # what ``from ftcot import ...`` may take


def _imported(node: ast.AST, package: str) -> list[str]:
    """The dotted names an import statement in a module of ``package`` reaches."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: ``from ..x import y`` in ftcot.tasks -> ftcot.x
        parts = package.split(".")
        parent = parts[: len(parts) - node.level + 1]
        base = ".".join([*parent, base] if base else parent)
    if base == "ftcot":
        return [f"ftcot.{alias.name}" if alias.name not in FROM_FTCOT else "ftcot" for alias in node.names]
    return [base]


def import_problems(source: str, folder: str, package: str | None = None) -> list[str]:
    """Each import in ``source`` (a module of plugin folder ``folder``, in ``package``, by default
    the folder's own) that the rule forbids."""
    own = f"ftcot.{folder}"
    found = []
    for node in ast.walk(ast.parse(source)):
        for name in _imported(node, package or own):
            if name == "ftcot.api" or name == own or name.startswith(own + ".") or name.split(".")[0] != "ftcot":
                continue
            if name == "ftcot" and isinstance(node, ast.ImportFrom):
                continue  # hookimpl or __version__
            other = name.split(".")[1] if name.count(".") else ""
            if other in PLUGIN_FOLDERS:
                found.append(f"line {node.lineno}: {name} is another plugin folder")
            else:
                found.append(f"line {node.lineno}: {name} is not ftcot.api")
    return found


@pytest.mark.parametrize("source, folder, expected", [
    ("from ftcot.api import Task, hookimpl\nfrom ftcot import __version__, hookimpl\n", "tasks", []),
    ("from ftcot.tasks.paper import PaperDataset\nfrom . import words\nfrom .words import NAMES\n", "tasks", []),
    ("import json\nimport torch.nn\n", "students", []),
    ("from ftcot.datafiles import read_json\n", "tasks", ["line 1: ftcot.datafiles is not ftcot.api"]),
    ("def f():\n    from ftcot.teachers.litellm_teacher import _litellm\n", "students",
     ["line 2: ftcot.teachers.litellm_teacher is another plugin folder"]),
    ("from ..teachers import oracle\n", "tasks", ["line 1: ftcot.teachers is another plugin folder"]),
    ("from .. import registry\n", "plugins", ["line 1: ftcot.registry is not ftcot.api"]),
    ("from ftcot import store, hookimpl\n", "teachers", ["line 1: ftcot.store is not ftcot.api"]),
    ("from ftcot import students\n", "teachers", ["line 1: ftcot.students is another plugin folder"]),
    ("import ftcot\nimport ftcot.registry\n", "plugins",
     ["line 1: ftcot is not ftcot.api", "line 2: ftcot.registry is not ftcot.api"]),
])
def test_the_rule_sees_every_kind_of_import(source: str, folder: str, expected: list[str]) -> None:
    assert import_problems(source, folder) == expected


def test_builtin_plugins_import_only_the_public_api_and_their_own_folder() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for folder in PLUGIN_FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (found := import_problems(path.read_text(encoding="utf-8"), folder,
                                     ".".join(("ftcot", *path.parent.relative_to(ROOT).parts))))
    }
    assert offenders == {}
    assert len(list((ROOT / "tasks").rglob("*.py"))) > 5  # the folders were found


def test_every_public_api_name_is_in_the_plugin_guide() -> None:
    guide = re.sub(r"^\s*```.*$", "", (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8"), flags=re.M)
    spans = " ".join(re.findall(r"`([^`]+)`", guide))  # every code span (fenced blocks are not spans)
    missing = [name for name in ftcot.api.__all__
               if not re.search(rf"(?:^|[^\w.]|ftcot\.api\.){re.escape(name)}\b", spans)]
    assert missing == []
    assert all(hasattr(ftcot.api, name) for name in ftcot.api.__all__)
