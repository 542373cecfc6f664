"""The 12 tasks on the real dataset files (../shared/data or $FTCOT_DATA_DIR): sizes, splits and
gold answers equal the paper's. Skipped with a reason when the files are not there."""

from __future__ import annotations

import pytest
from conftest import real_data_dir

from ftcot.registry import create_task
from ftcot.tasks.plugin import BUILTIN_TASKS

DATA = real_data_dir()
pytestmark = pytest.mark.skipif(
    DATA is None or not (DATA / "raw").is_dir(),
    reason="real dataset files not found: set FTCOT_DATA_DIR or provide ../shared/data",
)

# name: (examples, train, test) of the default split, as in the paper
PAPER = {
    "single_eq": (508, 356, 152),
    "addsub": (395, 276, 119),
    "multiarith": (600, 420, 180),
    "gsm8k": (8792, 7473, 1319),
    "aqua": (97721, 10000, 254),
    "svamp": (1000, 700, 300),
    "date_understanding": (369, 258, 111),
    "tracking_shuffled_objects": (750, 525, 225),
    "last_letter_concatenation": (500, 350, 150),
    "coin_flip": (500, 350, 150),
    "commonsense_qa": (10962, 9741, 1221),
    "strategy_qa": (2290, 1603, 687),
}
TEMPLATE = {"multiarith": (413, 187), "date_understanding": (261, 108)}
NAMES = [cls.name for cls in BUILTIN_TASKS]


def test_every_paper_task_is_registered():
    assert sorted(NAMES) == sorted(PAPER)


@pytest.mark.parametrize("name", NAMES)
def test_size_and_splits_equal_the_papers(name):
    task = create_task(name, data_dir=DATA)
    size, n_train, n_test = PAPER[name]
    examples = task.examples()
    indices = [e.sample_index for e in examples]
    assert indices == sorted(indices)
    split = task.split_indices()
    assert (len(split["train"]), len(split["test"])) == (n_train, n_test)
    assert split["train"] == sorted(split["train"]) and split["test"] == sorted(split["test"])
    assert not set(split["train"]) & set(split["test"])
    assert [e.sample_index for e in task.test_examples()] == split["test"]
    if name == "aqua" and not task.distillable():
        # train.json is absent: only its 254 test rows, numbered after the 97,467 training rows
        assert len(examples) == 254 and indices == list(range(97467, 97721))
        return
    assert len(examples) == size
    assert indices == list(range(size))
    assert [e.sample_index for e in task.train_examples()] == split["train"]
    if name not in ("gsm8k", "commonsense_qa", "aqua"):
        assert sorted(split["train"] + split["test"]) == list(range(size))
    for split_name, counts in TEMPLATE.items():
        if split_name == name:
            template = task.split_indices("template")
            assert (len(template["train"]), len(template["test"])) == counts


@pytest.mark.parametrize("name", NAMES)
def test_every_gold_answer_is_scored_correct_by_its_own_extraction(name):
    task = create_task(name, data_dir=DATA)
    for rules in ("paper", "strict"):
        wrong = [e.sample_index for e in task.examples()
                 if not task.is_correct(task.extract(e.answer, "direct", rules), e.answer, rules)]
        assert not wrong, f"{name} ({rules}): gold answers not recovered for {wrong[:5]}"
        wrong = [e.sample_index for e in task.examples()
                 if not task.is_correct(task.extract(f"So. --> {e.answer}", "ft-cot", rules), e.answer, rules)]
        assert not wrong, f"{name} ({rules}, ft-cot): {wrong[:5]}"


def test_official_test_sets_are_the_official_files():
    gsm = create_task("gsm8k", data_dir=DATA)
    assert gsm.split_indices()["test"] == list(range(7473, 8792))
    csqa = create_task("commonsense_qa", data_dir=DATA)
    assert csqa.split_indices()["test"] == list(range(9741, 10962))


def test_answers_have_the_papers_form():
    def answers(name):
        return [e.answer for e in create_task(name, data_dir=DATA).examples()]

    assert all(a.endswith(".0") or "." in a for a in answers("single_eq"))
    assert all("." not in a for a in answers("multiarith"))
    assert sum("," in a for a in answers("gsm8k")) == 93
    assert set(answers("strategy_qa")) == {"Yes", "No"}
    assert set(answers("coin_flip")) == {"yes", "no"}
    assert set(answers("date_understanding")) <= set("ABCDEF")
    assert set(answers("tracking_shuffled_objects")) == set("ABC")


@pytest.mark.parametrize("name", ["coin_flip", "last_letter_concatenation", "tracking_shuffled_objects"])
def test_oracle_rationales_reach_the_gold_answer(name):
    task = create_task(name, data_dir=DATA)
    for e in task.examples():
        canonical = task.oracle_rationales(e)[0]
        if name == "coin_flip":
            assert canonical.endswith("heads up." if e.answer == "yes" else "tails up.")
        elif name == "last_letter_concatenation":
            assert canonical.endswith(f'"{e.answer}".')
        else:
            assert canonical.endswith(f"has {e.answer}.")


def test_few_shot_prompts_are_there_except_for_shuffled_objects():
    from ftcot.errors import UserError

    for name in NAMES:
        task = create_task(name, data_dir=DATA)
        if name == "tracking_shuffled_objects":
            with pytest.raises(UserError):
                task.few_shot_prompt()
        else:
            prompt = task.few_shot_prompt()
            assert prompt.startswith("Q: ") and prompt.endswith("\n") and "The answer is" in prompt
