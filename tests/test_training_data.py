"""``ftcot training-data``: byte-exact pairs in each format (stripping included), the same pairs
the train stage hands a student, and output files that never replace the store or a database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ftcot.cli import main
from ftcot.pipeline import CellSpec, Sample, execute_cell, prepare_cell
from ftcot.pipeline.student import training_jsonl
from ftcot.store import Store
from ftcot.students.model import HFStudentModel

FILE = Path(__file__).parent / "fixtures" / "replay" / "coin_flip_mixed.json"
TEACHER = f"replay:{FILE}"
TASK = "coin_flip:flips=2,train=6,test=3"
FLIP = ' Is the coin still heads up? Note that \\"flip\\" here means \\"reverse\\".'
Q0 = "A coin is heads up. Isaak does not flip the coin. Willa flips the coin." + FLIP
Q1 = "A coin is heads up. Edith flips the coin. Silas flips the coin." + FLIP
Q3 = "A coin is heads up. Rafael flips the coin. Lars does not flip the coin." + FLIP

# question, rationale and answer with whitespace around them, as teachers and datasets write them
COT = Sample(3, 1, "  Ann has 2 apples and buys 2 more. How many? \n", "4 ",
             "\n Ann starts with 2.\nShe buys 2, so 2 + 2 = 4.  ")
VANILLA = Sample(3, 0, COT.question, COT.answer)
QUESTION = "Ann has 2 apples and buys 2 more. How many?"
RATIONALE = "Ann starts with 2.\\nShe buys 2, so 2 + 2 = 4."


def line(prompt: str, completion: str, sample: int, completion_index: int) -> str:
    """A hand-written JSON line (the strings are given JSON-escaped)."""
    return (f'{{"prompt": "{prompt}", "completion": "{completion}", "sample_index": {sample}, '
            f'"completion_index": {completion_index}}}\n')


@pytest.mark.parametrize("layout, cot, vanilla", [
    ("decoder",
     line(f"{QUESTION} ###", f" {RATIONALE} --> 4 END", 3, 1),
     line(f"{QUESTION} ###", " 4 END", 3, 0)),
    ("encoder-decoder",
     line(QUESTION, f"{RATIONALE} --> 4", 3, 1),
     line(QUESTION, "4", 3, 0)),
    ("openai",
     line(f"{QUESTION}\\n\\n###\\n\\n", f" {RATIONALE}\\n\\n-->\\n\\n4 END", 3, 1),
     line(f"{QUESTION}\\n\\n###\\n\\n", " 4 END", 3, 0)),
])
def test_each_format_gives_the_papers_pairs_byte_for_byte(layout, cot, vanilla):
    assert training_jsonl([COT], layout) == cot
    assert training_jsonl([VANILLA], layout) == vanilla


@pytest.mark.parametrize("layout, expected", [
    ("decoder", [
        line(f"{Q0} ###", " Willa flips it once, so it is tails up. --> no END", 0, 0),
        line(f"{Q1} ###", " Edith flips it to tails, then Silas flips it back to heads. --> yes END", 1, 0),
        line(f"{Q3} ###", " Rafael flips it once: tails. --> no END", 3, 0),
    ]),
    ("openai", [
        line(f"{Q0}\\n\\n###\\n\\n", " Willa flips it once, so it is tails up.\\n\\n-->\\n\\nno END", 0, 0),
        line(f"{Q1}\\n\\n###\\n\\n",
             " Edith flips it to tails, then Silas flips it back to heads.\\n\\n-->\\n\\nyes END", 1, 0),
        line(f"{Q3}\\n\\n###\\n\\n", " Rafael flips it once: tails.\\n\\n-->\\n\\nno END", 3, 0),
    ]),
])
def test_cli_writes_the_correct_completion_zero_of_each_example(tmp_path, store_path, layout, expected):
    out = tmp_path / "pairs.jsonl"
    assert main(["--data-dir", str(tmp_path), "training-data", TASK, "--teacher", TEACHER, "--format", layout,
                 "--output", str(out), "--no-progress"]) == 0
    assert out.read_text(encoding="utf-8") == "".join(expected)


def test_degree_filters_and_vanilla(tmp_path, store_path, capsys):
    base = ["--data-dir", str(tmp_path), "training-data", TASK, "--no-progress"]
    assert main(base + ["--teacher", TEACHER, "-D", "3"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["sample_index"], r["completion_index"]) for r in rows] == [(0, 0), (0, 2), (1, 0), (2, 1), (2, 2),
                                                                         (3, 0), (3, 1)]
    assert main(base + ["--teacher", TEACHER, "--filters", "none"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5  # completion 0 of examples 0, 1, 2, 3 and 5
    assert main(base + ["--method", "fine-tune"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["sample_index"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert rows[1] == {"prompt": json.loads(f'"{Q1} ###"'), "completion": " yes END", "sample_index": 1,
                       "completion_index": 0}


@pytest.mark.parametrize("student, layout", [
    ("tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300", "decoder"),
    ("tiny-t5:layers=1,dim=32,heads=2,ffn=64,vocab=300", "encoder-decoder"),
])
def test_the_train_stage_trains_on_exactly_these_pairs(tmp_path, store_path, capsys, monkeypatch, student, layout):
    trained: list[list[tuple[str, str]]] = []
    real_train = HFStudentModel.train

    def recording_train(self, pairs, *args, **kwargs):
        trained.append(list(pairs))
        return real_train(self, pairs, *args, **kwargs)

    monkeypatch.setattr(HFStudentModel, "train", recording_train)
    spec = CellSpec(task=TASK, teacher=TEACHER, student=student, method="fine-tune-cot", degree=3,
                    training={"max_steps": 1, "batch_size": 4, "max_new_tokens": 4, "eval_batch_size": 4})
    inputs = prepare_cell(spec, Store(store_path), tmp_path, "paper", progress=False)
    execute_cell(inputs, tmp_path / "models", progress=False)
    assert main(["--data-dir", str(tmp_path), "training-data", TASK, "--teacher", TEACHER, "-D", "3",
                 "--format", layout, "--no-progress"]) == 0
    written = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert trained == [[(r["prompt"], r["completion"]) for r in written]]
    assert len(written) == 7


def test_output_never_replaces_the_store_or_a_database(tmp_path, store_path, capsys):
    base = ["--data-dir", str(tmp_path), "training-data", TASK, "--method", "fine-tune", "--no-progress"]
    assert main(base + ["--output", str(tmp_path / "p.jsonl")]) == 0  # creates the store too
    capsys.readouterr()
    assert main(base + ["--output", str(store_path)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert Store(store_path).artifacts("filter-report") == {}  # still the store, still readable
    other = tmp_path / "results.db"
    sqlite3.connect(other).execute("create table t (x)").connection.close()
    kept = other.read_bytes()
    assert main(base + ["--output", str(other)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SQLite database" in err and other.read_bytes() == kept


def test_fine_tune_cot_without_a_teacher_is_one_error_line(tmp_path, store_path, capsys):
    assert main(["--data-dir", str(tmp_path), "training-data", TASK]) == 1
    assert capsys.readouterr().err == (
        "error: fine-tune-cot pairs need a teacher: add --teacher SPEC, or --method fine-tune\n")
