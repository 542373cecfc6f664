"""replay:PATH — both file formats, both match modes, re-scoring, unmatched entries reported.
The tests here use every recorded completion (``all_completions``); test_replay_degree.py covers -D."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftcot.cli import main
from ftcot.errors import UserError
from ftcot.pipeline.teach import teach
from ftcot.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
TASK = "coin_flip:flips=2,train=6,test=3"
FORMATS = ["coin_flip_completions.json", "coin_flip_completions.jsonl"]
EVERY = {"all_completions": True}


@pytest.mark.parametrize("match", ["index", "question"])
@pytest.mark.parametrize("name", FORMATS)
def test_replay_keeps_every_recorded_completion_and_rescores(tmp_path, task, name, match):
    store = Store(tmp_path / "s.db")
    result = teach(store, task, f"replay:{FIXTURES / name}", task.train_examples(),
                   options={"match": match, "all_completions": True}, progress=False)
    by = {(c.sample_index, c.index): c for c in result.completions}
    # train examples 0, 1 and 3 are in the file: two completions of 0, one each of 1 and 3
    assert sorted(by) == [(0, 0), (0, 1), (1, 0), (3, 0)]
    assert by[(0, 0)].correct and by[(0, 0)].prediction == "no"
    assert by[(0, 1)].correct is False and by[(0, 1)].prediction == "yes"  # the file's answer is not trusted
    assert by[(1, 0)].correct and by[(1, 0)].prediction == "yes"
    assert by[(3, 0)].correct is False and by[(3, 0)].prediction is None
    assert by[(0, 1)].rationale == " Nobody flips the coin, so it stays heads up."
    assert by[(3, 0)].finish_reason == "stop"
    summary = result.summary()
    assert (summary["completions"], summary["new"], summary["correct"]) == (4, 4, 2)
    assert summary["accuracy"] == 0.5
    assert (summary["entries"], summary["outside"], summary["unmatched"]) == (6, 1, 1)
    assert {c.teacher for c in result.completions} == {f"replay:{FIXTURES / name}"}
    # a second import finds everything stored
    again = teach(store, task, f"replay:{FIXTURES / name}", task.train_examples(),
                  options={"match": match, "all_completions": True}, progress=False)
    assert (again.new, again.cached) == (0, 4)
    assert len(store.completions()) == 4


def test_both_formats_give_the_same_completions(tmp_path, task):
    results = []
    for name in FORMATS:
        store = Store(tmp_path / f"{name}.db")
        result = teach(store, task, f"replay:{FIXTURES / name}", task.examples(), options=EVERY, progress=False)
        results.append([(c.sample_index, c.index, c.rationale, c.answer_text, c.correct) for c in result.completions])
        assert result.summary()["unmatched"] == 1 and result.summary()["outside"] == 0
    assert results[0] == results[1]
    assert len(results[0]) == 5  # every example of the task this time, so the test example 7 too


def test_question_matching_ignores_indices_spacing_and_case(tmp_path, task):
    path = FIXTURES / "coin_flip_renumbered.jsonl"
    store = Store(tmp_path / "s.db")
    by_index = teach(store, task, f"replay:{path}", task.train_examples(), options={**EVERY, "match": "index"},
                     progress=False)
    assert by_index.completions == [] and by_index.summary()["unmatched"] == 6
    by_question = teach(store, task, f"replay:{path}", task.train_examples(),
                        options={**EVERY, "match": "question"}, progress=False)
    assert sorted((c.sample_index, c.index) for c in by_question.completions) == [(0, 0), (0, 1), (1, 0), (3, 0)]
    assert by_question.summary()["unmatched"] == 1


def test_entries_with_one_index_are_all_kept(tmp_path, task):
    lines = (FIXTURES / "coin_flip_completions.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    dup = dict(first, reasoning_completion=" Another way: one flip, tails.")
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join(lines + [json.dumps(dup)]) + "\n")
    result = teach(Store(tmp_path / "s.db"), task, f"replay:{path}", task.train_examples(), options=EVERY,
                   progress=False)
    zero = [c for c in result.completions if c.sample_index == 0]
    assert sorted(c.index for c in zero) == [0, 1, 2]
    assert " Another way: one flip, tails." in {c.rationale for c in zero}


def test_bad_files_are_user_errors(tmp_path, task):
    store = Store(tmp_path / "s.db")
    with pytest.raises(UserError, match="does not exist"):
        teach(store, task, f"replay:{tmp_path / 'missing.json'}", task.train_examples(), progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sample_index": 0}\n{not json\n')
    with pytest.raises(UserError, match="line 2"):
        teach(store, task, f"replay:{bad}", task.train_examples(), progress=False)
    with pytest.raises(UserError, match="match must be one of index, question"):
        teach(store, task, f"replay:{bad}", task.train_examples(), options={"match": "nope"}, progress=False)


def test_cli_reports_unmatched_entries(tmp_path, store_path, capsys):
    shutil.copy(FIXTURES / "coin_flip_completions.json", tmp_path / "c.json")
    code = main(["--data-dir", str(tmp_path), "teach", TASK, "--teacher", f"replay:{tmp_path / 'c.json'}",
                 "--match", "question", "--json", "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    # -D 1: completion 1 of example 0 is stored but not used; examples 2, 4 and 5 have none
    assert (summary["completions"], summary["unmatched"], summary["outside"]) == (3, 1, 1)
    assert (summary["unused"], summary["short"], summary["none"]) == (1, 3, 3)
    assert main(["teacher-report", "coin_flip", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # the teacher's accuracy is over every completion the file holds for these examples
    assert [(r["completions"], r["correct"], r["examples"]) for r in rows] == [(4, 2, 3)]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_exported_completions_replay_to_the_same_completions(tmp_path, store_path, capsys, suffix, task):
    out = tmp_path / f"export{suffix}"
    assert main(["--data-dir", str(tmp_path), "teach", TASK, "--teacher", "oracle", "-D", "2", "--json",
                 "--no-progress", "--export", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["exported"] == 12
    original = Store(store_path).completions(teacher="oracle")
    replayed = teach(Store(tmp_path / "r.db"), task, f"replay:{out}", task.train_examples(), degree=2,
                     progress=False)
    assert replayed.summary()["unmatched"] == 0

    def fields(completions):
        return [(c.sample_index, c.index, c.reasoning_prompt, c.rationale, c.answer_prompt, c.answer_text,
                 c.prediction, c.correct) for c in completions]

    assert fields(replayed.completions) == fields(original)


def test_a_path_with_placeholders_names_each_tasks_file(tmp_path, task, make_task):
    """``{data_dir}`` and ``{task}`` are filled per task, so one spec serves a matrix of tasks."""
    folder = tmp_path / "teacher-completions"
    folder.mkdir()
    shutil.copy(FIXTURES / "coin_flip_completions.json", folder / "D_coin_flip.json")
    spec = "replay:{data_dir}/teacher-completions/D_{task}.json"
    result = teach(Store(tmp_path / "s.db"), task, spec, task.train_examples(), options=EVERY, progress=False)
    assert (result.summary()["completions"], result.summary()["entries"]) == (4, 6)
    assert {c.teacher for c in result.completions} == {spec}
    other = make_task("last_letter_concatenation:words=2,train=4,test=2")
    with pytest.raises(UserError, match="D_last_letter_concatenation.json does not exist"):
        teach(Store(tmp_path / "s.db"), other, spec, other.train_examples(), progress=False)
    with pytest.raises(UserError, match=r"braces may only hold \{task\}, \{data_dir\}"):
        teach(Store(tmp_path / "s.db"), task, "replay:{model}.json", task.train_examples(), progress=False)
