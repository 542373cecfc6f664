"""Portable results: what a cell records about its student, and ``ftcot export``'s results JSON
and per-sample JSONL (schema, round trip to the same accuracy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftcot.cli import main
from ftcot.export import RESULTS_SCHEMA, SAMPLE_SCHEMA, rationale_of, read_export
from ftcot.pipeline import CellSpec, cell_key, load_task, run_cell
from ftcot.pipeline.scorer import Scorer
from ftcot.store import Store

jsonschema = pytest.importorskip("jsonschema")

TASK = "tracking_shuffled_objects:objects=3,swaps=2,train=24,test=6"
STUDENT = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"
QUICK = {"max_steps": 3, "batch_size": 8, "max_new_tokens": 24, "eval_batch_size": 8}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, CellSpec]]:
    folder = tmp_path_factory.mktemp("export")
    store = Store(folder / "ftcot.db")
    specs = {method: CellSpec(task=TASK, teacher="oracle", student=STUDENT, method=method, training=dict(QUICK))
             for method in ("fine-tune-cot", "zero-shot")}
    for spec in specs.values():
        assert run_cell(spec, store, None, "paper", progress=False).status == "done"
    store.close()
    return folder / "ftcot.db", specs


def test_cells_record_the_students_parameters_dtype_and_revision(finished):
    path, specs = finished
    store = Store(path)
    for spec in specs.values():
        info = store.get_cell(cell_key(spec, "paper")).extra["student_info"]
        assert info["dtype"] == "float32" and info["revision"] is None  # built from a config: no hub commit
        assert 40_000 < info["parameters"] < 60_000
    trained = store.get_cell(cell_key(specs["fine-tune-cot"], "paper"))
    from ftcot.contracts.student import StudentModel

    saved = StudentModel.load_saved(Path(trained.model_path))
    assert trained.extra["student_info"]["parameters"] == saved.parameter_count
    from ftcot.leaderboard import build

    board = build([trained])
    assert board.parameters == {STUDENT: trained.extra["student_info"]["parameters"]}
    # a cell that reuses the trained model reads the same facts from the model's metadata
    again = run_cell(specs["fine-tune-cot"], store, None, "strict", progress=False)
    assert again.extra["reused_model"] and again.extra["student_info"] == trained.extra["student_info"]
    store.close()


def test_export_writes_schema_valid_files_that_round_trip_to_the_cells_accuracy(finished, tmp_path: Path):
    path, specs = finished
    assert main(["--store", str(path), "export", "--output", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "results.json").read_text())
    assert len(summary["cells"]) == 2
    store = Store(path)
    task = load_task(TASK, None)
    scorer = Scorer(task, "paper")
    gold = {e.sample_index: e for e in task.test_examples("default")}
    for entry in summary["cells"]:
        folder = tmp_path / Path(entry["samples"]).parent
        results, samples = read_export(folder)
        jsonschema.validate(results, RESULTS_SCHEMA)
        for sample in samples:
            jsonschema.validate(sample, SAMPLE_SCHEMA)
        cell = store.get_cell(results["cell_key"])
        assert results["metrics"]["accuracy"] == cell.accuracy and results["metrics"]["n"] == cell.n == 6
        assert results["config"]["method"] == cell.method and results["student"] == cell.extra["student_info"]
        assert [s["doc_id"] for s in samples] == sorted(gold)
        # the samples alone give the accuracy again: re-score each output against its gold answer
        mode = {"fine-tune-cot": "ft-cot", "zero-shot": "direct"}[cell.method]
        rescored = [scorer.score(s["output"], mode, s["gold"])[1] for s in samples]
        assert sum(rescored) / len(rescored) == cell.accuracy
        assert all(s["question"] == gold[s["doc_id"]].question for s in samples)
        assert len({s["doc_hash"] for s in samples}) == len(samples)
        if cell.method == "zero-shot":
            assert all(s["rationale"] is None for s in samples)
    store.close()


def test_a_tampered_export_fails_its_round_trip(finished, tmp_path: Path):
    path, _ = finished
    assert main(["--store", str(path), "export", "--output", str(tmp_path), "--only", "method=zero-shot"]) == 0
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir() and p.name != "ftcot-state"]  # the state: what ftcot wrote
    lines = (folder / "samples.jsonl").read_text().splitlines()
    (folder / "samples.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    from ftcot.errors import UserError

    with pytest.raises(UserError, match="do not match"):
        read_export(folder)


def test_rationales_are_split_from_outputs_by_method():
    assert rationale_of("fine-tune-cot", " A has b. --> b") == "A has b."
    assert rationale_of("zero-shot-cot", "so 3.\nTherefore, the answer is 3") == "so 3."
    assert rationale_of("fine-tune", " b") is None


def test_exporting_an_empty_store_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--store", str(tmp_path / "empty.db"), "export", "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no finished cells")
