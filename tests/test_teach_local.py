"""Local-model teachers: ``hf:`` with a tiny random-weight GPT-2 saved to disk, and ``vllm:``
(run where vLLM imports; skipped elsewhere with the reason)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from ftcot import registry as plugins
from ftcot.errors import UserError
from ftcot.pipeline.teach import teach
from ftcot.store import Store

TASK = "coin_flip:flips=2,train=6,test=2"
VLLM_MISSING = importlib.util.find_spec("vllm") is None


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A random-weight GPT-2 and a BPE trained here, saved as a model directory."""
    import torch
    from transformers import GPT2LMHeadModel

    from ftcot.students.tiny import TinyGPT2
    from ftcot.students.tokenizer import train_bpe

    task = plugins.create_task(TASK, data_dir=tmp_path_factory.mktemp("data"))
    corpus = [e.question for e in task.examples()] * 4 + ["Let's think step by step. Therefore, the answer is yes no."] * 4
    tokenizer = train_bpe(corpus, 300, bos=True)
    student = TinyGPT2.from_spec("layers=1,dim=32,heads=2,ffn=64,vocab=300,positions=512")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(student.config(len(tokenizer), tokenizer))
    path = tmp_path_factory.mktemp("tiny-teacher")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_hf_teacher_samples_degree_completions_per_example_and_caches_them(tmp_path, tiny_model_dir):
    task = plugins.create_task(TASK, data_dir=tmp_path)
    store = Store(tmp_path / "s.db")
    spec = f"hf:{tiny_model_dir}"
    options = {"max_tokens": 12, "answer_max_tokens": 4, "batch_size": 4}
    result = teach(store, task, spec, task.train_examples(), degree=3, options=options, progress=False)
    assert (result.new, result.failed, len(result.completions)) == (18, 0, 18)
    for c in result.completions:
        assert c.teacher == spec and c.temperature == 0.7
        assert 0 < c.completion_tokens <= 12 + 4 and c.prompt_tokens > 0
        assert c.answer_prompt == f"{c.reasoning_prompt}{c.rationale}\nTherefore, the answer is"
        assert c.correct in (True, False)
    per_example = {}
    for c in result.completions:
        per_example.setdefault(c.sample_index, set()).add(c.rationale)
    assert any(len(r) > 1 for r in per_example.values())  # sampled, not copies
    again = teach(store, task, spec, task.train_examples(), degree=4, options=options, progress=False)
    assert (again.cached, again.new) == (18, 6)


def test_hf_teacher_greedy_gives_one_rationale_per_example(tmp_path, tiny_model_dir):
    task = plugins.create_task(TASK, data_dir=tmp_path)
    options = {"max_tokens": 8, "answer_max_tokens": 3}
    result = teach(Store(tmp_path / "s.db"), task, f"hf:{tiny_model_dir}", task.train_examples()[:2],
                   degree=2, temperature=0.0, options=options, progress=False)
    first, second = result.completions[0], result.completions[1]
    assert (first.sample_index, second.sample_index) == (first.sample_index, first.sample_index)
    assert first.rationale == second.rationale


def test_hf_teacher_names_a_missing_model(tmp_path):
    task = plugins.create_task(TASK, data_dir=tmp_path)
    with pytest.raises(UserError, match="cannot load hf teacher"):
        teach(Store(tmp_path / "s.db"), task, f"hf:{tmp_path / 'nothing-here'}", task.train_examples(),
              progress=False)


@pytest.mark.skipif(not VLLM_MISSING, reason="vLLM is installed")
def test_vllm_teacher_without_vllm_says_how_to_install_it(tmp_path):
    task = plugins.create_task(TASK, data_dir=tmp_path)
    with pytest.raises(UserError, match=r"pip install 'ftcot\[gpu\]'"):
        teach(Store(tmp_path / "s.db"), task, "vllm:facebook/opt-125m", task.train_examples(), progress=False)


@pytest.mark.gpu
@pytest.mark.skipif(VLLM_MISSING, reason="vLLM is not installed (pip install 'ftcot[gpu]'); it pins torch and "
                                         "transformers versions this environment does not have")
