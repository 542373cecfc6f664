"""A task plugin whose data is edited between two runs: the stored result is run again (with one
line saying why), unchanged data is reused, a declared ``version`` is the author's word, and
results stored before fingerprints were recorded are reused. The plugin is a real installed
package; every run is a fresh ``python -m ftcot`` process, as a plugin author's would be."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import plugin_env

from ftcot.pipeline.freshness import FINGERPRINT_FIELD, changed_message, declared_version, task_data_fingerprint
from ftcot.store import Store
from ftcot.testing import TINY_STUDENT, install_package

TASK = "sort_digits:digits=3,train=12,test=4"
TRAINING = ["--max-steps", "2", "--batch-size", "4", "--max-new-tokens", "24"]
PLUGIN = '''
from ftcot.api import Example, GeneratedTask, Param, hookimpl


class SortDigits(GeneratedTask):
    """Sort the digits of a number, smallest first."""

    name = "sort_digits"
    answer_type = "number"
    params = (Param("digits", int, 3, "digits"), Param("train", int, 12, "train"), Param("test", int, 4, "test"),
              Param("seed", int, 0, "seed"))
    VERSION_LINE

    def _generate(self, rng):
        number = "".join(str(rng.randint(1, 9)) for _ in range(self.values["digits"]))
        return f"QUESTION {number}, smallest first.", "".join(sorted(number)), None, {"number": number}

    def oracle_rationales(self, example: Example) -> list[str]:
        digits = list(example.meta["number"])
        return [f"RATIONALE {', '.join(digits)}. In order they are {', '.join(sorted(digits))}."]


@hookimpl
def ftcot_register_tasks(register):
    register(SortDigits)
'''
ORIGINAL = {"QUESTION": "Sort the digits of", "RATIONALE": "The digits are", "VERSION_LINE": ""}


class Plugin:
    """The plugin's package under ``site``; ``write(**changes)`` rewrites its source."""

    def __init__(self, site: Path):
        self.site = site
        self.module = site / "ftcot_sort_digits" / "__init__.py"
        install_package(site, "ftcot-sort-digits", "ftcot_sort_digits", self.source())

    def source(self, **changes: str) -> str:
        text = PLUGIN
        for placeholder, value in {**ORIGINAL, **changes}.items():
            text = text.replace(placeholder, value)
        return text

    def write(self, **changes: str) -> None:
        self.module.write_text(self.source(**changes))
        for cached in self.module.parent.glob("__pycache__/*"):
            cached.unlink()  # an edit within the same second must not meet a stale bytecode file


@pytest.fixture
def plugin(tmp_path: Path) -> Plugin:
    return Plugin(tmp_path / "site")


@pytest.fixture
def ftcot(cli_process, plugin: Plugin, tmp_path: Path):
    """``ftcot ARGS`` in a child process with the plugin installed and the test's own store."""
    env = {**plugin_env(plugin.site), "FTCOT_THREADS": "1", "FTCOT_STORE": str(tmp_path / "store" / "ftcot.db")}

    def run(*args: str):
        ran = cli_process(*args, env=env, cwd=tmp_path, timeout=300)
        assert ran.code == 0, ran.err
        return ran

    return run


def distill(ftcot):
    ran = ftcot("distill", TASK, "--teacher", "oracle", "--student", TINY_STUDENT, *TRAINING, "--json")
    return ran.json(), ran.err


def stored_cells(tmp_path: Path) -> list:
    store = Store(tmp_path / "store" / "ftcot.db")
    try:
        return store.cells()
    finally:
        store.close()


