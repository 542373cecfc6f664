"""Bad stores, faults and outputs that need more than one command: damaged and foreign store
files, read-only commands, the store a matrix uses, outputs ftcot may replace, teachers whose
every completion fails, reports that never call a model, Retry-After and changed data files."""

from __future__ import annotations

import json
import shutil
import sqlite3
from email.utils import formatdate
from pathlib import Path

import pytest
from openai_server import Fault, OpenAIServer
from test_bad_inputs import STORE, TASK, _snapshot, assert_one_error, run_cli

from ftcot.errors import EXIT_ERROR, EXIT_INTERNAL, EXIT_NOTHING_DONE
from ftcot.pipeline.teach import teach
from ftcot.registry import create_task, create_teacher
from ftcot.store import Store
from ftcot.teachers import retry

READERS = [
    ["teacher-report"],
    ["leaderboard"],
    ["leaderboard", "--format", "json"],
    ["teach", TASK, "--teacher", "oracle", "--no-progress"],
    ["matrix", "plan", "m.toml"],
    ["filter-report", TASK, "--teacher", "oracle"],
]
MATRIX = f'tasks = ["{TASK}"]\nstudents = ["tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"]\nmethods = ["fine-tune"]\n'


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTCOT_STORE", str(tmp_path / STORE))
    (tmp_path / "m.toml").write_text(MATRIX)
    return tmp_path


def seeded_store(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path)
    task = create_task(TASK)
    teach(store, task, "oracle", task.train_examples(), progress=False)
    store.close()
    return path


# -- stores ------------------------------------------------------------------------------------------
def _damaged(path: Path) -> None:
    """A real store with its second page overwritten: ``database disk image is malformed``."""
    seeded_store(path)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page: 2 * page] = b"\xa5" * page
    path.write_bytes(bytes(data))


def _foreign(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")


def _schema(value: str):
    def make(path: Path) -> None:
        seeded_store(path)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (value,))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the change in the main file, compared below
        conn.close()
    return make


STORES = {
    "random-bytes": lambda p: (p.parent.mkdir(parents=True, exist_ok=True), p.write_bytes(b"\x17garbage" * 999)),
    "malformed": _damaged,
    "foreign-sqlite": _foreign,
    "schema-word": _schema("one"),
    "schema-future": _schema("99"),
}


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("argv", READERS, ids=lambda a: "-".join(a[:2]))
def test_a_bad_store_is_one_error_line_and_left_as_it_was(kind: str, argv: list[str], here: Path, capfd,
                                                          monkeypatch) -> None:
    path = here / STORE
    STORES[kind](path)
    before = path.read_bytes()
    status, output = run_cli(argv, capfd, monkeypatch)
    assert status == EXIT_ERROR, output
    assert_one_error(output, "store")
    assert path.read_bytes() == before


def test_a_store_path_that_is_a_folder(here: Path, capfd, monkeypatch) -> None:
    (here / STORE).mkdir(parents=True)
    status, output = run_cli(["teach", TASK, "--teacher", "oracle"], capfd, monkeypatch)
    assert status == EXIT_ERROR
    assert_one_error(output, "cannot open store")


@pytest.mark.parametrize("argv", [a for a in READERS if a[0] != "teach"] + [["check", "--no-run", "b.json"]],
                         ids=lambda a: "-".join(a[:2]))
def test_read_only_commands_create_no_store(argv: list[str], here: Path, capfd, monkeypatch) -> None:
    spec = {"task": TASK, "teacher": "oracle", "student": "tiny-gpt2", "method": "fine-tune-cot"}
    (here / "b.json").write_text(json.dumps({"ftcot_baseline": 1, "cells": [{"spec": spec, "accuracy": 0.5, "n": 4}]}))
    run_cli(argv, capfd, monkeypatch)
    assert not (here / "runs").exists()


def test_the_command_line_store_wins_over_the_matrix_file(here: Path, capfd, monkeypatch) -> None:
    (here / "m.toml").write_text(MATRIX + 'store = "from-config.db"\n')
    status, output = run_cli(["--store", "given.db", "matrix", "plan", "m.toml", "--json"], capfd, monkeypatch)
    assert status == 0 and json.loads(output)["store"] == "given.db"
    status, output = run_cli(["matrix", "plan", "m.toml", "--json"], capfd, monkeypatch)
    assert status == 0 and json.loads(output)["store"] == str(here / "from-config.db")
    assert not (here / "given.db").exists() and not (here / "from-config.db").exists()


# -- outputs -----------------------------------------------------------------------------------------
def test_an_output_ftcot_wrote_is_replaced_one_changed_by_hand_is_not(here: Path, capfd, monkeypatch) -> None:
    seeded_store(here / STORE)
    export = ["teach", TASK, "--teacher", "oracle", "--no-progress", "--export", "out/c.jsonl"]
    assert run_cli(export, capfd, monkeypatch)[0] == 0
    first = (here / "out/c.jsonl").read_text()
    assert len(first.splitlines()) == 8
    assert run_cli(export, capfd, monkeypatch)[0] == 0  # ftcot wrote it: replaced
    assert (here / "out/c.jsonl").read_text() == first
    (here / "out/c.jsonl").write_text(first + "my note\n")
    status, output = run_cli(export, capfd, monkeypatch)
    assert status == EXIT_ERROR
    assert_one_error(output, "did not write")
    assert (here / "out/c.jsonl").read_text() == first + "my note\n"
    assert [p.name for p in (here / "out").iterdir()] == ["c.jsonl"]  # no temporary file left


