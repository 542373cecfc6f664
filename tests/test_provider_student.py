"""The provider fine-tuning student end to end against a fake OpenAI fine-tuning service: the
upload in the paper's GPT-3 format, the job's status changes, a failed job, a SIGKILL while the
job runs and a rerun that polls the same job, evaluation through the fine-tuned model's name,
costs in the cell and ``max_cost``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from finetune_server import FAIL_MARKER, FineTuneServer

from ftcot.errors import UserError
from ftcot.pipeline import CellSpec, cell_key, load_task, run_cell
from ftcot.store import Store

pytestmark = pytest.mark.timeout(120)

TASK = "tracking_shuffled_objects:objects=3,swaps=2,train=12,test=5"
PRICE = 2e-6  # USD per trained token, given in the spec
CHILD = textwrap.dedent(
    """
    import sys
    from ftcot.pipeline import CellSpec, run_cell
    from ftcot.store import Store
    spec = CellSpec.from_dict({spec!r})
    run_cell(spec, Store({store!r}), None, "paper", progress=False)
    print("finished", flush=True)
    """
)


@pytest.fixture(autouse=True)
def no_real_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)


def gold_answers() -> dict[str, str]:
    return {e.question.strip(): e.answer for e in load_task(TASK, None).test_examples("default")}


def spec_for(server: FineTuneServer, base: str = "babbage-002", **extra: str) -> CellSpec:
    options = {"api_base": server.url, "poll": "0.001", "train_cost_per_token": f"{PRICE:g}",
               "input_cost_per_token": "1e-6", "output_cost_per_token": "2e-6", **extra}
    student = f"openai:{base}," + ",".join(f"{k}={v}" for k, v in options.items())
    return CellSpec(task=TASK, teacher="oracle", student=student, method="fine-tune-cot",
                    training={"epochs": 3, "batch_size": 4, "max_new_tokens": 64})


def test_a_killed_run_polls_the_same_job_and_the_cell_records_costs(tmp_path: Path):
    store_path = tmp_path / "ftcot.db"
    with FineTuneServer(answers=gold_answers(), hold=True) as server:
        spec = spec_for(server)
        script = tmp_path / "child.py"
        script.write_text(CHILD.format(spec=spec.to_dict(), store=str(store_path)))
        child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env={**os.environ, "FTCOT_THREADS": "1"})
        try:
            assert server.polled_running.wait(90), "the job never ran"
        finally:
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=30)
        assert child.returncode == -9 and "finished" not in out, err[-2000:]
        assert server.count("POST", "/files") == 1 and server.count("POST", "/fine_tuning/jobs") == 1

        # the upload is the paper's GPT-3 format
        lines = [json.loads(x) for x in server.files["file-1"].decode().splitlines()]
        assert len(lines) == 12
        assert all(x["prompt"].endswith("\n\n###\n\n") for x in lines)
        assert all(x["completion"].startswith(" ") and "\n\n-->\n\n" in x["completion"]
                   and x["completion"].endswith(" END") for x in lines)
        assert server.jobs["ftjob-1"].hyperparameters == {"n_epochs": 3, "batch_size": 4,
                                                         "learning_rate_multiplier": "auto"}

        server.release()
        store = Store(store_path)
        cell = run_cell(spec, store, None, "paper", progress=False)
        assert server.count("POST", "/files") == 1 and server.count("POST", "/fine_tuning/jobs") == 1  # nothing paid twice
        job = server.jobs["ftjob-1"]
        assert job.status == "succeeded"
        assert cell.status == "done" and cell.n == 5 and cell.accuracy == 1.0
        assert {b["model"] for b in server.completions} == {job.fine_tuned_model}
        assert all(b["prompt"].endswith("\n\n###\n\n") and b["stop"] == ["END"] for b in server.completions)
        costs = cell.extra["student_cost"]
        assert costs["student_train"] == pytest.approx(job.trained_tokens * PRICE)
        usage = sum(len(b["prompt"].split()) * 1e-6 for b in server.completions)
        assert costs["student_eval"] > usage  # prompt tokens plus completion tokens
        assert cell.extra["student_info"]["revision"] == job.fine_tuned_model
        assert "api_key" not in json.dumps(cell.to_dict()) and "EMPTY" not in json.dumps(cell.to_dict())
        predictions = store.predictions(cell_key(spec, "paper"))
        assert all(p.text.endswith(p.prediction) for p in predictions)
        store.close()


def test_a_failed_job_fails_the_cell_with_the_providers_reason(tmp_path: Path):
    with FineTuneServer(answers=gold_answers()) as server:
        store = Store(tmp_path / "ftcot.db")
        with pytest.raises(UserError, match=r"fine-tuning job ftjob-1 of babbage-" + FAIL_MARKER
                           + r" failed: training file has a bad line"):
            run_cell(spec_for(server, base=f"babbage-{FAIL_MARKER}"), store, None, "paper", progress=False)
        assert [j.status for j in server.jobs.values()] == ["failed"]
        assert server.completions == []
        store.close()


def test_max_cost_stops_before_anything_is_paid(tmp_path: Path):
    with FineTuneServer(answers=gold_answers()) as server:
        store = Store(tmp_path / "ftcot.db")
        with pytest.raises(UserError, match="over max_cost"):
            run_cell(spec_for(server, max_cost="0.000001"), store, None, "paper", progress=False)
        assert server.count("POST", "/files") == 0 and not server.jobs
        store.close()


def test_bad_student_options_are_one_line():
    from ftcot.registry import create_student

    with pytest.raises(UserError, match="bad openai option 'epochs'"):
        create_student("openai:babbage-002,epochs=3")
    with pytest.raises(UserError, match="needs a base model"):
        create_student("openai:")


def test_the_upload_format_is_the_papers_gpt3_format():
    from ftcot.formatting import openai_record

    assert openai_record(" Is it? ", " It is so. ", "yes") == {"prompt": "Is it?\n\n###\n\n",
                                                               "completion": " It is so.\n\n-->\n\nyes END"}
    assert openai_record("Is it?", None, "yes") == {"prompt": "Is it?\n\n###\n\n", "completion": " yes END"}
    chat = openai_record("Is it?", "So.", "no", chat=True)["messages"]
    assert [m["role"] for m in chat] == ["user", "assistant"] and chat[1]["content"] == " So.\n\n-->\n\nno END"


def test_a_job_created_before_its_id_was_written_down_is_found_again(tmp_path: Path):
    from ftcot.registry import create_student
    from ftcot.students.provider import LEDGER

    with FineTuneServer() as server:
        student = create_student(f"openai:babbage-002,api_base={server.url},poll=0.001,train_cost_per_token=1e-6")
        data = [("Is it? ###", " yes END"), ("Is it not? ###", " no END")]
        from ftcot.contracts.student import TrainConfig

        first = student.load([], seed=0)
        first.train(data, TrainConfig(epochs=1), tmp_path, seed=0, progress=False)
        ledger = json.loads((tmp_path / LEDGER).read_text())
        assert ledger["job_id"] == "ftjob-1" and ledger["model"] == server.jobs["ftjob-1"].fine_tuned_model
        # as if the run had died right after creating the job: only the file id was recorded
        (tmp_path / LEDGER).write_text(json.dumps({k: ledger[k] for k in ("base", "sha256", "hyperparameters",
                                                                           "failed_jobs", "file_id")}))
        again = student.load([], seed=0)
        again.train(data, TrainConfig(epochs=1), tmp_path, seed=0, progress=False)
        assert server.count("POST", "/fine_tuning/jobs") == 1 and server.count("POST", "/files") == 1
        assert again.model == first.model


def test_a_job_list_that_fails_is_reported_and_a_new_job_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]):
    from ftcot.contracts.student import TrainConfig
    from ftcot.registry import create_student

    key = "sk-test-listing-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with FineTuneServer(refuse_list=True) as server:
        student = create_student(f"openai:babbage-002,api_base={server.url},poll=0.001,train_cost_per_token=1e-6")
        model = student.load([], seed=0)
        model.train([("Is it? ###", " yes END")], TrainConfig(epochs=1), tmp_path, seed=0, progress=False)
        assert server.count("GET", "/fine_tuning/jobs") == 1 and server.count("POST", "/fine_tuning/jobs") == 1
        assert model.model == server.jobs["ftjob-1"].fine_tuned_model
    err = capsys.readouterr().err
    assert "warning: student openai:babbage-002: cannot list the fine-tuning jobs to find one already made from file-1" in err
    assert "AuthenticationError" in err and "creating a new one" in err
    assert key not in err
