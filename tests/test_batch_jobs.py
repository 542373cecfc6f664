"""Batch mode (``ftcot teach --batch``) against the local server's files and batches endpoints:
submit, SIGKILL, rerun (polls, never submits again), results stored at the batch price, and a
store filled in batch mode reused by a normal run (and the other way round)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from openai_server import ANSWER_TRIGGER, Fault, OpenAIServer, question_of

from ftcot import registry as plugins
from ftcot.cli import main
from ftcot.errors import EXIT_ERROR, EXIT_PENDING
from ftcot.pipeline.teach import teach
from ftcot.records import BATCH_SUBMITTING
from ftcot.store import SCHEMA_VERSION, Store

SPEC = "coin_flip:flips=2,train=8,test=2"
MODEL = "openai/test-model"
DEGREE = 2
PRICE_IN, PRICE_OUT = 1e-6, 2e-6
SECRET = "sk-batch-test-secret-4711"
ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {"input_cost_per_token": PRICE_IN, "output_cost_per_token": PRICE_OUT, "timeout": 5, "backoff": 0.01}


def _command(store: Path, data: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ftcot.cli", "--store", str(store), "--data-dir", str(data),
            "teach", SPEC, "--teacher", f"litellm:{MODEL}", "--api-base", url, "-D", str(DEGREE),
            "--timeout", "5", "--backoff", "0.01", "--no-progress", "-o", f"input_cost_per_token={PRICE_IN}",
            "-o", f"output_cost_per_token={PRICE_OUT}", "-o", f"api_key={SECRET}", "--batch", *extra]


def _steps_submitted(server: OpenAIServer) -> Counter[str]:
    """The step of each batch the server was asked to create, from its input file."""
    steps: Counter[str] = Counter()
    for create in server.batch_creates:
        lines = [json.loads(line) for line in server.files[create["input_file_id"]].decode().splitlines()]
        (step,) = {line["custom_id"].split("-", 1)[0] for line in lines}
        steps[step] += 1
    return steps


def _created(store_path: Path) -> bool:
    """Whether the store holds a batch job the provider created (not one still submitting)."""
    return store_path.exists() and any(b.status != BATCH_SUBMITTING for b in Store(store_path).batches())


@pytest.fixture
def task(tmp_path):
    return plugins.create_task(SPEC, data_dir=tmp_path)


def test_sigkill_after_submitting_then_rerun_polls_and_stores_at_the_batch_price(tmp_path, task, capsys):
    examples = task.train_examples()
    store_path = tmp_path / "batch.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("OPENAI_API_KEY", None)
    with OpenAIServer(answers={e.question: e.answer for e in examples}, hold_batches=True) as server:
        proc = subprocess.Popen(_command(store_path, tmp_path, server.url, "--wait", "--poll", "0.05"), env=env,
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 180
        while not _created(store_path):  # the batch id is recorded
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.time() < deadline, "the batch was not submitted"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        (recorded,) = Store(store_path).batches()
        assert recorded.id == server.batches[recorded.id]["id"] and recorded.step == "reasoning"
        assert recorded.requests == len(examples)  # a question's two samples in one request (n = 2)
        assert Store(store_path).completions() == []

        # while the batch runs, a rerun says so in one status line and exits "pending"
        again = subprocess.run(_command(store_path, tmp_path, server.url), env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=180)
        assert again.returncode == EXIT_PENDING, again.stderr
        status, error = again.stderr.strip().splitlines()
        assert status.startswith(f"{recorded.id}: in_progress, 0/{len(examples)} done, 0 failed (step 1")
        assert error.startswith("error: 1 batch job(s) still running") and "run this command again" in error
        assert "Traceback" not in again.stderr

        server.release_batches()
        assert main(_command(store_path, tmp_path, server.url, "--wait", "--poll", "0.05", "--json")[3:]) == 0
        summary = json.loads(capsys.readouterr().out)
        steps = _steps_submitted(server)

        # the same completions asked one by one, for the normal price
        normal = teach(Store(tmp_path / "normal.db"), task, f"litellm:{MODEL}", examples, degree=DEGREE,
                       options={**OPTIONS, "api_base": server.url}, progress=False)

    total = len(examples) * DEGREE
    assert steps == {"reasoning": 1, "answer": 1}  # one batch per step, over the kill and both reruns
    assert (summary["completions"], summary["new"], summary["failed"], summary["pending_batches"]) == (total, total, 0, [])
    stored = Store(store_path).completions()
    assert len(stored) == total and not any(c.failed for c in stored)
    by_key = {(c.sample_index, c.index): c for c in normal.completions}
    for c in stored:
        twin = by_key[(c.sample_index, c.index)]
        assert (c.rationale, c.answer_text, c.prompt_tokens, c.completion_tokens) == (
            twin.rationale, twin.answer_text, twin.prompt_tokens, twin.completion_tokens)
        assert c.cost_usd == pytest.approx((c.prompt_tokens * PRICE_IN + c.completion_tokens * PRICE_OUT) / 2)
        assert c.cost_usd == pytest.approx(twin.cost_usd / 2)
    assert summary["cost_usd"] == pytest.approx(normal.cost_usd / 2) and normal.cost_usd > 0
    assert len({c.rationale for c in stored}) == total  # two distinct samples per question

    assert main(["--store", str(store_path), "batches", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["step"], b["status"], b["requests"], b["collected"]) for b in listed] == [
        ("reasoning", "completed", len(examples), True), ("answer", "completed", total, True)]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("batch.db*"))
    assert SECRET.encode() not in raw and server.url.encode() not in raw  # no key and no address stored


def test_a_store_filled_in_batch_mode_is_reused_by_a_normal_run_and_back(tmp_path, task):
    examples = task.train_examples()
    with OpenAIServer() as server:
        batch_store = Store(tmp_path / "batch.db")
        filled = teach(batch_store, task, f"litellm:{MODEL}", examples, degree=DEGREE,
                       options={**OPTIONS, "api_base": server.url, "batch": True}, progress=False)
        assert (filled.new, filled.pending, len(server.log)) == (len(examples) * DEGREE, [], 0)
        reused = teach(batch_store, task, f"litellm:{MODEL}", examples, degree=DEGREE,
                       options={**OPTIONS, "api_base": server.url}, progress=False)
        assert (reused.cached, reused.new, len(server.log)) == (len(examples) * DEGREE, 0, 0)  # zero requests

        normal_store = Store(tmp_path / "normal.db")
        teach(normal_store, task, f"litellm:{MODEL}", examples, degree=DEGREE,
              options={**OPTIONS, "api_base": server.url}, progress=False)
        creates = len(server.batch_creates)
        back = teach(normal_store, task, f"litellm:{MODEL}", examples, degree=DEGREE,
                     options={**OPTIONS, "api_base": server.url, "batch": True}, progress=False)
        assert (back.cached, back.new, len(server.batch_creates)) == (len(examples) * DEGREE, 0, creates)
    keys = {row[0] for row in batch_store._read("SELECT key FROM completions")}
    assert keys == {row[0] for row in normal_store._read("SELECT key FROM completions")}


def test_greedy_batch_shares_one_rationale_among_the_indices(tmp_path, task):
    examples = task.train_examples()[:3]
    with OpenAIServer() as server:
        result = teach(Store(tmp_path / "s.db"), task, f"litellm:{MODEL}", examples, degree=2, temperature=0.0,
                       options={**OPTIONS, "api_base": server.url, "batch": True}, progress=False)
        first = [r for r in server.batch_log if r.step == "reasoning"]
        normal = teach(Store(tmp_path / "n.db"), task, f"litellm:{MODEL}", examples, degree=2, temperature=0.0,
                       options={**OPTIONS, "api_base": server.url}, progress=False)
    assert len(first) == 3 and all("n" not in r.body and "seed" not in r.body for r in first)
    assert result.new == 6
    for example in examples:
        pair = [c for c in result.completions if c.sample_index == example.sample_index]
        assert pair[0].rationale == pair[1].rationale
    # the one request's usage is split between the indices as in normal mode, at half the price
    assert [(c.prompt_tokens, c.completion_tokens) for c in result.completions] == [
        (c.prompt_tokens, c.completion_tokens) for c in normal.completions]
    assert [c.cost_usd for c in result.completions] == pytest.approx([c.cost_usd / 2 for c in normal.completions])


def test_a_version_1_store_gains_the_batches_table(tmp_path):
    path = tmp_path / "old.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:  # what a store written before batch jobs looks like
        conn.execute("DROP TABLE batches")
        conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION == 2
    assert store.batches() == []


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("OPENAI_API_KEY", None)
    return env


def _kill_when_stalled(server: OpenAIServer, command: list[str], cwd: Path) -> None:
    """Run ``command`` until the server holds its stalled batch create, then SIGKILL it."""
    proc = subprocess.Popen(command, env=_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        stalled = server.create_stalled.wait(180)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    assert stalled, err.decode()[-2000:]
    assert proc.returncode == -signal.SIGKILL


def _uploads(server: OpenAIServer, step: str) -> list[str]:
    """The ids of the batch input files of one step the server received."""
    return [f for f, data in server.files.items() if data.startswith(f'{{"custom_id": "{step}-'.encode())]


def _assert_all_stored(store_path: Path, examples: list, server: OpenAIServer) -> None:
    """Every completion stored once, right, at the batch price; each step's batch collected."""
    stored = Store(store_path).completions()
    assert len(stored) == len(examples) * DEGREE and not any(c.failed for c in stored)
    truth = {e.sample_index: e.answer for e in examples}
    assert all(c.correct and c.prediction == truth[c.sample_index] for c in stored)
    assert len({c.rationale for c in stored}) == len(stored)
    for c in stored:
        assert c.cost_usd > 0
        assert c.cost_usd == pytest.approx((c.prompt_tokens * PRICE_IN + c.completion_tokens * PRICE_OUT) / 2)
    batches = Store(store_path).batches()
    assert [(b.step, b.status, b.collected) for b in batches] == [("reasoning", "completed", True),
                                                                  ("answer", "completed", True)]
    assert {b.id for b in batches} == set(server.batches)