def test_edited_rationales_and_questions_run_the_cell_again(plugin: Plugin, ftcot, tmp_path: Path) -> None:
    first, _ = distill(ftcot)
    assert first["cached"] is False
    again, err = distill(ftcot)
    assert again["cached"] is True and "changed" not in err
    [cell] = stored_cells(tmp_path)
    trained_on = cell.extra["texts"]["train_data"]  # "N samples, HASH" of what the student learnt from

    plugin.write(RATIONALE="Its digits are")  # the oracle's training data changes
    edited, err = distill(ftcot)
    assert edited["cached"] is False and edited["key"] == first["key"]  # same cell, run again
    assert changed_message(TASK) in err.splitlines()
    [cell] = stored_cells(tmp_path)
    assert cell.extra["texts"]["train_data"] != trained_on
    after_rationales = cell.extra[FINGERPRINT_FIELD]

    plugin.write(RATIONALE="Its digits are", QUESTION="Put in order the digits of")
    edited, err = distill(ftcot)
    assert edited["cached"] is False and changed_message(TASK) in err.splitlines()
    [cell] = stored_cells(tmp_path)
    assert cell.extra[FINGERPRINT_FIELD] != after_rationales
    assert cell.extra["texts"]["train_input"].startswith("Put in order the digits of")
    assert distill(ftcot)[0]["cached"] is True  # and now the new result is reused


def test_a_declared_version_is_what_counts(plugin: Plugin, ftcot) -> None:
    plugin.write(VERSION_LINE="version = 1")
    assert distill(ftcot)[0]["cached"] is False
    plugin.write(VERSION_LINE="version = 1", RATIONALE="Its digits are")  # edited, version not bumped
    assert distill(ftcot)[0]["cached"] is True
    plugin.write(VERSION_LINE="version = 2", RATIONALE="Its digits are")
    bumped, err = distill(ftcot)
    assert bumped["cached"] is False and changed_message(TASK) in err.splitlines()


def test_results_stored_before_fingerprints_are_reused(plugin: Plugin, ftcot, tmp_path: Path) -> None:
    first, _ = distill(ftcot)
    store = Store(tmp_path / "store" / "ftcot.db")
    [cell] = store.cells()
    del cell.extra[FINGERPRINT_FIELD]  # as an older ftcot stored it
    store.put_cell(first["key"], cell)
    store.close()
    plugin.write(RATIONALE="Its digits are")
    again, err = distill(ftcot)
    assert again["cached"] is True and again["accuracy"] == first["accuracy"] and "changed" not in err


def test_matrix_plan_counts_a_changed_task_to_run_and_run_runs_it(plugin: Plugin, ftcot, tmp_path: Path) -> None:
    config = tmp_path / "m.toml"
    config.write_text(f'tasks = ["{TASK}"]\nteachers = ["oracle"]\nstudents = ["{TINY_STUDENT}"]\n'
                      f'methods = ["fine-tune-cot", "zero-shot"]\nstore = "store/ftcot.db"\n'
                      '[training]\nmax_steps = 2\nbatch_size = 4\nmax_new_tokens = 24\n')
    assert ftcot("matrix", "run", str(config), "--json").json()["ran"] == 2
    plan = ftcot("matrix", "plan", str(config), "--json").json()
    assert (plan["done"], plan["todo"]) == (2, 0)

    plugin.write(QUESTION="Put in order the digits of")
    plan = ftcot("matrix", "plan", str(config), "--json").json()
    assert (plan["done"], plan["todo"]) == (0, 2)
    assert all(c["status"] == "todo" and c["task_changed"] for c in plan["cells_list"])
    ran = ftcot("matrix", "run", str(config), "--json")
    assert ran.json()["ran"] == 2 and changed_message(TASK) in ran.err.splitlines()
    assert (ftcot("matrix", "plan", str(config), "--json").json()["done"]) == 2


def test_the_fingerprint_follows_the_data_and_a_declared_version(make_task) -> None:
    from ftcot.api import GeneratedTask

    coin = make_task("coin_flip:flips=2,train=4,test=2")
    assert declared_version(coin) is None  # GeneratedTask's own version is a default, not a declaration
    assert task_data_fingerprint(coin).startswith("sha256:")
    assert task_data_fingerprint(coin) == task_data_fingerprint(make_task("coin_flip:flips=2,train=4,test=2"))
    assert task_data_fingerprint(coin) != task_data_fingerprint(make_task("coin_flip:flips=2,train=4,test=3"))

    class Versioned(type(coin)):  # type: ignore[misc]
        version = "2024-06"

    assert isinstance(coin, GeneratedTask) and declared_version(Versioned(**coin.values)) == "2024-06"
    assert task_data_fingerprint(Versioned(**coin.values)).startswith("version:2024-06:")