# -- teachers that fail, reports that never ask -------------------------------------------------------
@pytest.mark.parametrize("fault", ["malformed", "empty", "500"])
def test_teach_where_every_completion_fails_exits_3(fault: str, here: Path, capfd, monkeypatch) -> None:
    with OpenAIServer(faults=[Fault(fault, attempts=None)]) as server:
        status, output = run_cli(["teach", "coin_flip:flips=2,train=3,test=1", "--teacher", "litellm:openai/m",
                                  "--api-base", server.url, "--max-tries", "1", "--no-progress"], capfd, monkeypatch)
    assert status == EXIT_NOTHING_DONE, output
    assert_one_error(output, "all 3 completions failed")


def test_a_report_never_calls_a_model(here: Path, capfd, monkeypatch) -> None:
    task_spec = "coin_flip:flips=2,train=3,test=1"
    task = create_task(task_spec)
    store = Store(here / STORE)
    options = {"max_tries": 1, "timeout": 2.0}
    with OpenAIServer(faults=[Fault("500", attempts=None)]) as server:
        first = teach(store, task, "litellm:openai/m", task.train_examples(), progress=False,
                      options={**options, "api_base": server.url})
        asked = len(server.log)
        again = teach(store, task, "litellm:openai/m", task.train_examples(), progress=False, offline=True,
                      options={**options, "api_base": server.url})
        assert len(server.log) == asked  # nothing asked again
    assert first.failed == again.failed == 3 and asked == 3
    rows = _snapshot(here / STORE)
    store.close()
    status, output = run_cli(["filter-report", task_spec, "--teacher", "litellm:openai/m", "--json"], capfd,
                             monkeypatch)
    assert status == 0, output
    report = json.loads(output[output.index("{"):])
    assert report["steps"][0]["filter"] == "failed" and report["steps"][0]["dropped"] == 3
    assert _snapshot(here / STORE) == rows


# -- Retry-After ---------------------------------------------------------------------------------------
class RateLimited(Exception):
    """A provider's 429 with response headers, as litellm raises it."""

    status_code = 429

    def __init__(self, headers: dict[str, str]):
        super().__init__("rate limited")
        self.headers = headers


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = 1_700_000_000.0
    assert retry.retry_after(RateLimited({"Retry-After": "7"}), now=now) == 7.0
    assert retry.retry_after(RateLimited({"retry-after": formatdate(now + 42, usegmt=True)}), now=now) == 42.0
    assert retry.retry_after(RateLimited({"retry-after": formatdate(now - 5, usegmt=True)}), now=now) == 0.0
    assert retry.retry_after(RateLimited({"retry-after": "soon"}), now=now) is None
    assert retry.retry_after(RateLimited({"retry-after": "nan"}), now=now) is None


def test_long_waits_are_capped_by_max_wait(tmp_path: Path) -> None:
    teacher = create_teacher("litellm:openai/m", max_wait=30)
    assert teacher.max_wait == 30.0
    assert create_teacher("litellm:openai/m").max_wait == 300.0  # the max_wait option's declared default
    assert retry.capped_wait(86_400.0, teacher.max_wait) == 30.0
    assert retry.capped_wait(3.0, teacher.max_wait) == 3.0


# -- changed data files ----------------------------------------------------------------------------------
def test_a_changed_raw_file_is_flagged_on_use(tmp_path: Path, capfd, monkeypatch) -> None:
    from conftest import real_data_dir

    source = real_data_dir()
    if source is None or not (source / "raw" / "coin_flip" / "coin_flip.json").is_file():
        pytest.skip("needs the real coin_flip file")
    data = tmp_path / "data"
    shutil.copytree(source / "raw" / "coin_flip", data / "raw" / "coin_flip")
    shutil.copytree(source / "splits", data / "splits")
    raw = data / "raw" / "coin_flip" / "coin_flip.json"
    raw.write_bytes(raw.read_bytes() + b"\n")  # same records, other bytes
    monkeypatch.setenv("FTCOT_STORE", str(tmp_path / "s.db"))
    status, output = run_cli(["--data-dir", str(data), "data", "show", "coin_flip", "0", "--json"], capfd, monkeypatch)
    assert status == 0
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(raw) in warnings[0] and "checksum" in warnings[0]
    status, output = run_cli(["--data-dir", str(data), "tasks", "--json"], capfd, monkeypatch)
    rows = {row["name"]: row for row in json.loads(output[output.index("["):])}
    assert rows["coin_flip"]["changed"] == ["coin_flip.json"]


# -- an unexpected error ----------------------------------------------------------------------------------
def test_an_internal_error_is_one_line_with_its_own_status(here: Path, capfd, monkeypatch) -> None:
    import ftcot.commands.tasks as tasks_command

    def broken(ctx, args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(tasks_command, "run", broken)
    status, output = run_cli(["tasks"], capfd, monkeypatch)
    assert status == EXIT_INTERNAL
    assert "ZeroDivisionError" in assert_one_error(output, "bug in ftcot")
