"""The litellm teacher against a real local OpenAI-compatible server: every fault mode, retries,
failures, cost, the cost limit, the cache and secrets."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from openai_server import Fault, OpenAIServer, question_of

from ftcot.errors import UserError
from ftcot.pipeline.teach import teach
from ftcot.store import Store

TASK = "coin_flip:flips=2,train=16,test=4"
MODELS = {
    "text": "text-completion-openai/gpt-3.5-turbo-instruct",
    "chat": "openai/gpt-4o-mini",
    "vllm": "hosted_vllm/test-model",
}
FAST = {"timeout": 0.5, "backoff": 0.01, "max_tries": 4, "concurrency": 8}
TRIGGER = "Therefore, the answer is"


@pytest.fixture
def answers(task):
    return {e.question: e.answer for e in task.examples()}


def run(store, task, server, model="vllm", examples=None, **kw):
    options = dict(FAST, api_base=server.url, **kw.pop("options", {}))
    return teach(store, task, f"litellm:{MODELS[model]}", examples or task.train_examples(),
                 options=options, progress=False, **kw)


def reasoning_requests(server) -> Counter:
    """Answered step-1 requests per (question, seed)."""
    return Counter((question_of(r.prompt), r.body.get("seed")) for r in server.log
                   if r.answered and r.step == "reasoning")


@pytest.mark.parametrize("endpoint", ["text", "chat"])
def test_every_fault_mode_ends_in_one_answer_per_request(tmp_path, task, answers, endpoint):
    faults = [Fault(kind, rate=0.12) for kind in ("429", "500", "slow", "malformed", "drop", "empty")]
    with OpenAIServer(answers=answers, faults=faults, slow_seconds=1.0) as server:
        store = Store(tmp_path / "s.db")
        result = run(store, task, server, endpoint, degree=2)
        assert set(server.fault_counts()) == {"429", "500", "slow", "malformed", "drop", "empty"}
        answered = server.answered()
        assert max(answered.values()) == 1  # no completion asked twice
        # step 1: one request (n=2) per question; step 2: one per completion
        assert len(answered) == 16 + 2 * 16
    assert (result.new, result.failed, result.cached) == (32, 0, 0)
    assert result.accuracy == 1.0
    keys = [(c.sample_index, c.index) for c in result.completions]
    assert len(keys) == len(set(keys)) == 32
    assert len(store.completions()) == 32


def test_text_and_chat_steps_are_the_paper_prompts(tmp_path, task, answers):
    examples = task.train_examples()[:2]
    with OpenAIServer(answers=answers) as server:
        text = run(Store(tmp_path / "a.db"), task, server, "text", examples=examples)
        chat = run(Store(tmp_path / "b.db"), task, server, "chat", examples=examples)
        text_bodies = [r.body for r in server.log if r.path.endswith("/v1/completions")]
        chat_bodies = [r.body for r in server.log if r.path.endswith("/chat/completions")]
    c = text.completions[0]
    assert c.reasoning_prompt == f"Q: {examples[0].question}\nA: Let's think step by step."
    assert c.answer_prompt == f"{c.reasoning_prompt}{c.rationale}\n{TRIGGER}"
    prompts = [b["prompt"] for b in text_bodies]
    assert c.reasoning_prompt in prompts and c.answer_prompt in prompts
    assert {b["max_tokens"] for b in text_bodies} == {128, 32}
    assert all(b["temperature"] == 0 for b in text_bodies)
    step2 = [b["messages"] for b in chat_bodies if len(b["messages"]) == 3]
    assert [m["role"] for m in step2[0]] == ["user", "assistant", "user"]
    assert step2[0][2]["content"] == TRIGGER
    assert [x.rationale for x in text.completions] == [x.rationale for x in chat.completions]
    assert chat.accuracy == 1.0


def test_retry_after_is_honoured(tmp_path, task, answers):
    target = task.train_examples()[0].question
    with OpenAIServer(answers=answers, faults=[Fault("429", when=target)], retry_after=0.4) as server:
        run(Store(tmp_path / "s.db"), task, server, examples=task.train_examples()[:1],
            options={"backoff": 0.001})
        tries = [r for r in server.log if r.step == "reasoning"]
    assert [r.fault for r in tries] == ["429", None]
    assert tries[1].time - tries[0].time >= 0.38


def test_exhausted_tries_are_recorded_and_retried_by_a_later_run(tmp_path, task, answers):
    target = task.train_examples()[3]
    faults = [Fault("500", attempts=None, when=target.question)]
    store = Store(tmp_path / "s.db")
    with OpenAIServer(answers=answers, faults=faults) as server:
        first = run(store, task, server, options={"max_tries": 3})
        tries = [r for r in server.log if question_of(r.prompt) == target.question]
        assert len(tries) == 3 and all(r.fault == "500" for r in tries)
        assert (first.new, first.failed) == (15, 1)
        failure = next(c for c in first.completions if c.failed)
        assert failure.sample_index == target.sample_index
        assert "3 tries failed" in failure.error and "InternalServerError" in failure.error
        assert store.completions()[target.sample_index].failed

        server.faults = []
        server.reset_log()
        second = run(store, task, server)
        assert (second.new, second.cached, second.failed) == (1, 15, 0)
        assert {question_of(r.prompt) for r in server.log} == {target.question}
        assert not any(c.failed for c in store.completions())


def test_a_failed_answer_step_keeps_the_paid_rationale(tmp_path, task, answers):
    target = task.train_examples()[5]
    store = Store(tmp_path / "s.db")
    with OpenAIServer(answers=answers, faults=[Fault("500", attempts=None, when=(target.question, TRIGGER))]) as server:
        first = run(store, task, server, options={"max_tries": 2})
        failure = next(c for c in first.completions if c.failed)
        assert failure.rationale and failure.prompt_tokens > 0
        server.faults = []
        second = run(store, task, server)
        assert second.failed == 0 and second.new == 1
        steps = Counter(r.step for r in server.log if r.answered and question_of(r.prompt) == target.question)
        assert steps == {"reasoning": 1, "answer": 1}  # step 1 was not paid for twice


def test_rejected_requests_are_not_retried(tmp_path, task, answers):
    target = task.train_examples()[2].question
    with OpenAIServer(answers=answers, faults=[Fault("400", attempts=None, when=target)]) as server:
        result = run(Store(tmp_path / "s.db"), task, server)
        assert len([r for r in server.log if question_of(r.prompt) == target]) == 1
    assert result.failed == 1 and "rejected" in next(c.error for c in result.completions if c.failed)


def test_a_bad_api_key_stops_the_run_with_a_user_error(tmp_path, task, answers):
    with OpenAIServer(answers=answers, faults=[Fault("401", attempts=None)]) as server:
        with pytest.raises(UserError, match="API key"):
            run(Store(tmp_path / "s.db"), task, server, "chat")
        assert len(server.log) <= FAST["concurrency"]


def test_usage_and_cost_come_from_the_cost_map(tmp_path, task, answers):
    import litellm

    prices = litellm.model_cost["gpt-3.5-turbo-instruct"]
    with OpenAIServer(answers=answers) as server:
        result = run(Store(tmp_path / "s.db"), task, server, "text", examples=task.train_examples()[:3])
        assert len(server.log) == 6
    for c in result.completions:
        step1 = len(c.reasoning_prompt.split()) + len(c.answer_prompt.split())
        assert c.prompt_tokens == step1
        assert c.completion_tokens == len(c.rationale.split()) + len(c.answer_text.split())
        expected = c.prompt_tokens * prices["input_cost_per_token"] + c.completion_tokens * prices["output_cost_per_token"]
        assert c.cost_usd == pytest.approx(expected)
    assert result.cost_usd == pytest.approx(sum(c.cost_usd for c in result.completions)) and result.cost_usd > 0


def test_max_cost_stops_before_exceeding_and_a_later_run_finishes(tmp_path, task, answers):
    store = Store(tmp_path / "s.db")
    with OpenAIServer(answers=answers) as server:
        first = run(store, task, server, "text", options={"max_cost": 0.004, "concurrency": 2})
        assert first.stopped == "max_cost"
        assert 0 < first.spent_usd <= 0.004
        assert first.new > 0 and first.missing == 16 - first.new
        second = run(store, task, server, "text", options={"max_cost": 1.0})
        assert (second.cached, second.new, second.missing) == (first.new, 16 - first.new, 0)
        assert max(server.answered().values()) == 1


def test_max_cost_needs_prices(tmp_path, task, answers):
    with OpenAIServer(answers=answers) as server:
        with pytest.raises(UserError, match="max-cost"):
            run(Store(tmp_path / "s.db"), task, server, "vllm", options={"max_cost": 1.0})


def test_raising_the_degree_asks_only_for_new_indices_and_tasks_share_completions(tmp_path, task, answers,
                                                                                  make_task):
    store = Store(tmp_path / "s.db")
    small = make_task("coin_flip:flips=2,train=6,test=2")
    with OpenAIServer(answers=answers) as server:
        one = run(store, small, server, degree=1, temperature=0.7)
        assert one.new == 6
        three = run(store, small, server, degree=3, temperature=0.7)
        assert (three.cached, three.new) == (6, 12)
        # D=1 asked sample 0 alone; D=3 asks samples 1 and 2 in one request (n=2, seeds from 1)
        asked = Counter((r.body.get("seed"), r.body.get("n")) for r in server.log if r.step == "reasoning")
        assert asked == {(0, None): 6, (1, 2): 6}
        # a bigger variant of the task asks only for its 10 new examples
        bigger = run(store, task, server, degree=3, temperature=0.7)
        assert (bigger.cached, bigger.new) == (18, 30)
        assert {c.task for c in bigger.completions} == {task.key}
        assert max(server.answered().values()) == 1


def test_api_keys_never_reach_the_store(tmp_path, task, answers, monkeypatch):
    secret = "sk-test-SECRETSECRET-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    store_file = tmp_path / "s.db"
    target = task.train_examples()[1].question
    with OpenAIServer(answers=answers, faults=[Fault("500", attempts=None, when=target)]) as server:
        result = run(Store(store_file), task, server, "chat", options={"api_key": secret, "max_tries": 2})
    assert result.failed == 1
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("s.db"))
    assert secret.encode() not in blob and b"SECRETSECRET" not in blob
    assert secret not in str(result.summary())
    assert os.environ["OPENAI_API_KEY"] == secret


def test_a_declared_request_option_reaches_every_request_and_keys_the_completions(tmp_path, task, answers):
    """``top_p``, one line in the teacher's REQUEST_PARAMS: sent as given, part of the completions'
    key (other top_p, other completions), and refused out of its bounds before any request."""
    examples = task.train_examples()[:2]
    store = Store(tmp_path / "s.db")
    with OpenAIServer(answers=answers) as server:
        nucleus = run(store, task, server, "chat", examples=examples, options={"top_p": 0.5})
        sent = [r.body.get("top_p") for r in server.log if r.answered]
        greedy = run(store, task, server, "chat", examples=examples)
        unset = [r.body.get("top_p") for r in server.log if r.answered][len(sent):]
        with pytest.raises(UserError, match="bad teacher options: top_p must be <= 1, got 1.5"):
            run(store, task, server, "chat", examples=examples, options={"top_p": 1.5})
        with pytest.raises(UserError, match="bad teacher options: top_p must be > 0, got 0"):
            run(store, task, server, "chat", examples=examples, options={"top_p": 0})
        assert len(server.log) == len(sent) + len(unset)
    assert sent == [0.5] * 4 and nucleus.new == 2 and len(nucleus.successes) == 2
    assert unset == [None] * 4 and greedy.new == 2
