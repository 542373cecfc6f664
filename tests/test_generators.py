"""Generated coin flip, last letters and shuffled objects: parameters, keys, determinism, answers
and oracle rationales, with no data files."""

from __future__ import annotations

import re

import pytest

from ftcot.errors import UserError
from ftcot.registry import create_task
from ftcot.tasks.shuffled_objects import LETTERS


def gen(spec: str):
    return create_task(spec, data_dir="/nonexistent/data")


def test_omitted_parameters_default_to_the_papers_shape():
    assert gen("coin_flip:seed=0").key == "coin_flip:flips=4,train=350,test=150,seed=0"
    assert gen("last_letter_concatenation:").key == "last_letter_concatenation:words=4,train=350,test=150,seed=0"
    tso = gen("tracking_shuffled_objects:seed=0")
    assert tso.key.startswith("tracking_shuffled_objects:objects=3,swaps=3,train=525,test=225,seed=0")
    assert len(gen("coin_flip:seed=0").examples()) == 500


def test_the_key_is_canonical():
    a = gen("coin_flip:flips=4,train=350,test=150,seed=0")
    b = gen("coin_flip: seed=0 ,flips=4")
    assert a.key == b.key and a.fingerprint() == b.fingerprint()
    assert gen("coin_flip:seed=1").fingerprint() != a.fingerprint()


def test_demo_preset_is_five_objects_five_swaps():
    demo = gen("tracking_shuffled_objects:preset=demo")
    assert demo.key == ("tracking_shuffled_objects:objects=5,swaps=5,train=2000,test=500,seed=0,"
                        "people=fixed,order=start")
    assert demo.key == gen("tracking_shuffled_objects:objects=5,swaps=5,train=2000,test=500,seed=0").key
    assert gen("tracking_shuffled_objects:preset=demo,seed=3").key.endswith("seed=3,people=fixed,order=start")
    train, test = demo.train_examples(), demo.test_examples()
    assert (len(train), len(test)) == (2000, 500)
    for ex in train[:50] + test[:50]:
        assert ex.question.startswith("Alice, Bob, Claire, Dave and Eve each hold a ball: Alice has")
        assert ex.choices is not None and len(ex.choices) == 5
        # choices in starting order: person i starts with choice i
        for person, ball in zip(ex.meta["people"], ex.choices):
            assert f"{person} has a {ball}" in ex.question or f"{person} has an {ball}" in ex.question
        assert len(re.findall(r"\w+ and \w+ swap\.", ex.question)) == 5
        assert ex.answer in "ABCDE"


def test_generation_is_seeded_and_questions_are_distinct():
    a = [e.question for e in gen("last_letter_concatenation:seed=7").examples()]
    b = [e.question for e in create_task("last_letter_concatenation:seed=7").examples()]
    assert a == b
    assert len(set(a)) == len(a)
    assert a != [e.question for e in gen("last_letter_concatenation:seed=8").examples()]


def _simulate_coin(question: str) -> str:
    flips = len(re.findall(r"\w flips the coin", question))
    return "yes" if flips % 2 == 0 else "no"


def _simulate_swaps(ex) -> str:
    text = ex.question
    people = ex.meta["people"]
    holding = {p: ball for p, ball in re.findall(r"(\w+) has an? (\w+ ball)", text)}
    for a, b in re.findall(r"(\w+) and (\w+) swap\.", text):
        holding[a], holding[b] = holding[b], holding[a]
    target = re.search(r"Which ball does (\w+) have at the end\?", text).group(1)
    assert target in people
    return LETTERS[ex.choices.index(holding[target])]


@pytest.mark.parametrize("spec", [
    "coin_flip:flips=6,train=40,test=10,seed=2",
    "last_letter_concatenation:words=3,train=40,test=10,seed=2",
    "tracking_shuffled_objects:objects=4,swaps=6,train=40,test=10,seed=2,people=random,order=shuffled",
    "tracking_shuffled_objects:preset=demo,train=40,test=10",
])
def test_answers_follow_from_the_question_and_oracles_reach_them(spec):
    task = gen(spec)
    examples = task.examples()
    assert len(examples) == 50 and [e.sample_index for e in examples] == list(range(50))
    for ex in examples:
        if task.answer_type == "yes_no":
            assert ex.answer == _simulate_coin(ex.question)
        elif task.answer_type == "text":
            words = re.search(r'"([^"]+)"', ex.question).group(1).split()
            assert ex.answer == "".join(w[-1] for w in words) and len(words) == 3
        else:
            assert ex.answer == _simulate_swaps(ex)
        rationales = task.oracle_rationales(ex)
        assert len(rationales) >= 3 and len(set(rationales)) == len(rationales)
        for rationale in rationales:
            target = f" {rationale} --> {ex.answer}"
            for rules in ("paper", "strict"):
                assert task.is_correct(task.extract(target, "ft-cot", rules), ex.answer, rules)


def test_shuffled_objects_rationale_writes_the_letter_state_after_every_swap():
    task = gen("tracking_shuffled_objects:preset=demo,train=5,test=0")
    ex = task.examples()[0]
    canonical = task.oracle_rationales(ex)[0]
    steps = canonical.split(". ")
    assert len(steps) == 6  # five swaps, then the answer
    for step in steps[:-1]:
        assert re.fullmatch(r"\w+ and \w+ swap: Alice [A-E], Bob [A-E], Claire [A-E], Dave [A-E], Eve [A-E]\.?", step)
    assert canonical.endswith(f"has {ex.answer}.")
    state = re.findall(r"(Alice|Bob|Claire|Dave|Eve) ([A-E])", steps[-2])
    assert sorted(letter for _, letter in state) == list("ABCDE")


def test_shuffled_objects_answers_are_balanced_enough():
    answers = [e.answer for e in gen("tracking_shuffled_objects:preset=demo").examples()]
    counts = {letter: answers.count(letter) for letter in "ABCDE"}
    assert min(counts.values()) > 0.12 * len(answers)


def test_generated_few_shot_prompt_uses_training_questions():
    task = gen("coin_flip:train=10,test=5")
    prompt = task.few_shot_prompt()
    assert prompt.count("Q: ") == 4 and prompt.endswith(".\n")
    assert task.examples()[0].question in prompt


def test_generated_questions_are_short():
    demo = gen("tracking_shuffled_objects:preset=demo,train=100,test=0")
    longest = max(len(e.question.split()) + len(demo.oracle_rationales(e)[0].split()) for e in demo.examples())
    assert longest < 200  # words; well inside a 512-token student context


@pytest.mark.parametrize("spec,message", [
    ("coin_flip:flips=0", "flips must be between"),
    ("coin_flip:flip=3", "unknown parameter 'flip'"),
    ("coin_flip:flips=three", "must be an integer"),
    ("coin_flip:flips", "write NAME=VALUE"),
    ("tracking_shuffled_objects:preset=huge", "unknown preset"),
    ("tracking_shuffled_objects:objects=9", "objects must be between"),
    ("tracking_shuffled_objects:people=some", "people must be fixed or random"),
    ("coin_flip:flips=1,train=500,test=0", "distinct questions"),
])
def test_bad_parameters_are_user_errors(spec, message):
    with pytest.raises(UserError, match=message):
        gen(spec).examples()


def test_generated_tasks_have_only_the_default_split():
    with pytest.raises(UserError, match="only 'default'"):
        gen("coin_flip:seed=0").split_indices("template")
