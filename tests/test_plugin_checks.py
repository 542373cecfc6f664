"""A plugin package with a common mistake: one warning naming it, the rest of ftcot unaffected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import real_data_dir

from ftcot.api import GeneratedTask, Param, Reporter
from ftcot.registry import registry
from ftcot.testing import install_package, registered, run_cell

HEAD = "from ftcot.api import GeneratedTask, Param, Reporter, Task, Teacher, hookimpl\n"
TASK = '''
class Digits(GeneratedTask):
    name = "digits"
    params = (Param("train", int, 4, "train"), Param("test", int, 2, "test"))

    def _generate(self, rng):
        return str(rng.random()), "1", None, {}
'''
MISTAKES = {
    "not-a-subclass": (TASK + "class Plain:\n    name = 'plain'\n\n@hookimpl\ndef ftcot_register_tasks(register):\n"
                       "    register(Plain)\n", "Plain is not a subclass of ftcot.api.Task"),
    "abstract": ("class Half(Task):\n    name = 'half'\n\n@hookimpl\ndef ftcot_register_tasks(register):\n"
                 "    register(Half)\n", "Half does not implement _load, fingerprint, split_indices"),
    "reporter-typo": ("class Tsv(Reporter):\n    name = 'tsv2'\n    def rendr(self, board):\n        return ''\n\n"
                      "@hookimpl\ndef ftcot_register_reporters(register):\n    register(Tsv)\n",
                      "Tsv does not implement render"),
    "instance": (TASK + "@hookimpl\ndef ftcot_register_tasks(register):\n    register(Digits())\n",
                 "registered an instance of Digits where a class is expected"),
    "no-name": (TASK.replace('name = "digits"', "") + "@hookimpl\ndef ftcot_register_tasks(register):\n"
                "    register(Digits)\n", "Digits has no `name`"),
    "hook-typo": (TASK + "@hookimpl\ndef ftcot_register_task(register):\n    register(Digits)\n",
                  "unknown hook ftcot_register_task: did you mean ftcot_register_tasks?"),
    "no-hookimpl": (TASK + "def ftcot_register_tasks(register):\n    register(Digits)\n",
                    "registers nothing: ftcot_register_tasks lacks @hookimpl"),
    "one-hook-unmarked": (TASK + "class Tsv(Reporter):\n    name = 'tsv3'\n    def render(self, board):\n"
                          "        return ''\n\n@hookimpl\ndef ftcot_register_tasks(register):\n    register(Digits)\n\n"
                          "def ftcot_register_reporters(register):\n    register(Tsv)\n",
                          "ftcot_register_reporters lacks @hookimpl"),
    "name-clash": (TASK.replace('name = "digits"', 'name = "coin_flip"') + "@hookimpl\ndef ftcot_register_tasks("
                   "register):\n    register(Digits)\n", "task 'coin_flip' is also registered by 'ftcot'; rename it"),
}


def ftcot(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("FTCOT_LOAD_PLUGINS", None)
    if "FTCOT_DATA_DIR" not in env and (data := real_data_dir()) is not None:
        env["FTCOT_DATA_DIR"] = str(data)  # the built-in dataset tasks list with their data, as in CI
    return subprocess.run([sys.executable, "-m", "ftcot.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mistake_is_one_warning_and_everything_else_loads(mistake: str, tmp_path: Path) -> None:
    source, problem = MISTAKES[mistake]
    install_package(tmp_path, f"ftcot-{mistake}", "ftcot_" + mistake.replace("-", "_"), HEAD + source)
    builtin = {(p.kind, p.name) for p in registry().all()}
    for command in ("plugins", "tasks"):
        result = ftcot(tmp_path, command, "--json")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, result.stderr
        assert f"'ftcot-{mistake}'" in warnings[0] and problem in warnings[0]
        rows = json.loads(result.stdout)
        if command == "plugins":
            assert builtin <= {(r["kind"], r["name"]) for r in rows if r["problem"] is None}
        else:
            assert {name for kind, name in builtin if kind == "task"} <= {r["name"] for r in rows}


BROKEN_EXAMPLES = TASK.replace('return str(rng.random()), "1", None, {}', 'raise ZeroDivisionError("no digits")') + \
    "@hookimpl\ndef ftcot_register_tasks(register):\n    register(Digits)\n"


def test_task_whose_code_fails_shows_its_problem_and_fails_only_its_own_command(tmp_path: Path) -> None:
    install_package(tmp_path, "ftcot-broken-digits", "ftcot_broken_digits", HEAD + BROKEN_EXAMPLES)
    result = ftcot(tmp_path, "tasks", "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["digits"]["problem"] == "plugin package 'ftcot-broken-digits' failed: ZeroDivisionError: no digits"
    assert rows["digits"]["broken"]
    assert rows["coin_flip"]["problem"] is None
    shown = ftcot(tmp_path, "data", "show", "digits", "0", "--json")
    assert shown.returncode == 1
    assert shown.stderr.splitlines() == [
        "error: plugin package 'ftcot-broken-digits' failed: ZeroDivisionError: no digits"]


def test_skipped_class_is_listed_and_naming_it_is_one_error(tmp_path: Path) -> None:
    source, _ = MISTAKES["abstract"]
    install_package(tmp_path, "ftcot-half", "ftcot_half", HEAD + source)
    rows = json.loads(ftcot(tmp_path, "plugins", "--json").stdout)
    half = [r for r in rows if r["package"] == "ftcot-half"]
    assert [(r["kind"], r["name"]) for r in half] == [("task", "half")]
    assert "does not implement" in half[0]["problem"]
    result = ftcot(tmp_path, "data", "show", "half", "0")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: task 'half' from package 'ftcot-half' was not loaded")
    assert "Traceback" not in result.stderr


class Squares(GeneratedTask):
    """What is N squared?"""

    name = "squares"
    answer_type = "number"
    params = (Param("train", int, 6, "training examples"), Param("test", int, 3, "test examples"),
              Param("seed", int, 0, "generator seed"))

    def _generate(self, rng):
        n = rng.randint(2, 60)
        return f"What is {n} squared?", str(n * n), None, {"n": n}

    def oracle_rationales(self, example):
        n = example.meta["n"]
        return [f"{n} times {n} is {n * n}."]


def test_registered_helper_makes_a_class_usable_in_a_cell() -> None:
    with registered(Squares) as reg:
        assert reg.get("task", "squares").package == "in-process"
        cell = run_cell("squares:train=6,test=3")
    assert (cell.n, cell.train_samples, cell.teacher) == (3, 6, "oracle")
    assert "squares" not in registry().names("task")


def test_registered_helper_raises_the_registration_warning() -> None:
    class NoRender(Reporter):
        name = "no-render"

    with pytest.raises(AssertionError, match="NoRender does not implement render"):
        with registered(NoRender):
            pass
    assert "no-render" not in registry().names("reporter")


def test_ftcot_plugin_fixture(ftcot_plugin) -> None:
    reg = ftcot_plugin(Squares)
    assert [p.name for p in reg.get("task", "squares").params] == ["train", "test", "seed"]
    assert registry().get("task", "squares").cls is Squares


RAISING_TASKS = '''
from ftcot.api import DatasetTask, RawFile, hookimpl


class Exploding(DatasetTask):
    name = "exploding"
    answer_type = "text"
    files = (RawFile("rows.jsonl", 2, None, "https://example.org/rows.jsonl"),)

    def _parse(self, path, raw_file):
        yield from ()

    def present(self):
        raise RuntimeError("disk on fire\\nsecond line")

    def fingerprint(self):
        raise RuntimeError("no fingerprint")


class NoFiles(DatasetTask):
    name = "no_files"
    answer_type = "text"
    files = None  # not a tuple of RawFile: the harness's walk over it fails

    def _parse(self, path, raw_file):
        yield from ()


@hookimpl
def ftcot_register_tasks(register):
    register(Exploding)
    register(NoFiles)
'''


def test_whole_store_listings_show_a_raising_task_in_its_own_row(tmp_path: Path) -> None:
    install_package(tmp_path / "site", "ftcot-raising", "ftcot_raising", RAISING_TASKS)
    data = tmp_path / "data"
    builtin_dataset = {"gsm8k", "multiarith", "aqua", "coin_flip"}
    status = ftcot(tmp_path / "site", "--data-dir", str(data), "data", "status", "--json")
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    rows = {r["task"]: r for r in json.loads(status.stdout)["tasks"]}
    assert builtin_dataset <= set(rows) and not any(rows[name]["broken"] for name in builtin_dataset)
    assert rows["exploding"]["broken"] and not rows["exploding"]["ok"]
    assert rows["exploding"]["note"] == "plugin package 'ftcot-raising' failed: RuntimeError: disk on fire second line"
    assert rows["no_files"]["broken"] and rows["no_files"]["note"].startswith("TypeError: ")
    table = ftcot(tmp_path / "site", "--data-dir", str(data), "data", "status")
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    assert "broken" in table.stdout and "gsm8k" in table.stdout
    listed = ftcot(tmp_path / "site", "--data-dir", str(data), "tasks", "--json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    tasks = {r["name"]: r for r in json.loads(listed.stdout)}
    assert tasks["exploding"]["broken"] and "\n" not in tasks["exploding"]["problem"]
    assert tasks["exploding"]["problem"].endswith("RuntimeError: disk on fire second line")
    assert tasks["no_files"]["broken"] and not tasks["gsm8k"]["broken"]
    used = ftcot(tmp_path / "site", "--data-dir", str(data), "data", "show", "exploding", "0")
    assert used.returncode == 1 and "Traceback" not in used.stderr
    (error,) = [line for line in used.stderr.splitlines() if line.startswith("error:")]
    assert "exploding" in error


def test_installing_every_tasks_data_skips_a_task_whose_file_list_raises(tmp_path: Path) -> None:
    install_package(tmp_path / "site", "ftcot-raising", "ftcot_raising", RAISING_TASKS)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    result = ftcot(tmp_path / "site", "--data-dir", str(tmp_path / "data"), "data", "import", str(mirror))
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipping task")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipping task no_files: its file list")
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "no data file found under" in error  # the other tasks' files were looked for


def test_a_standalone_generated_task_lists_without_a_problem(tmp_path: Path) -> None:
    install_package(tmp_path, "ftcot-digits", "ftcot_digits",
                    HEAD + TASK + "@hookimpl\ndef ftcot_register_tasks(register):\n    register(Digits)\n")
    result = ftcot(tmp_path, "tasks", "--json")
    assert result.returncode == 0 and "warning:" not in result.stderr, result.stderr
    digits = next(r for r in json.loads(result.stdout) if r["name"] == "digits")
    assert digits["problem"] is None and not digits["broken"] and digits["changed"] == []


PACKAGE_PROBLEMS = {  # distribution -> (module source, the problem its package row shows)
    "ftcot-hook-misspelled": (HEAD + TASK + "@hookimpl\ndef ftcot_register_taks(register):\n    register(Digits)\n",
                              "unknown hook ftcot_register_taks: did you mean ftcot_register_tasks?"),
    "ftcot-import-fails": ("import not_a_module_anywhere\n",
                           "failed to load: ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
}


@pytest.mark.parametrize("dist", sorted(PACKAGE_PROBLEMS))
def test_a_skipped_package_is_listed_in_a_package_row_with_its_problem(dist: str, tmp_path: Path) -> None:
    source, problem = PACKAGE_PROBLEMS[dist]
    module = dist.replace("-", "_")
    install_package(tmp_path, dist, module, source)
    result = ftcot(tmp_path, "plugins", "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    rows = json.loads(result.stdout)
    assert [r for r in rows if r["package"] == dist] == [
        {"kind": "package", "name": module, "package": dist, "version": "0.3.1", "class": module,
         "description": "", "params": [], "problem": problem}]
    assert {"coin_flip", "oracle", "correct"} <= {r["name"] for r in rows if r["problem"] is None}
    table = ftcot(tmp_path, "plugins")
    assert table.returncode == 0, table.stderr
    (line,) = [line for line in table.stdout.splitlines() if dist in line]
    assert line.replace("│", " ").split()[:3] == ["package", module, dist] and "not loaded:" in line


INSTALLED_TEST = """
import importlib.util, sys
import ftcot_digits
from ftcot.registry import registry
from ftcot.testing import registered

assert registry().get("task", "digits").package == "ftcot-digits"
with registered(ftcot_digits.Digits) as reg:  # the class the installed package registers
    assert reg.get("task", "digits").cls is ftcot_digits.Digits and not reg.warnings
spec = importlib.util.spec_from_file_location("copy_of_digits", ftcot_digits.__file__)
copy = sys.modules["copy_of_digits"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(copy)  # the same source imported under a second name: a second class object
assert copy.Digits is not ftcot_digits.Digits
with registered(copy.Digits) as reg:
    info = reg.get("task", "digits")
    assert (info.cls, info.package, reg.warnings) == (copy.Digits, "ftcot-digits", []), reg.warnings
print("ok")
"""


def test_a_plugins_own_tests_register_its_classes_with_the_package_installed(tmp_path: Path) -> None:
    install_package(tmp_path, "ftcot-digits", "ftcot_digits",
                    HEAD + TASK + "@hookimpl\ndef ftcot_register_tasks(register):\n    register(Digits)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("FTCOT_LOAD_PLUGINS", None)
    result = subprocess.run([sys.executable, "-c", INSTALLED_TEST], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert "warning:" not in result.stderr
