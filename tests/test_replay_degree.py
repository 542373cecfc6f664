"""replay: honours -D (completion indices 0..D-1), counts short examples, --all-completions uses
everything, and teacher-report's accuracy stays over every completion in the file.

The fixture holds, for the six training examples of TASK: 5 completions of example 0, 1 of
example 1, 3 of example 2, 2 of example 3, none of example 4, 1 of example 5 (and 1 of the test
example 7). Correct ones: 0 -> indices 0, 2, 3; 1 -> 0; 2 -> 1, 2; 3 -> 0, 1; 5 -> none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftcot import registry as plugins
from ftcot.cli import main
from ftcot.errors import UserError
from ftcot.pipeline.teach import teach
from ftcot.store import Store
from ftcot.teacher_report import teacher_report

FILE = Path(__file__).parent / "fixtures" / "replay" / "coin_flip_mixed.json"
TEACHER = f"replay:{FILE}"
TASK = "coin_flip:flips=2,train=6,test=3"
EVERY_COMPLETION = (12, 8, 5)  # teacher-report: completions, correct, examples
STUDENT = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"


@pytest.fixture
def task(tmp_path):
    return plugins.create_task(TASK, data_dir=tmp_path)


def picked(result) -> list[tuple[int, int]]:
    return [(c.sample_index, c.index) for c in result.completions]


def report_row(store: Store) -> tuple[int, int, int]:
    (row,) = teacher_report(store)
    assert "every completion the file holds" in row["accuracy_over"]
    return row["completions"], row["correct"], row["examples"]


def test_degree_one_uses_completion_zero_of_each_example(tmp_path, task):
    store = Store(tmp_path / "s.db")
    result = teach(store, task, TEACHER, task.train_examples(), degree=1, progress=False)
    assert picked(result) == [(0, 0), (1, 0), (2, 0), (3, 0), (5, 0)]
    assert result.completions[0].rationale == " Willa flips it once, so it is tails up."
    summary = result.summary()
    assert (summary["completions"], summary["correct"]) == (5, 3)
    assert (summary["short"], summary["none"], summary["unused"], summary["outside"]) == (1, 1, 7, 1)
    assert summary["selection"] == "first-D"
    assert report_row(store) == EVERY_COMPLETION


def test_degree_three_uses_indices_zero_to_two_and_counts_short_examples(tmp_path, task):
    store = Store(tmp_path / "s.db")
    result = teach(store, task, TEACHER, task.train_examples(), degree=3, progress=False)
    assert picked(result) == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1), (2, 2), (3, 0), (3, 1), (5, 0)]
    summary = result.summary()
    assert (summary["completions"], summary["correct"]) == (10, 7)
    # examples 1, 3 and 5 have fewer than 3 and are not padded; example 4 has none
    assert (summary["short"], summary["none"], summary["unused"]) == (4, 1, 2)
    assert report_row(store) == EVERY_COMPLETION


def test_all_completions_uses_everything_the_file_holds(tmp_path, task):
    store = Store(tmp_path / "s.db")
    result = teach(store, task, TEACHER, task.train_examples(), degree=1,
                   options={"all_completions": "true"}, progress=False)
    assert len(result.completions) == 12 and [i for s, i in picked(result) if s == 0] == [0, 1, 2, 3, 4]
    summary = result.summary()
    assert (summary["correct"], summary["unused"], summary["selection"]) == (8, 0, "all")
    assert report_row(store) == EVERY_COMPLETION


def test_changing_the_degree_reuses_the_stored_completions(tmp_path, task):
    store = Store(tmp_path / "s.db")
    teach(store, task, TEACHER, task.train_examples(), degree=1, progress=False)
    again = teach(store, task, TEACHER, task.train_examples(), degree=3, progress=False)
    assert (again.new, again.cached) == (0, 10)
    assert len(store.completions()) == 12


def test_bad_all_completions_value_is_a_user_error(tmp_path, task):
    with pytest.raises(UserError, match="all_completions must be true or false"):
        teach(Store(tmp_path / "s.db"), task, TEACHER, task.train_examples(),
              options={"all_completions": "maybe"}, progress=False)


def test_cli_warns_once_about_short_examples_and_report_is_unchanged(tmp_path, store_path, capsys):
    common = ["--data-dir", str(tmp_path), "teach", TASK, "--teacher", TEACHER, "--json", "--no-progress"]
    assert main(common + ["-D", "2"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    # examples 1 and 5 have one completion, example 4 none
    assert (summary["degree"], summary["completions"], summary["short"], summary["none"]) == (2, 8, 3, 1)
    warnings = [line for line in out.err.splitlines() if line.startswith("warning:")]
    assert warnings == [("warning: 3 of 6 examples have fewer than 2 recorded completion(s) (1 have none); "
                         "they are used with what they have, never padded")]
    assert main(common + ["--all-completions"]) == 0
    assert json.loads(capsys.readouterr().out)["completions"] == 12
    assert main(["teacher-report", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["completions"], row["correct"], row["examples"]) == EVERY_COMPLETION
    assert main(["teacher-report"]) == 0
    assert "over every completion stored" in " ".join(capsys.readouterr().out.split())


def replay_spec(**options):
    """A Fine-tune-CoT cell replaying the fixture, with these teacher options."""
    from ftcot.pipeline import CellSpec

    return CellSpec(task=TASK, teacher=TEACHER, student=STUDENT, method="fine-tune-cot",
                    training={"max_steps": 2}, teacher_options=options)


def test_the_completion_selection_is_part_of_the_cell_key():
    from ftcot.pipeline import cell_key

    first_d = cell_key(replay_spec(), "paper")
    every = cell_key(replay_spec(all_completions=True), "paper")
    assert every != first_d
    # spellings of one selection share a key; false is the default and keeps today's key
    assert {cell_key(replay_spec(all_completions=v), "paper") for v in (True, "yes", 1, "true")} == {every}
    assert {cell_key(replay_spec(all_completions=v), "paper") for v in (False, "no", 0, "")} == {first_d}
    with pytest.raises(UserError, match="all_completions must be true or false"):
        cell_key(replay_spec(all_completions="maybe"), "paper")


def test_a_cell_trained_on_one_selection_is_not_returned_for_the_other(tmp_path, store_path, capsys):
    common = ["--data-dir", str(tmp_path), "distill", TASK, "--teacher", TEACHER, "--student", STUDENT,
              "--max-steps", "2", "--json"]
    runs = []
    for extra in ([], ["--all-completions"], [], ["--all-completions"]):
        assert main(common + extra) == 0
        runs.append(json.loads(capsys.readouterr().out))
    first_d, every, first_d_again, every_again = runs
    assert (first_d["cached"], every["cached"]) == (False, False)
    assert first_d["key"] != every["key"]
    # the 'correct' filter keeps 3 of the first completions, 8 of every completion in the file
    assert (first_d["train_samples"], every["train_samples"]) == (3, 8)
    assert (first_d_again["cached"], first_d_again["key"]) == (True, first_d["key"])
    assert (every_again["cached"], every_again["key"]) == (True, every["key"])
    assert len(Store(store_path).cells(status="done")) == 2