@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_while_creating_a_batch_then_rerun_adopts_or_creates_it_once(tmp_path, task, when, capsys):
    examples = task.train_examples()
    store_path = tmp_path / "batch.db"
    with OpenAIServer(answers={e.question: e.answer for e in examples}, stall_create=("reasoning", when)) as server:
        _kill_when_stalled(server, _command(store_path, tmp_path, server.url, "--wait", "--poll", "0.05"), tmp_path)
        (recorded,) = Store(store_path).batches()  # recorded before the create, under its input file
        (upload,) = _uploads(server, "reasoning")
        assert (recorded.id, recorded.input_file, recorded.status) == (upload, upload, BATCH_SUBMITTING)
        assert len(recorded.pending) == len(examples) * DEGREE
        assert len(server.batch_creates) == (1 if when == "after" else 0)

        assert main(_command(store_path, tmp_path, server.url, "--wait", "--poll", "0.05", "--json")[3:]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert _steps_submitted(server) == {"reasoning": 1, "answer": 1}  # the killed run's batch adopted
        assert server.batch_creates[0]["input_file_id"] == upload and _uploads(server, "reasoning") == [upload]
        assert (summary["new"], summary["failed"], summary["pending_batches"]) == (len(examples) * DEGREE, 0, [])
        _assert_all_stored(store_path, examples, server)


def test_rerun_between_the_steps_never_submits_step_1_again(tmp_path, task, capsys):
    examples = task.train_examples()
    store_path = tmp_path / "batch.db"
    with OpenAIServer(answers={e.question: e.answer for e in examples}, hold_batches="answer",
                      stall_create=("answer", "before")) as server:
        # killed after step 1 was collected, while step 2 was being submitted
        _kill_when_stalled(server, _command(store_path, tmp_path, server.url, "--wait", "--poll", "0.05"), tmp_path)
        assert _steps_submitted(server) == {"reasoning": 1}
        assert [(b.step, b.status) for b in Store(store_path).batches()] == [
            ("reasoning", "completed"), ("answer", BATCH_SUBMITTING)]
        assert Store(store_path).completions() == []

        # the rerun submits step 2 from the kept upload and exits "pending" while it runs; so does the next
        for _ in range(2):
            assert main(_command(store_path, tmp_path, server.url)[3:]) == EXIT_PENDING
            assert _steps_submitted(server) == {"reasoning": 1, "answer": 1}
            assert [(b.step, b.status) for b in Store(store_path).batches()] == [
                ("reasoning", "completed"), ("answer", "in_progress")]
        assert Store(store_path).completions() == [] and len(_uploads(server, "answer")) == 1
        capsys.readouterr()

        server.release_batches()
        assert main(_command(store_path, tmp_path, server.url, "--json")[3:]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert _steps_submitted(server) == {"reasoning": 1, "answer": 1}
        assert (summary["new"], summary["failed"], summary["pending_batches"]) == (len(examples) * DEGREE, 0, [])
        _assert_all_stored(store_path, examples, server)


def test_failed_lines_of_a_batch_are_stored_as_failures_and_a_normal_run_retries_only_them(tmp_path, task):
    examples = task.train_examples()
    first, second = examples[0], examples[1]  # step 1 of the first fails, step 2 of the second
    faults = [Fault("500", when=first.question), Fault("400", when=(second.question, ANSWER_TRIGGER))]
    store = Store(tmp_path / "s.db")
    options = {**OPTIONS, "api_key": SECRET}
    with OpenAIServer(answers={e.question: e.answer for e in examples}, batch_faults=faults) as server:
        batched = teach(store, task, f"litellm:{MODEL}", examples, degree=DEGREE,
                        options={**options, "api_base": server.url, "batch": True}, progress=False)
        assert (batched.failed, batched.new, batched.pending) == (2 * DEGREE, (len(examples) - 2) * DEGREE, [])
        failed = {(c.sample_index, c.index): c for c in store.completions() if c.failed}
        assert set(failed) == {(e.sample_index, i) for e in (first, second) for i in range(DEGREE)}
        for (index, _), c in failed.items():
            status, rationale = (500, "") if index == first.sample_index else (400, c.rationale)
            assert c.error == (f"batch request failed ({status}): fault {status} in this batch line "
                               f"(request made with the key ***)")
            assert c.rationale == rationale and (index == first.sample_index or rationale)
        assert [(b.step, b.failed, b.collected) for b in store.batches()] == [
            ("reasoning", 1, True), ("answer", DEGREE, True)]
        assert len(store.batches()[0].error_file or "") > 0

        retried = teach(store, task, f"litellm:{MODEL}", examples, degree=DEGREE,
                        options={**options, "api_base": server.url}, progress=False)
        asked = Counter((r.step, question_of(r.prompt)) for r in server.log)
    assert (retried.new, retried.cached, retried.failed) == (2 * DEGREE, (len(examples) - 2) * DEGREE, 0)
    # only the failed ones are asked again: both steps of the first, step 2 alone of the second
    assert {step_question for step_question in asked} == {
        ("reasoning", first.question), ("answer", first.question), ("answer", second.question)}
    assert asked[("answer", second.question)] == DEGREE
    stored = store.completions()
    assert len(stored) == len(examples) * DEGREE and not any(c.failed for c in stored)
    assert all(c.correct for c in stored)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    assert SECRET.encode() not in raw


def test_a_batch_the_provider_lost_is_abandoned_and_asked_again(tmp_path, task, capfd):
    examples = task.train_examples()
    store_path = tmp_path / "batch.db"
    answers = {e.question: e.answer for e in examples}
    with OpenAIServer(answers=answers, hold_batches=True) as first:
        assert main(_command(store_path, tmp_path, first.url)[3:]) == EXIT_PENDING
    (lost,) = Store(store_path).batches()
    capfd.readouterr()
    with OpenAIServer(answers=answers) as second:  # another server: it never heard of that batch (404)
        for _ in range(2):  # every rerun says what to do, and changes nothing
            assert main(_command(store_path, tmp_path, second.url)[3:]) == EXIT_ERROR
            err = capfd.readouterr().err
            assert f"ftcot batches --abandon {lost.id}" in err and len(err.strip().splitlines()) == 1, err
            assert [b.status for b in Store(store_path).batches()] == [lost.status]
        assert main(["--store", str(store_path), "batches", "--abandon", "no-such-batch"]) == EXIT_ERROR
        assert main(["--store", str(store_path), "batches", "--abandon", lost.id]) == 0
        assert [b.status for b in Store(store_path).batches(open_only=True)] == []
        assert main(_command(store_path, tmp_path, second.url, "--wait", "--poll", "0.05")[3:]) == 0
    assert len([c for c in Store(store_path).completions() if not c.failed]) == len(examples) * DEGREE
