"""The SQLite store: concurrent writers, kills mid-write, schema versions, record round trips."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ftcot.errors import UserError
from ftcot.records import CellResult, Completion, Example, Prediction, ReasoningSample
from ftcot.store import SCHEMA_VERSION, Store, content_key

WRITER = textwrap.dedent(
    """
    import sys
    from ftcot.records import Completion
    from ftcot.store import Store, content_key

    path, tag, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = Store(path)
    for b in range(batches):
        items = []
        for i in range(size):
            c = Completion(task="t", sample_index=b * size + i, teacher=tag, index=0, rationale="r" * 50)
            items.append((content_key(tag, b, i), c))
        store.put_completions(items)
        print(b, flush=True)
    """
)


def writer(path: Path, tag: str, batches: int, size: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(batches), str(size)],
                            stdout=subprocess.PIPE, text=True)


def test_two_processes_write_at_once_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    procs = [writer(path, tag, batches=40, size=50) for tag in ("a", "b")]
    for proc in procs:
        proc.communicate(timeout=180)
        assert proc.returncode == 0
    store = Store(path)
    for tag in ("a", "b"):
        done = store.completions(teacher=tag)
        assert len(done) == 40 * 50
        assert sorted(c.sample_index for c in done) == list(range(2000))


def test_sigkill_mid_batch_leaves_every_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    proc = writer(path, "k", batches=100_000, size=200)
    committed = -1
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until several batches are committed, then kill mid-stream
        committed = int(line)
        if committed >= 5:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(path)
    assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = store.completions(teacher="k")
    assert len(rows) % 200 == 0, "a batch is either all there or not at all"
    assert len(rows) >= (committed + 1) * 200
    assert sorted(c.sample_index for c in rows) == list(range(len(rows)))


def test_completion_cost_sums_one_task_and_teacher(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.put_completions([
        ("a", Completion(task="t", sample_index=0, teacher="x", index=0, cost_usd=0.5)),
        ("b", Completion(task="t", sample_index=1, teacher="x", index=0, cost_usd=0.25)),
        ("c", Completion(task="u", sample_index=0, teacher="x", index=0, cost_usd=9.0)),
    ])
    assert store.completion_cost("t", "x") == 0.75
    assert store.completion_cost("t", "y") == 0.0


def test_failure_never_replaces_a_success(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    ok = Completion(task="t", sample_index=1, teacher="x", index=0, rationale="good")
    bad = Completion(task="t", sample_index=1, teacher="x", index=0, error="timeout")
    store.put_completions([("k", bad)])
    assert store.get_completions(["k"])["k"].failed
    store.put_completions([("k", ok)])
    store.put_completions([("k", bad)])
    assert store.get_completions(["k"])["k"].rationale == "good"


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(UserError, match="newer than this ftcot"):
        Store(path)


def test_store_reopens_and_keeps_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.db"
    store = Store(path)
    store.put_cell("c1", CellResult(task="t", teacher="oracle", student="s", method="fine-tune", accuracy=0.5, n=10))
    store.close()
    again = Store(path)
    assert again.schema_version == SCHEMA_VERSION
    assert again.get_cell("c1").accuracy == 0.5
    assert again.cells(method="fine-tune")[0].n == 10
    assert again.cells(method="zero-shot") == []


def test_artifacts_and_predictions(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.put_artifact("model", "k1", {"path": "models/k1", "epochs": 3})
    assert store.get_artifact("model", "k1") == {"path": "models/k1", "epochs": 3}
    assert store.get_artifact("model", "nope") is None
    preds = [Prediction(task="t", sample_index=i, student="s", method="m", text=f"--> {i}",
                        prediction=str(i), correct=i % 2 == 0) for i in (3, 1, 2)]
    store.put_predictions("run", preds)
    assert [p.sample_index for p in store.predictions("run")] == [1, 2, 3]


def test_content_key_is_stable_and_order_free() -> None:
    assert content_key({"a": 1, "b": [1, 2]}, "x") == content_key({"b": [1, 2], "a": 1}, "x")
    assert content_key("a", 1) != content_key("a", 2)
    assert len(content_key("a")) == 64


@pytest.mark.parametrize(
    "record",
    [
        Example(task="t", sample_index=3, question="Q?", answer="B", choices=["x", "y"], meta={"k": [1]}),
        Completion(task="t", sample_index=3, teacher="oracle", index=2, rationale="r", correct=True,
                   prompt_tokens=5, cost_usd=0.01),
        ReasoningSample(task="t", sample_index=3, completion_index=0, teacher="oracle", question="Q",
                        rationale="r", answer="a", input="Q ###", target=" r --> a END"),
        Prediction(task="t", sample_index=3, student="s", method="m", text="x", prediction=None, correct=False),
        CellResult(task="t", teacher="oracle", student="s", method="m", accuracy=0.25, n=4, extra={"a": 1}),
    ],
)
def test_records_round_trip_through_json(record) -> None:
    assert type(record).from_json(record.to_json()) == record
