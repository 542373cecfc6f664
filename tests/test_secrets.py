"""No key ever reaches a file ftcot writes or its output: a fake key is given by every route (the
environment, an address's userinfo and query, echoed back by a provider's 401 to a teacher and to
a student), real commands run against the local fake servers, and every file under the run's
folder (store, exports, baselines, model folders, logs) and every line printed is searched for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from finetune_server import FineTuneServer
from openai_server import Fault, OpenAIServer
from test_bad_inputs import assert_one_error, run_cli

from ftcot.errors import EXIT_ERROR
from ftcot.secrets import Redactor, public_address

pytestmark = pytest.mark.timeout(180)

KEY = "Zq7fakeKEYvalue93x"  # not key-shaped: only the real mechanisms can hide it
TASK = "coin_flip:flips=2,train=6,test=3,seed=0"


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://user:{KEY}@")


def student(url: str) -> str:
    return f"openai:babbage-002,api_base={url},poll=0.001,train_cost_per_token=1e-6,concurrency=2"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTCOT_STORE", str(tmp_path / "runs" / "ftcot.db"))
    monkeypatch.setenv("FTCOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FTCOT_THREADS", "1")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.delenv("FTCOT_DEBUG", raising=False)
    return tmp_path


def assert_no_key(folder: Path, printed: str) -> None:
    assert KEY not in printed, printed
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert written
    leaks = [str(p) for p in written if KEY.encode() in p.read_bytes()]
    assert not leaks, leaks


def test_addresses_and_messages_are_cleaned() -> None:
    assert public_address(f"http://user:{KEY}@host:8/v1?api_key={KEY}&v=1") == "http://host:8/v1?v=1"
    assert public_address("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"
    redact = Redactor(addresses=(f"http://u:{KEY}@h/v1",))
    assert KEY not in redact(f"failed: {KEY} at http://other:{KEY}@h/v1?token={KEY}")


def test_a_key_in_the_environment_echoed_by_a_401_is_never_shown(here: Path, capfd, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with OpenAIServer(faults=[Fault("401", attempts=None)]) as server:
        status, out = run_cli(["teach", TASK, "--teacher", "litellm:openai/test-model", "--api-base", server.url,
                               "--max-tries", "1", "--no-progress"], capfd, monkeypatch)
    assert status == EXIT_ERROR and "refused" in assert_one_error(out)
    with FineTuneServer(refuse=True) as server:
        status, out2 = run_cli(["distill", TASK, "--teacher", "oracle", "--student", student(server.url),
                                "--epochs", "1"], capfd, monkeypatch)
    line = assert_one_error(out2)
    assert status == EXIT_ERROR and "uploading the training file failed" in line and "AuthenticationError" in line
    assert_no_key(here, out + out2)


def test_a_key_in_an_address_reaches_no_store_baseline_or_export(here: Path, capfd, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    printed = ""
    with OpenAIServer() as teacher, FineTuneServer() as provider:
        for argv in (
            ["teach", TASK, "--teacher", "litellm:openai/test-model", "--api-base", with_userinfo(teacher.url),
             "--no-progress"],
            ["distill", TASK, "--teacher", "litellm:openai/test-model", "--student", student(with_userinfo(provider.url)),
             "--epochs", "1", "--filters", "none"],
            ["distill", TASK, "--teacher", "oracle", "--student", student(with_userinfo(provider.url)),
             "--epochs", "1", "--bogus", with_userinfo(provider.url)],
            ["distill", TASK, "--teacher", "oracle", "--student", student(with_userinfo(provider.url)),
             "--epochs", "1"],
            ["leaderboard"],
            ["export", "--output", "exported"],
            ["check", "--update", "baseline.json"],
        ):
            status, out = run_cli(argv, capfd, monkeypatch)
            assert status == (2 if "--bogus" in argv else 0), out
            printed += out
        assert provider.jobs and provider.completions  # the student really trained and answered
    assert "api_base" not in (here / "baseline.json").read_text()  # the student's label has no address
    assert_no_key(here, printed)


def test_operational_student_options_do_not_change_the_cell(here: Path) -> None:
    from ftcot.pipeline import CellSpec, cell_key, public_student

    a = public_student(student("http://a:1/v1"))
    b = public_student("openai:babbage-002,api_base=http://b:2/v1,poll=5,train_cost_per_token=1e-6,max_cost=3")
    assert a == b == "openai:babbage-002,train_cost_per_token=1e-6"
    spec = {"task": TASK, "teacher": "oracle", "method": "fine-tune-cot"}
    assert (cell_key(CellSpec(student=student("http://a:1/v1"), **spec), "paper")
            == cell_key(CellSpec(student=student("http://b:2/v1"), **spec), "paper"))
    tiny = "tiny-gpt2:layers=1,dim=32"
    assert public_student(tiny) == tiny  # students without operational options keep their keys
