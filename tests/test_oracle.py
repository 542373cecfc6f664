"""oracle: canonical rationale at T=0, seeded phrasings at T>0, gold answer scored by the task."""

from __future__ import annotations

import json

import pytest
from conftest import real_data_dir

from ftcot import registry as plugins
from ftcot.cli import main
from ftcot.pipeline.teach import teach
from ftcot.store import Store

TASKS = ["coin_flip:flips=3,train=12,test=3", "last_letter_concatenation:words=3,train=12,test=3",
         "tracking_shuffled_objects:objects=3,train=12,test=3"]


@pytest.mark.parametrize("spec", TASKS)
def test_greedy_oracle_writes_the_canonical_rationale_and_the_gold_answer(tmp_path, spec):
    task = plugins.create_task(spec, data_dir=tmp_path)
    examples = task.train_examples()
    result = teach(Store(tmp_path / "s.db"), task, "oracle", examples, progress=False)
    assert result.accuracy == 1.0 and result.new == len(examples)
    for example, completion in zip(examples, result.completions):
        assert completion.teacher == "oracle"
        assert completion.rationale.strip() == task.oracle_rationales(example)[0]
        assert completion.answer_text == f" {example.answer}."
        assert completion.prediction == task.extract(completion.answer_text, "direct", "paper")
        assert completion.answer_prompt.endswith(completion.rationale + "\nTherefore, the answer is")


def test_shuffled_objects_rationale_states_letters_after_every_swap(tmp_path):
    task = plugins.create_task(TASKS[2], data_dir=tmp_path)
    example = task.train_examples()[0]
    completion = teach(Store(tmp_path / "s.db"), task, "oracle", [example], progress=False).completions[0]
    assert completion.rationale.strip().endswith(f"has {example.answer}.")
    assert completion.answer_text == f" {example.answer}." and completion.correct


def test_sampled_oracle_varies_by_index_and_is_reproducible(tmp_path):
    task = plugins.create_task(TASKS[0], data_dir=tmp_path)
    examples = task.train_examples()
    first = teach(Store(tmp_path / "a.db"), task, "oracle", examples, degree=4, progress=False)
    second = teach(Store(tmp_path / "b.db"), task, "oracle", examples, degree=4, progress=False)
    assert first.temperature == 0.7 and len(first.completions) == 4 * len(examples)
    assert [c.rationale for c in first.completions] == [c.rationale for c in second.completions]
    per_example = {}
    for c in first.completions:
        per_example.setdefault(c.sample_index, set()).add(c.rationale)
        phrasings = {p for p in task.oracle_rationales(task.example(c.sample_index))}
        assert c.rationale.strip() in phrasings
    assert any(len(v) > 1 for v in per_example.values())  # diverse reasoning means something offline
    assert first.accuracy == 1.0


def test_oracle_reruns_recompute_and_store_each_completion_once(tmp_path):
    task = plugins.create_task(TASKS[1], data_dir=tmp_path)
    store = Store(tmp_path / "s.db")
    teach(store, task, "oracle", task.train_examples(), degree=2, progress=False)
    teach(store, task, "oracle", task.train_examples(), degree=2, progress=False)
    assert len(store.completions(teacher="oracle")) == 2 * len(task.train_examples())


def test_oracle_on_a_task_without_oracle_rationales_is_a_user_error(store_path, capsys):
    data = real_data_dir()
    if data is None:
        pytest.skip("needs the real datasets (FTCOT_DATA_DIR)")
    code = main(["--data-dir", str(data), "teach", "multiarith", "--teacher", "oracle", "--limit", "3"])
    assert code == 1
    assert "oracle" in capsys.readouterr().err


def test_teach_cli_oracle_json(tmp_path, store_path, capsys):
    code = main(["--data-dir", str(tmp_path), "teach", TASKS[0], "--teacher", "oracle", "--split", "test",
                 "-D", "2", "-T", "0", "--json", "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k] for k in ("examples", "completions", "new", "cached", "failed", "correct", "accuracy",
                                    "cost_usd")} == {
        "examples": 3, "completions": 6, "new": 6, "cached": 0, "failed": 0, "correct": 6, "accuracy": 1.0,
        "cost_usd": 0.0}
    assert summary["temperature"] == 0.0