def test_vllm_teacher_runs_a_local_model(tmp_path, tiny_model_dir):
    task = plugins.create_task(TASK, data_dir=tmp_path)
    result = teach(Store(tmp_path / "s.db"), task, f"vllm:{tiny_model_dir}", task.train_examples(), degree=2,
                   options={"max_tokens": 12, "answer_max_tokens": 4, "gpu_memory_utilization": 0.3},
                   progress=False)
    assert (result.new, result.failed) == (12, 0)


@pytest.fixture
def vllm_engine(monkeypatch):
    """The vllm module with its ``LLM`` counting constructions: the real one where it is
    installed, else the stand-in (tests/vllm_standin.py)."""
    from ftcot.pipeline.teach import forget_local_teachers

    if VLLM_MISSING:
        import vllm_standin

        module = vllm_standin.module()
        monkeypatch.setitem(sys.modules, "vllm", module)
    else:  # pragma: no cover - on a GPU machine with vLLM
        import vllm as module

        real = module.LLM
        counting = type("LLM", (real,), {"built": 0, "__init__": lambda self, *a, **k: (
            setattr(type(self), "built", type(self).built + 1), real.__init__(self, *a, **k))[0]})
        monkeypatch.setattr(module, "LLM", counting)
    forget_local_teachers()
    yield module
    forget_local_teachers()


VLLM_OPTIONS = {"max_tokens": 12, "answer_max_tokens": 4, "gpu_memory_utilization": 0.3}


def test_vllm_engine_is_built_once_per_process_and_only_with_work(tmp_path, tiny_model_dir, vllm_engine):
    task = plugins.create_task(TASK, data_dir=tmp_path)
    store = Store(tmp_path / "s.db")
    spec = f"vllm:{tiny_model_dir}"
    examples = task.train_examples()
    first = teach(store, task, spec, examples[:3], degree=2, options=VLLM_OPTIONS, progress=False)
    second = teach(store, task, spec, examples, degree=2, options=VLLM_OPTIONS, progress=False)
    assert (first.new, second.new, second.cached) == (6, 6, 6)
    assert vllm_engine.LLM.built == 1  # the second call reused the teacher and its engine

    from ftcot.pipeline.teach import forget_local_teachers

    forget_local_teachers()  # as in a fresh process
    cached = teach(store, task, spec, examples, degree=2, options=VLLM_OPTIONS, progress=False)
    assert (cached.cached, cached.new) == (12, 0)
    assert vllm_engine.LLM.built == 1  # everything was stored: no engine was built


@pytest.mark.skipif(not VLLM_MISSING, reason="checks the prompts the stand-in engine was given")
def test_vllm_prompts_chat_models_through_their_template_and_base_models_plainly(tmp_path, tiny_model_dir,
                                                                                vllm_engine):
    import shutil

    from transformers import AutoTokenizer

    task = plugins.create_task(TASK, data_dir=tmp_path)
    examples = task.train_examples()[:1]
    base = teach(Store(tmp_path / "a.db"), task, f"vllm:{tiny_model_dir}", examples, options=VLLM_OPTIONS,
                 progress=False)
    plain = list(vllm_engine.LLM.inputs)
    assert plain[0] == base.completions[0].reasoning_prompt  # a base model gets the plain prompt
    assert plain[1] == base.completions[0].answer_prompt

    chat_dir = tmp_path / "chat-model"
    shutil.copytree(tiny_model_dir, chat_dir)
    tokenizer = AutoTokenizer.from_pretrained(chat_dir)
    tokenizer.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    tokenizer.save_pretrained(chat_dir)
    vllm_engine.LLM.inputs.clear()
    chat = teach(Store(tmp_path / "b.db"), task, f"vllm:{chat_dir}", examples, options=VLLM_OPTIONS, progress=False)
    c = chat.completions[0]
    step1 = f"<|user|>{c.reasoning_prompt}\n<|assistant|>"
    step2 = f"{step1}{c.rationale.strip()}\n<|user|>Therefore, the answer is\n<|assistant|>"
    given = [tokenizer.decode(i["prompt_token_ids"]) for i in vllm_engine.LLM.inputs]
    assert [g.replace(" ", "") for g in given] == [step1.replace(" ", ""), step2.replace(" ", "")]
    assert vllm_engine.LLM.built == 2  # two models, one engine each
