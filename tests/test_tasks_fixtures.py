"""The 12 loaders on small made-up files in each raw format (tests/fixtures/data), and their errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ftcot.contracts.task import clear_cache
from ftcot.errors import UserError
from ftcot.registry import create_task

FIXTURES = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def task(name: str, data_dir: Path = FIXTURES):
    return create_task(name, data_dir=data_dir)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(FIXTURES, dest)
    return dest


# (task, sample_index, question, answer)
FORMATS = [
    ("single_eq", 0, "Pia has 4 kites and buys 5 more. How many kites does she have ?", "9.0"),
    ("addsub", 0, "Rui saw 3 owls and then 8 more owls . How many owls did Rui see ?", "11"),
    ("addsub", 1, "A rope was 9.5 meters . Lea cut 0.25 meters off . How long is it now ?", "9.25"),
    ("multiarith", 0, "Ola packed 3 boxes with 4 pens each and kept 2 loose pens. How many pens does she have?", "14"),
    ("gsm8k", 1, "A shop sells 1,000 pens a day for 3 days. How many pens is that?", "3,000"),
    ("gsm8k", 2, "The temperature was 4 degrees and fell by 10. What is it now?", "-6"),
    ("gsm8k", 3, "Kofi has 3 bags of 6 marbles. How many marbles?", "18"),
    ("aqua", 97467, "What is 15% of 40? Answer choices: (A) 4, (B) 6, (C) 8, (D) 10, (E) 12.", "B"),
    ("svamp", 0, "Sara had 8 stamps. She gave 3 stamps to Leo How many stamps does Sara have now?", "5.0"),
    ("svamp", 1, "A box has 6 rows of 7 tiles . How many tiles are in the box?", "42.0"),
    ("coin_flip", 1, 'A coin is heads up. Ivo does not flip the coin. Bea does not flip the coin. Cy flips the coin. '
                     'Di does not flip the coin. Is the coin still heads up? Note that "flip" here means "reverse".', "no"),
    ("last_letter_concatenation", 0, 'Take the last letters of each words in "Ivo Bea Cyd Dil" and concatenate them.',
     "oadl"),
    ("commonsense_qa", 0, "Where would you keep a spare key? Answer choices: (A) under a mat, (B) in the sea, "
                          "(C) on the moon, (D) inside a cake, (E) in a cloud.", "A"),
    ("commonsense_qa", 3, "What do bees make? Answer choices: (A) milk, (B) bread, (C) glass, (D) honey, (E) paper.",
     "D"),
    ("strategy_qa", 0, "Could a cat fit inside a teacup?", "No"),
]


@pytest.mark.parametrize("name,index,question,answer", FORMATS)
def test_question_and_answer_in_the_papers_format(name, index, question, answer):
    ex = task(name).example(index)
    assert (ex.question, ex.answer) == (question, answer)
    assert ex.task == name and ex.sample_index == index


def test_shuffled_objects_keeps_the_input_unstripped_and_lists_choices_in_file_order():
    ex = task("tracking_shuffled_objects").example(0)
    assert ex.question.endswith("Alice has the \nWhich choice is true? Answer choices: (A) green ball, "
                                "(B) red ball, (C) gold ball.")
    assert ex.choices == ["green ball", "red ball", "gold ball"] and ex.answer == "C"


def test_date_choices_are_shuffled_by_one_random_state_for_the_file():
    raw = json.loads((FIXTURES / "raw/date_understanding/task.json").read_text())["examples"]
    rs = np.random.RandomState(0)
    for ex, row in zip(task("date_understanding").examples(), raw):
        keys = [k.rstrip(".") for k in row["target_scores"]]
        perm = rs.permutation(len(keys))
        assert [ex.choices[perm[j]] for j in range(len(keys))] == keys
        right = next(k for k, v in row["target_scores"].items() if v == 1).rstrip(".")
        assert ex.choices["ABCDEF".index(ex.answer)] == right
        assert ex.question.startswith(row["input"].strip() + "\nWhich choice is true? Answer choices: (A) ")


def test_reference_rationales_are_kept():
    assert task("gsm8k").example(0).rationale == "She has 12-5=<<12-5=7>>7 left."
    assert task("strategy_qa").example(1).rationale == "Ice is frozen water and steam is boiling hot."
    assert task("strategy_qa").example(2).rationale == "Fish live in water."


def test_sample_indices_run_across_files():
    gsm = task("gsm8k")
    assert [e.sample_index for e in gsm.test_examples()] == [3, 4]
    assert [e.sample_index for e in task("commonsense_qa").test_examples()] == [2, 3]


def test_template_split_is_a_second_split_name():
    multi = task("multiarith")
    assert multi.splits() == ["default", "template"]
    assert multi.split_indices("template") == {"train": [0], "test": [1, 2]}
    assert [e.sample_index for e in task("date_understanding").test_examples("template")] == [0]
    with pytest.raises(UserError, match="no split 'template'"):
        task("gsm8k").split_indices("template")


def test_aqua_without_train_file_is_evaluable_not_distillable():
    aqua = task("aqua")
    assert [e.sample_index for e in aqua.test_examples()] == [97467, 97468]
    assert aqua.present() and not aqua.distillable()
    with pytest.raises(UserError, match=r"train\.json.*ftcot data fetch aqua"):
        aqua.train_examples()


def test_gold_answers_are_scored_correct_under_both_rule_sets():
    from ftcot.tasks.plugin import BUILTIN_TASKS

    for cls in BUILTIN_TASKS:
        t = task(cls.name)
        for ex in t.examples():
            for rules in ("paper", "strict"):
                assert t.is_correct(t.extract(ex.answer, "direct", rules), ex.answer, rules), (cls.name, ex)


def test_oracle_rationales_of_the_synthetic_datasets():
    tso = task("tracking_shuffled_objects")
    for ex in tso.examples():
        assert tso.oracle_rationales(ex)[0].endswith(f"has {ex.answer}.")
    letters = task("last_letter_concatenation")
    assert 'The last letter of "Ann Marie" is "e".' in letters.oracle_rationales(letters.example(1))[0]
    assert letters.oracle_rationales(letters.example(2))[0].endswith('"xamA".')
    coin = task("coin_flip")
    assert coin.oracle_rationales(coin.example(2))[0].startswith("Start: heads. Mary Lou flips: tails.")
    with pytest.raises(UserError, match="no oracle"):
        task("gsm8k").oracle_rationales(task("gsm8k").example(0))


def test_few_shot_prompt_ends_ready_for_the_next_question():
    prompt = task("coin_flip").few_shot_prompt()
    assert prompt.startswith("Q: A coin is heads up.") and prompt.endswith("The answer is no.\n")
    assert task("gsm8k").few_shot_prompt().endswith("The answer is 5.\n")
    with pytest.raises(UserError, match="no few-shot-CoT exemplars"):
        task("strategy_qa").few_shot_prompt()


def test_examples_are_cached_per_process(data_copy):
    t = task("svamp", data_copy)
    first = t.examples()
    assert [e.question for e in task("svamp", data_copy).examples()] == [e.question for e in first]
    assert t.examples()[0] is first[0]  # the same parsed objects
    path = data_copy / "raw/svamp/SVAMP.json"
    rows = json.loads(path.read_text())
    rows[0]["Answer"] = 6.0
    path.write_text(json.dumps(rows, indent=2))  # a changed file is read again
    assert t.examples()[0].answer == "6.0"


def test_fingerprint_follows_the_file_contents(data_copy):
    before = task("coin_flip", data_copy).fingerprint()
    assert before == task("coin_flip", FIXTURES).fingerprint()
    path = data_copy / "raw/coin_flip/coin_flip.json"
    path.write_text(path.read_text().replace('"yes"', '"no"', 1))
    assert task("coin_flip", data_copy).fingerprint() != before


def test_missing_data_names_task_path_and_fix(tmp_path):
    with pytest.raises(UserError) as err:
        task("gsm8k", tmp_path).examples()
    message = str(err.value)
    assert "gsm8k" in message and str(tmp_path / "raw" / "gsm8k") in message and "ftcot data fetch gsm8k" in message
    assert "\n" not in message


def test_missing_split_file_names_the_fix(data_copy):
    (data_copy / "splits/svamp__default.json").unlink()
    with pytest.raises(UserError, match=r"svamp__default\.json is missing; fix with `ftcot data fetch svamp"):
        task("svamp", data_copy).train_examples()


def test_corrupt_json_names_file_and_line(data_copy):
    path = data_copy / "raw/strategy_qa/task.json"
    lines = path.read_text().splitlines()
    lines[5] = lines[5] + " }"
    path.write_text("\n".join(lines))
    with pytest.raises(UserError, match=r"task\.json line \d+ is not valid JSON.*ftcot data fetch strategy_qa"):
        task("strategy_qa", data_copy).examples()


def test_corrupt_json_lines_name_the_line(data_copy):
    path = data_copy / "raw/gsm8k/test.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(UserError, match=r"test\.jsonl line 3 is not valid JSON"):
        task("gsm8k", data_copy).examples()


@pytest.mark.parametrize("name,relpath,edit,expected", [
    ("single_eq", "raw/single_eq/questions.json", lambda rows: rows[1].pop("sQuestion"),
     r"questions\.json \(record 1\): missing field 'sQuestion'"),
    ("svamp", "raw/svamp/SVAMP.json", lambda rows: rows[2].update(Answer="four"),
     r"SVAMP\.json \(record 2\): field 'Answer' is str"),
    ("coin_flip", "raw/coin_flip/coin_flip.json", lambda d: d["examples"][0].update(answer="maybe"),
     r"coin_flip\.json \(record 0\): answer 'maybe' is not yes/no"),
    ("strategy_qa", "raw/strategy_qa/task.json", lambda d: d["examples"][1].update(target_scores={"Yes": 1, "No": 1}),
     r"task\.json \(record 1\): target_scores"),
])
def test_malformed_record_names_file_and_record(data_copy, name, relpath, edit, expected):
    path = data_copy / relpath
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=expected):
        task(name, data_copy).examples()


def test_malformed_json_line_names_the_line(data_copy):
    path = data_copy / "raw/commonsense_qa/dev_rand_split.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    del record["answerKey"]
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"dev_rand_split\.jsonl \(line 2\): missing field 'answerKey'"):
        task("commonsense_qa", data_copy).examples()


def test_a_split_pointing_past_the_data_is_reported(data_copy):
    (data_copy / "splits/addsub__default.json").write_text(json.dumps({"train": [0, 7], "test": [2]}))
    with pytest.raises(UserError, match="1 of the 2 train examples"):
        task("addsub", data_copy).train_examples()


def test_dataset_task_refuses_an_argument_without_a_generator():
    with pytest.raises(UserError, match="takes no argument"):
        task("gsm8k:foo=1")


def test_from_spec_ignores_unknown_options():
    assert task("svamp").key == "svamp"
    assert create_task("svamp", data_dir=FIXTURES, device="cpu", anything=1).key == "svamp"
