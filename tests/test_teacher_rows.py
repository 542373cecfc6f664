"""Teacher rows on the leaderboard for any teacher that answered the test questions: a
model-calling litellm teacher against a real local server and a plugin's teacher whose spec
carries options; only the teacher's evaluation (completion 0 at temperature 0, with the cell's
templates) counts."""

from __future__ import annotations

from pathlib import Path

from openai_server import OpenAIServer

from ftcot.api import Param, Teacher, parse_params
from ftcot.leaderboard import build, teacher_test_accuracy
from ftcot.pipeline.teach import teach
from ftcot.records import CellResult
from ftcot.registry import create_task
from ftcot.store import Store
from ftcot.testing import registered

COIN = "coin_flip:flips=2,train=8,test=4,seed=0"
TEMPLATE = {"reasoning": "Question: {question}\nAnswer: Let's think step by step."}


class Scribe(Teacher):
    """A model-calling teacher of a plugin, ``scribe:MODEL,style=...``: with the default template at
    temperature 0, right except on the first question; wrong when sampling or with another template."""

    name = "scribe"
    params = (Param("style", str, "plain", "how it writes"),)

    @classmethod
    def from_spec(cls, argument=None, **options):
        model, _, rest = (argument or "").partition(",")
        return cls(model=model, options={**options, **parse_params(rest, cls.params, f"teacher {cls.name}")})

    def run(self, jobs, sink, generation):
        first = min(job.example.sample_index for job in jobs)
        for job in jobs:
            right = (generation.temperature == 0 and job.example.sample_index != first
                     and job.reasoning_prompt.startswith("Q: "))
            answer = job.example.answer if right else "nonsense"
            sink.emit(job, job.blank(self.label, generation, rationale="I think.",
                                     answer_prompt=generation.answer_prompt(job.reasoning_prompt, "I think."),
                                     answer_text=answer))


def cot_cell(teacher: str, options: dict | None = None) -> CellResult:
    spec = {"teacher": teacher, "teacher_options": dict(options or {})}
    return CellResult(task=COIN, teacher=teacher, student="tiny-gpt2", method="fine-tune-cot", degree=1, seed=0,
                      accuracy=0.5, n=4, status="done", extra={"spec": spec})


def test_a_plugin_teacher_with_options_in_its_spec_gets_its_row(tmp_path: Path) -> None:
    spec = "scribe:m1,style=terse"  # stored as scribe:m1, its label
    store = Store(tmp_path / "s.db")
    task = create_task(COIN, data_dir=None)
    with registered(Scribe):
        # training completions at temperature 0.7 on the same questions, and the evaluation at 0
        teach(store, task, spec, task.test_examples(), degree=2, temperature=0.7, progress=False)
        assert teacher_test_accuracy(store, [cot_cell(spec)], None) == {}
        evaluation = teach(store, task, spec, task.test_examples(), degree=1, temperature=0.0, progress=False)
        assert (evaluation.correct, evaluation.new) == (3, 4)
        # the same questions with another template: a second evaluation, which the cell did not ask for
        teach(store, task, spec, task.test_examples(), degree=1, temperature=0.0, progress=False,
              options={"templates": TEMPLATE})
        cells = [cot_cell(spec)]
        found = teacher_test_accuracy(store, cells, None)
        templated = teacher_test_accuracy(store, [cot_cell(spec, {"templates": TEMPLATE})], None)
    assert {c.teacher for c in store.completions()} == {"scribe:m1"}
    assert found == {(COIN, spec): (0.75, 4)}
    assert templated == {(COIN, spec): (0.0, 4)}
    board = build(cells, found)
    assert [(r.label, r.entries[COIN].accuracy, r.entries[COIN].n) for r in board.teacher_rows] == [
        (f"Teacher: {spec}", 0.75, 4)]


def test_a_litellm_teacher_that_answered_the_test_split_gets_its_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    task = create_task(COIN, data_dir=None)
    answers = {e.question: e.answer for e in task.examples()}
    teacher = "litellm:hosted_vllm/test-model"
    with OpenAIServer(answers=answers) as server:
        options = {"api_base": server.url, "timeout": 5, "backoff": 0.01}
        cells = [cot_cell(teacher, options)]
        # D=2 samples of the test questions (as another split's training data would be): not the evaluation
        teach(store, task, teacher, task.test_examples(), degree=2, temperature=0.7, options=options, progress=False)
        assert teacher_test_accuracy(store, cells, None) == {}
        teach(store, task, teacher, task.test_examples(), degree=1, temperature=0.0, options=options, progress=False)
    found = teacher_test_accuracy(store, cells, None)
    assert found == {(COIN, teacher): (1.0, 4)}
    board = build(cells, found)
    assert [r.teacher for r in board.teacher_rows] == [teacher]
    assert [e.to_dict()["n"] for r in board.teacher_rows for e in r.entries.values()] == [4]
