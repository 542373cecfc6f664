"""One installed name: a wheel of ftcot adds only ``ftcot``; a repository with its own ``harness``,
``tasks``, ``plugins``, ``students`` and ``teachers`` packages keeps them, and ftcot still works
there; the core never imports a built-in plugin (the other direction is
``test_plugin_imports.py``); stores written before the namespace are reused."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("harness", "tasks", "teachers", "students", "plugins")
PLUGIN_PACKAGES = ("ftcot.tasks", "ftcot.teachers", "ftcot.students", "ftcot.plugins")
OLD_STORE = Path(__file__).parent / "fixtures" / "store-0.1.0"
OLD_TASK = "coin_flip:flips=2,train=12,test=6,seed=0"
OLD_STUDENT = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ftcot built as a wheel from this checkout and installed, not editable, into a folder."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(src)], check=True,
                   capture_output=True, timeout=600)
    (wheel,) = (root / "dist").glob("ftcot-*.whl")
    site = root / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True,
                   capture_output=True, timeout=600)
    return site


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FTCOT_LOAD_PLUGINS")}
    env["PYTHONPATH"] = str(site)  # ahead of the environment's own (editable) ftcot
    return env


def test_the_wheel_adds_no_top_level_name_but_ftcot(installed: Path) -> None:
    names = {p.name for p in installed.iterdir() if not p.name.endswith(".dist-info")}
    assert names == {"ftcot", "bin"}
    assert [p.name for p in (installed / "bin").iterdir()] == ["ftcot"]
    assert (installed / "ftcot" / "py.typed").is_file()
    assert {p.name for p in (installed / "ftcot").iterdir() if p.is_dir()} >= {
        "tasks", "teachers", "students", "plugins", "contracts", "pipeline", "matrix", "commands"}


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """A project of someone else's whose packages carry the names ftcot's source folders have."""
    repo = tmp_path / "repo"
    for name in SOURCE_DIRS:
        (repo / name).mkdir(parents=True)
        (repo / name / "__init__.py").write_text(f"OWNER = 'user:{name}'\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_user.py").write_text(textwrap.dedent("""
        import harness, plugins, students, tasks, teachers


        def test_the_projects_own_packages_are_imported():
            owners = [m.OWNER for m in (harness, plugins, students, tasks, teachers)]
            assert owners == ["user:harness", "user:plugins", "user:students", "user:tasks", "user:teachers"]


        def test_ftcots_pytest_plugin_is_loaded_and_sees_its_tasks(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("ftcot")
            from ftcot.registry import registry

            assert {"coin_flip", "tracking_shuffled_objects"} <= set(registry().names("task"))
    """))
    return repo


def test_a_project_with_the_same_package_names_keeps_them(installed: Path, scratch_repo: Path) -> None:
    env = _env(installed)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                            cwd=scratch_repo, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout

    where = subprocess.run([sys.executable, "-c", "import ftcot, tasks; print(ftcot.__file__); print(tasks.OWNER)"],
                           cwd=scratch_repo, env=env, capture_output=True, text=True, timeout=120)
    assert where.stdout.splitlines() == [str(installed / "ftcot" / "__init__.py"), "user:tasks"]

    listed = subprocess.run([sys.executable, "-m", "ftcot", "plugins", "--json"], cwd=scratch_repo, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    builtins = {(p["kind"], p["name"]) for p in json.loads(listed.stdout) if p["package"] == "ftcot"}
    assert {("task", "coin_flip"), ("teacher", "oracle"), ("student", "tiny-llama"), ("filter", "correct"),
            ("reporter", "json")} <= builtins


# -- the core depends on contracts only -------------------------------------------------------


def plugin_imports(source: str) -> list[str]:
    """Every module of a built-in plugin package that ``source`` imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [n for n in names if n in PLUGIN_PACKAGES or n.startswith(tuple(p + "." for p in PLUGIN_PACKAGES))]
    return sorted(set(found))


@pytest.mark.parametrize("source, expected", [
    ("from ftcot.tasks.coin_flip import CoinFlip\n", ["ftcot.tasks.coin_flip", "ftcot.tasks.coin_flip.CoinFlip"]),
    ("def f():\n    import ftcot.plugins.reporters\n", ["ftcot.plugins.reporters"]),
    ("from ftcot import students\n", ["ftcot.students"]),
    ("from ftcot.api import Task\nimport ftcot.pipeline\n", []),
])
def test_the_import_rule_sees_plugin_imports_anywhere(source: str, expected: list[str]) -> None:
    assert plugin_imports(source) == expected


def test_no_core_module_imports_a_builtin_plugin() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "harness").rglob("*.py"))
        if (found := plugin_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


# -- stores written before the namespace --------------------------------------------------------


def _rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("cells", "completions", "predictions", "artifacts")}


def test_a_store_written_before_the_namespace_is_reused(tmp_path: Path) -> None:
    shutil.copytree(OLD_STORE, tmp_path / "runs")
    store = tmp_path / "runs" / "ftcot.db"
    before = _rows(store)
    models_before = sorted(p.name for p in (tmp_path / "runs" / "models").iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "ftcot", "--store", str(store), "distill", OLD_TASK, "--teacher", "oracle",
         "--student", OLD_STUDENT, "--max-steps", "3", "--batch-size", "4", "--max-new-tokens", "16", "--json"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    cell = json.loads(result.stdout)
    assert cell["cached"] is True and cell["n"] == 6 and cell["train_samples"] == 12
    assert _rows(store) == before
    assert sorted(p.name for p in (tmp_path / "runs" / "models").iterdir()) == models_before


def test_a_model_saved_before_the_namespace_loads() -> None:
    from ftcot.api import StudentModel

    (model_dir,) = (OLD_STORE / "models").glob("tiny-gpt2*/model")
    assert json.loads((model_dir / "ftcot-student.json").read_text())["class"] == "students.model.CausalStudentModel"
    model = StudentModel.load_saved(model_dir)
    assert type(model).__module__ == "ftcot.students.model"
    assert model.parameter_count == 50976
    (text,) = model.generate(["Q: heads? ###"], max_new_tokens=4, batch_size=1)
    assert isinstance(text, str)