# -- oracle:error=P, a teacher that makes mistakes ----------------------------------------------

BIG = ["coin_flip:flips=4,train=300,test=3", "last_letter_concatenation:words=4,train=300,test=3",
       "tracking_shuffled_objects:objects=4,swaps=4,train=300,test=3"]


@pytest.mark.parametrize("spec", BIG)
def test_a_noisy_oracle_is_wrong_about_as_often_as_asked(tmp_path, spec):
    task = plugins.create_task(spec, data_dir=tmp_path)
    examples = task.train_examples()
    result = teach(Store(tmp_path / "s.db"), task, "oracle:error=0.3", examples, degree=4, progress=False)
    assert result.teacher == "oracle:error=0.3" and len(result.completions) == 1200
    assert 0.64 <= result.accuracy <= 0.76  # 1 - 0.3, within about 4.5 standard errors
    for c in result.completions:
        example = task.example(c.sample_index)
        claimed = c.answer_text.strip().rstrip(".")
        assert (claimed == example.answer) == bool(c.correct)
        if not c.correct:  # the wrong state is carried through: the rationale ends in the wrong answer
            assert c.rationale.strip() not in task.oracle_rationales(example)
    per_question = {}
    for c in result.completions:
        per_question.setdefault(c.sample_index, []).append(bool(c.correct))
    covered = sum(any(v) for v in per_question.values()) / len(per_question)
    assert covered >= 0.97  # D = 4 gives nearly every question a correct rationale: 1 - 0.3**4


def test_a_shuffled_objects_mistake_follows_the_wrong_swap_to_the_end(tmp_path):
    import random

    task = plugins.create_task("tracking_shuffled_objects:objects=3,swaps=3,train=20,test=3", data_dir=tmp_path)
    for example in task.train_examples():
        phrasings, answer = task.oracle_mistake(example, random.Random(example.sample_index))
        right = task.oracle_rationales(example)[0]
        assert answer != example.answer and phrasings[0].endswith(f"has {answer}.")
        steps, right_steps = phrasings[0].split(". "), right.split(". ")
        first = next(i for i, (a, b) in enumerate(zip(steps, right_steps)) if a != b)
        assert len(steps) == len(right_steps)
        assert all(s != r for s, r in zip(steps[first:], right_steps[first:]))  # every later state is wrong


def test_the_noisy_oracle_is_reproducible_and_keeps_the_plain_oracles_keys(tmp_path):
    task = plugins.create_task(BIG[0], data_dir=tmp_path)
    examples = task.train_examples()[:20]
    a = teach(Store(tmp_path / "a.db"), task, "oracle:error=0.5", examples, degree=2, progress=False)
    b = teach(Store(tmp_path / "b.db"), task, "oracle:error=0.5", examples, degree=2, progress=False)
    assert [(c.rationale, c.answer_text) for c in a.completions] == [(c.rationale, c.answer_text) for c in b.completions]
    plain = plugins.create_teacher("oracle")
    zero = plugins.create_teacher("oracle:error=0")
    noisy = plugins.create_teacher("oracle:error=0.5")
    from ftcot.api import Generation

    generation = Generation()
    assert plain.identity(generation) == zero.identity(generation) != noisy.identity(generation)
    assert zero.label == "oracle" and noisy.label == "oracle:error=0.5"


@pytest.mark.parametrize("spec, message", [
    ("oracle:error=1.5", "must be in [0, 1)"),
    ("oracle:error=-0.1", "must be in [0, 1)"),
    ("oracle:error=x", "error must be a number"),
    ("oracle:errors=0.1", "unknown parameter .errors."),
])
def test_bad_oracle_errors_are_user_errors(spec, message):
    from ftcot.api import UserError

    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        plugins.create_teacher(spec)
