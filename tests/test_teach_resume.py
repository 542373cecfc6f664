"""Kill ``ftcot teach`` with SIGKILL midway and run it again: the result equals an uninterrupted
run, and the server was asked for each stored completion once (plus retries of faults)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from openai_server import Fault, OpenAIServer, question_of

from ftcot import registry as plugins
from ftcot.cli import main
from ftcot.pipeline.teach import teach
from ftcot.store import Store

SPEC = "coin_flip:flips=2,train=24,test=4"
MODEL = "hosted_vllm/test-model"
DEGREE = 2
ROOT = Path(__file__).resolve().parents[1]


def _command(store: Path, data: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ftcot.cli", "--store", str(store), "--data-dir", str(data),
            "teach", SPEC, "--teacher", f"litellm:{MODEL}", "--api-base", url, "-D", str(DEGREE),
            "--concurrency", "4", "--timeout", "5", "--backoff", "0.01", "--no-progress", *extra]


def _fields(completions):
    """What a completion is. Not its prompt tokens: a sample asked alone after the kill pays its
    whole step-1 prompt, where samples asked together (n) share one."""
    return [(c.task, c.sample_index, c.index, c.rationale, c.answer_prompt, c.answer_text, c.prediction,
             c.correct, c.completion_tokens, c.temperature, c.failed) for c in completions]


def test_sigkill_midway_then_rerun_equals_an_uninterrupted_run(tmp_path, capsys):
    task = plugins.create_task(SPEC, data_dir=tmp_path)
    examples = task.train_examples()
    answers = {e.question: e.answer for e in examples}
    faults = [Fault("500", rate=0.1), Fault("drop", rate=0.05)]
    store_path = tmp_path / "killed.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True")

    with OpenAIServer(answers=answers, faults=faults, delay=0.1) as server:
        proc = subprocess.Popen(_command(store_path, tmp_path, server.url), env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 180
        while sum(r.answered and r.step == "answer" for r in server.log) < 16:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the run did not get going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        stored = [c for c in Store(store_path).completions() if not c.failed]
        assert 0 < len(stored) < len(examples) * DEGREE

        # the same command again, in this process (it spares a second start of litellm)
        assert main(_command(store_path, tmp_path, server.url, "--json")[3:]) == 0
        summary = json.loads(capsys.readouterr().out)
        log = list(server.log)

    total = len(examples) * DEGREE
    assert (summary["completions"], summary["failed"], summary["cached"]) == (total, 0, len(stored))
    assert summary["new"] == total - len(stored)

    # the server answered every request at most twice (only requests in flight at the kill) ...
    answered = Counter(r.identity for r in log if r.answered)
    assert max(answered.values()) <= 2
    assert sum(n == 2 for n in answered.values()) <= 2 * 4
    # ... and never again for a completion that was stored when the run was killed
    questions = {e.sample_index: e.question for e in examples}
    # a step-1 request with n samples from seed s asks for indices s..s+n-1
    step1 = Counter((question_of(r.prompt), r.body.get("seed") + k) for r in log if r.answered and r.step == "reasoning"
                    for k in range(r.body.get("n") or 1))
    for c in stored:
        assert step1[(questions[c.sample_index], c.index)] == 1
        step2 = [r for r in log if r.answered and r.step == "answer" and c.rationale.strip() in r.prompt
                 and questions[c.sample_index] in r.prompt]
        assert len(step2) == 1
    assert len(step1) == total  # every completion was asked for

    # an uninterrupted run, on a fresh server and store, gives the same completions
    with OpenAIServer(answers=answers, faults=faults) as fresh:
        clean = teach(Store(tmp_path / "clean.db"), task, f"litellm:{MODEL}", examples, degree=DEGREE,
                      options={"api_base": fresh.url, "backoff": 0.01, "concurrency": 4}, progress=False)
        assert max(fresh.answered().values()) == 1
    resumed = Store(store_path).completions()
    assert _fields(resumed) == _fields(clean.completions)
    for after_kill, uninterrupted in zip(resumed, clean.completions):
        assert after_kill.prompt_tokens >= uninterrupted.prompt_tokens
