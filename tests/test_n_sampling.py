"""Step 1 asks for all of a question's missing samples in one request (``n``), against the local
OpenAI-compatible server: requests per question, top-ups, the store's keys and the cost split."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from openai_server import OpenAIServer, question_of

from ftcot import registry as plugins
from ftcot.contracts.teacher import Generation
from ftcot.pipeline.teach import create_teacher, teach
from ftcot.store import Store, content_key

TASK = "coin_flip:flips=2,train=12,test=2"
VLLM = "hosted_vllm/test-model"
TEXT = "text-completion-openai/gpt-3.5-turbo-instruct"  # priced in litellm's cost map
FAST = {"timeout": 5, "backoff": 0.01, "max_tries": 3, "concurrency": 8}


@pytest.fixture
def task(tmp_path):
    return plugins.create_task(TASK, data_dir=tmp_path)


def run(store, task, server, model=VLLM, degree=8, temperature=None, **options):
    return teach(store, task, f"litellm:{model}", task.train_examples(), degree=degree, temperature=temperature,
                 options={**FAST, "api_base": server.url, **options}, progress=False)


def step1(server) -> list:
    return [r for r in server.log if r.step == "reasoning"]


def test_one_step1_request_per_question_at_degree_8(tmp_path, task):
    with OpenAIServer() as server:
        result = run(Store(tmp_path / "s.db"), task, server)
        first = step1(server)
        per_question = Counter(question_of(r.prompt) for r in first)
        assert len(per_question) == 12 and set(per_question.values()) == {1}
        assert {(r.body.get("n"), r.body.get("seed")) for r in first} == {(8, 0)}
        assert sum(r.step == "answer" for r in server.log) == 96  # step 2: one request per sample
    assert (result.new, result.failed) == (96, 0)
    rationales = defaultdict(set)
    for c in result.completions:
        rationales[c.sample_index].add(c.rationale)
    assert all(len(r) == 8 for r in rationales.values())  # eight distinct samples, not copies


def test_a_server_returning_fewer_choices_is_topped_up(tmp_path, task):
    with OpenAIServer(max_choices=3) as server:
        result = run(Store(tmp_path / "s.db"), task, server)
        asked = Counter((r.body.get("n"), r.body.get("seed")) for r in step1(server))
    # 8 asked, 3 came; 5 asked again from sample 3, 3 came; the last 2 from sample 6
    assert asked == {(8, 0): 12, (5, 3): 12, (2, 6): 12}
    assert (result.new, result.failed, result.missing) == (96, 0, 0)
    assert Counter(c.sample_index for c in result.completions) == {e.sample_index: 8 for e in task.train_examples()}


def test_a_store_filled_one_request_per_sample_is_fully_reused(tmp_path, task):
    store = Store(tmp_path / "s.db")
    with OpenAIServer() as server:
        old = run(store, task, server, max_n=1)  # the old way: one step-1 request per sample
        assert len(step1(server)) == 96 and all("n" not in r.body for r in step1(server))
        server.reset_log()
        again = run(store, task, server)
        assert server.log == []  # nothing asked
        fresh = run(Store(tmp_path / "fresh.db"), task, server)
    assert (again.cached, again.new) == (96, 0)
    # the keys are content_key(identity, prompt, index), whichever way the samples were asked for
    teacher = create_teacher(f"litellm:{VLLM}")
    identity = teacher.identity(Generation(temperature=0.7))
    expected = {content_key(identity, f"Q: {e.question}\nA: Let's think step by step.", i)
                for e in task.train_examples() for i in range(8)}
    stored = {row[0] for row in store._read("SELECT key FROM completions")}
    assert stored == expected
    assert {row[0] for row in Store(tmp_path / "fresh.db")._read("SELECT key FROM completions")} == expected
    # n samples of one request are the samples separate requests got, index by index
    by_index = {(c.sample_index, c.index): c.rationale for c in old.completions}
    assert {(c.sample_index, c.index): c.rationale for c in fresh.completions} == by_index


def test_the_prompt_is_billed_once_per_request(tmp_path, task):
    import litellm

    prices = litellm.model_cost["gpt-3.5-turbo-instruct"]
    with OpenAIServer() as server:
        result = run(Store(tmp_path / "s.db"), task, server, model=TEXT, degree=4)
        step2_prompt_tokens = sum(len(r.prompt.split()) for r in server.log if r.step == "answer")
        step1_prompt_tokens = sum(len(r.prompt.split()) for r in step1(server))
        assert len(step1(server)) == 12
    # every completion's share of its step-1 request plus its own step 2 add up to what was sent
    assert sum(c.prompt_tokens for c in result.completions) == step1_prompt_tokens + step2_prompt_tokens
    words = sum(len(c.rationale.split()) + len(c.answer_text.split()) for c in result.completions)
    assert sum(c.completion_tokens for c in result.completions) == words
    expected = ((step1_prompt_tokens + step2_prompt_tokens) * prices["input_cost_per_token"]
                + words * prices["output_cost_per_token"])
    assert result.cost_usd == pytest.approx(expected)
    one = result.completions[0]
    prompt_words = len(one.reasoning_prompt.split())
    assert one.prompt_tokens - len(one.answer_prompt.split()) in (prompt_words // 4, prompt_words // 4 + 1)


def test_greedy_samples_share_one_rationale_and_its_cost(tmp_path, task):
    with OpenAIServer() as server:
        result = run(Store(tmp_path / "s.db"), task, server, degree=3, temperature=0.0)
        assert [r.body.get("n") for r in step1(server)] == [None] * 12
    for example in task.train_examples():
        mine = [c for c in result.completions if c.sample_index == example.sample_index]
        assert len({c.rationale for c in mine}) == 1
        shares = [c.prompt_tokens - len(c.answer_prompt.split()) for c in mine]
        assert sum(shares) == len(mine[0].reasoning_prompt.split())


def test_providers_without_n_get_one_request_per_sample():
    assert create_teacher(f"litellm:{VLLM}").supports_n()
    assert not create_teacher("litellm:anthropic/claude-3-haiku-20240307").supports_n()
    assert create_teacher("litellm:anthropic/claude-3-haiku-20240307").samples_per_request() == 1
    assert create_teacher(f"litellm:{VLLM}", {"max_n": 4}).samples_per_request() == 4
