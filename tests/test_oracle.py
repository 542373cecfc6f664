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
    task = plugins.create("task", spec, data_dir=tmp_path)
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
    task = plugins.create("task", TASKS[2], data_dir=tmp_path)
    example = task.train_examples()[0]
    completion = teach(Store(tmp_path / "s.db"), task, "oracle", [example], progress=False).completions[0]
    assert completion.rationale.strip().endswith(f"has {example.answer}.")
    assert completion.answer_text == f" {example.answer}." and completion.correct


def test_sampled_oracle_varies_by_index_and_is_reproducible(tmp_path):
    task = plugins.create("task", TASKS[0], data_dir=tmp_path)
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
    task = plugins.create("task", TASKS[1], data_dir=tmp_path)
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
