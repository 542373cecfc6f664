"""Filters: each drop is recorded with the filter that made it and why; filters compose in order."""

from __future__ import annotations

import pytest

from ftcot.api import FilterContext
from ftcot.errors import UserError
from ftcot.pipeline.filter import FAILED_STEP, apply_filters, create_filters, parse_filter_specs
from ftcot.records import Completion, Example
from ftcot.registry import create_filter, create_task, registry


def completion(sample: int, index: int, rationale: str, correct: bool, **extra) -> Completion:
    return Completion(
        task="toy", sample_index=sample, teacher="t", index=index, rationale=rationale,
        answer_text="A" if correct else "B", prediction="A" if correct else "B", correct=correct, **extra,
    )


EXAMPLES = {i: Example(task="toy", sample_index=i, question=f"q{i}", answer="A") for i in range(3)}


def words(text: str) -> int:
    return len(text.split())


def test_builtin_filters_are_registered():
    names = registry().names("filter")
    assert {"correct", "max-tokens", "dedupe"} <= set(names)


def test_correct_drops_wrong_answers_with_reason():
    items = [completion(0, 0, "r", True), completion(0, 1, "r2", False), completion(1, 0, "x", False)]
    result = apply_filters(items, create_filters(["correct"]), FilterContext(examples=EXAMPLES))
    assert [(c.sample_index, c.index) for c in result.kept] == [(0, 0)]
    assert [(d.sample_index, d.completion_index, d.filter) for d in result.dropped] == [
        (0, 1, "correct"), (1, 0, "correct")]
    assert "'B'" in result.dropped[0].reason and "'A'" in result.dropped[0].reason


def test_failed_completions_are_dropped_first_and_named():
    items = [completion(0, 0, "", False, error="HTTP 500 after 6 tries"), completion(1, 0, "ok", True)]
    result = apply_filters(items, [], FilterContext())
    assert len(result.kept) == 1
    (drop,) = result.dropped
    assert drop.filter == FAILED_STEP and "HTTP 500" in drop.reason
    assert [s.filter for s in result.steps] == [FAILED_STEP]


def test_dedupe_keeps_first_of_each_rationale_per_example():
    items = [
        completion(0, 0, "Swap A and B.", True),
        completion(0, 1, "swap a  and b.", True),   # same up to case and spaces
        completion(0, 2, "Another way.", True),
        completion(1, 0, "Swap A and B.", True),    # another example: not a duplicate
    ]
    result = apply_filters(items, create_filters(["dedupe"]), FilterContext())
    assert [(c.sample_index, c.index) for c in result.kept] == [(0, 0), (0, 2), (1, 0)]
    (drop,) = result.dropped
    assert (drop.sample_index, drop.completion_index, drop.filter) == (0, 1, "dedupe")
    assert "completion 0" in drop.reason


def test_max_tokens_counts_student_tokens():
    items = [completion(0, 0, "one two three", True), completion(0, 1, "one two three four five", True)]
    result = apply_filters(items, create_filters(["max-tokens:3"]), FilterContext(count_tokens=words))
    assert [c.index for c in result.kept] == [0]
    assert result.dropped[0].filter == "max-tokens:3" and "5 student tokens > 3" in result.dropped[0].reason


def test_max_tokens_without_student_is_a_user_error():
    with pytest.raises(UserError, match="student"):
        apply_filters([completion(0, 0, "a", True)], create_filters(["max-tokens:3"]), FilterContext())


@pytest.mark.parametrize("spec", ["max-tokens", "max-tokens:0", "max-tokens:ten", "correct:x", "nope"])
def test_bad_filter_specs_are_user_errors(spec):
    with pytest.raises(UserError):
        create_filter(spec)


def test_chain_records_which_filter_dropped_each_completion():
    items = [
        completion(0, 0, "short", True),
        completion(0, 1, "short", True),                       # dedupe
        completion(0, 2, "a much longer rationale here", True),  # max-tokens
        completion(1, 0, "short", False),                      # correct
        completion(2, 0, "", False, error="timeout"),          # failed
    ]
    filters = create_filters(parse_filter_specs("correct,dedupe,max-tokens:2"))
    result = apply_filters(items, filters, FilterContext(examples=EXAMPLES, count_tokens=words))
    by_completion = {(d.sample_index, d.completion_index): d.filter for d in result.dropped}
    assert by_completion == {(2, 0): FAILED_STEP, (1, 0): "correct", (0, 1): "dedupe", (0, 2): "max-tokens:2"}
    assert [(s.filter, s.seen, s.kept, s.dropped) for s in result.steps] == [
        (FAILED_STEP, 5, 4, 1), ("correct", 4, 3, 1), ("dedupe", 3, 2, 1), ("max-tokens:2", 2, 1, 1)]
    assert result.total == 5
    data = result.to_dict()
    assert data["kept"] == 1 and data["dropped"] == 4 and len(data["drops"]) == 4


def test_order_matters_each_filter_sees_only_what_the_previous_kept():
    items = [completion(0, 0, "same", False), completion(0, 1, "same", True)]
    first_correct = apply_filters(items, create_filters(["correct", "dedupe"]), FilterContext(examples=EXAMPLES))
    first_dedupe = apply_filters(items, create_filters(["dedupe", "correct"]), FilterContext(examples=EXAMPLES))
    assert [c.index for c in first_correct.kept] == [1]
    assert first_dedupe.kept == []


def test_parse_filter_specs():
    assert parse_filter_specs("correct, dedupe ,max-tokens:64") == ("correct", "dedupe", "max-tokens:64")
    assert parse_filter_specs(["correct", "dedupe"]) == ("correct", "dedupe")
    assert parse_filter_specs("none") == ()
    with pytest.raises(UserError, match="--filters none"):
        parse_filter_specs("")
    assert parse_filter_specs("mine:a=1,b=2,correct") == ("mine:a=1,b=2", "correct")


def test_correct_rescores_completions_scored_under_another_rule_set():
    task = create_task("tracking_shuffled_objects:objects=3,swaps=2,train=4,test=2", data_dir=None)
    example = task.train_examples()[0]
    wrong_letter = next(letter for letter in "ABC" if letter != example.answer)
    # "In August (X)": the paper's rules read the capital A of "August" first; strict reads (X)
    answer_text = f"In August ({example.answer})"
    scored_by_paper = Completion(
        task=task.key, sample_index=example.sample_index, teacher="t", index=0, rationale="r",
        answer_text=answer_text, prediction="A", correct=example.answer == "A", scoring="paper")
    context = FilterContext(task=task, examples={example.sample_index: example}, scoring="strict")
    kept = apply_filters([scored_by_paper], create_filters(["correct"]), context)
    assert len(kept.kept) == 1
    wrong = Completion(
        task=task.key, sample_index=example.sample_index, teacher="t", index=1, rationale="r",
        answer_text=f"({wrong_letter})", scoring="paper", correct=True)  # stale label, re-scored
    dropped = apply_filters([wrong], create_filters(["correct"]), context)
    assert dropped.kept == [] and f"teacher answered '{wrong_letter}'" in dropped.dropped[0].reason
