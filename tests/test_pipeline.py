"""The distillation pipeline end to end on tiny students: every method, model reuse, the
reported epoch, store-free execution, filters inside a cell."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ftcot.errors import UserError
from ftcot.pipeline import (
    CellSpec,
    cell_key,
    execute_cell,
    models_dir,
    prepare_cell,
    record_cell,
    run_cell,
    training_pairs,
)
from ftcot.store import Store

TASK = "tracking_shuffled_objects:objects=3,swaps=2,train=24,test=6"
STUDENTS = {
    "tiny-gpt2": "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300",
    "tiny-t5": "tiny-t5:layers=1,dim=32,heads=2,ffn=64,vocab=300",
}
QUICK = {"max_steps": 3, "batch_size": 8, "max_new_tokens": 24, "eval_batch_size": 8}
METHODS = ("fine-tune-cot", "fine-tune", "zero-shot", "zero-shot-cot", "few-shot-cot")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("pipeline") / "ftcot.db")
    yield store
    store.close()


def spec(method: str, student: str = STUDENTS["tiny-gpt2"], **changes) -> CellSpec:
    fields = dict(task=TASK, teacher="oracle", student=student, method=method, training=dict(QUICK))
    fields.update(changes)
    return CellSpec(**fields)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", sorted(STUDENTS))
def test_every_method_runs_end_to_end(shared_store: Store, family: str, method: str):
    cell_spec = spec(method, STUDENTS[family])
    cell = run_cell(cell_spec, shared_store, None, "paper", progress=False)
    assert cell.status == "done" and cell.n == 6 and cell.method == method
    predictions = shared_store.predictions(cell_key(cell_spec, "paper"))
    assert [p.sample_index for p in predictions] == list(range(24, 30))
    assert cell.accuracy == pytest.approx(sum(p.correct for p in predictions) / 6)
    assert all(p.method == method and p.student == cell_spec.student for p in predictions)
    assert cell.extra["timing"]["execute_s"] > 0
    if method in ("fine-tune-cot", "fine-tune"):
        assert cell.train_samples == 24  # the oracle is always right: nothing filtered out
        assert cell.epoch == max(h["epoch"] for h in cell.extra["history"])
        from ftcot.contracts.student import StudentModel

        saved = StudentModel.load_saved(Path(cell.model_path))
        assert saved.is_encoder_decoder == (family == "tiny-t5")
        assert shared_store.artifacts("model")
    else:
        assert cell.train_samples == 0 and cell.model_path is None and cell.epoch is None
    # a finished cell comes back from the store as it is
    assert run_cell(cell_spec, shared_store, None, "paper", progress=False) == cell


def test_training_pairs_are_the_paper_format(shared_store: Store):
    inputs = prepare_cell(spec("fine-tune-cot"), shared_store, None, "paper", progress=False)
    from ftcot.registry import create_task

    task = create_task(TASK, data_dir=None)
    first = task.train_examples()[0]
    sample = inputs.samples[0]
    rationale = task.oracle_rationales(first)[0]
    assert sample.rationale.strip() == rationale  # the teacher's text, stripped when formatted
    (decoder_pair,) = training_pairs([sample], "decoder")
    assert decoder_pair == (f"{first.question} ###", f" {rationale} --> {first.answer} END")
    (seq2seq_pair,) = training_pairs([sample], "encoder-decoder")
    assert seq2seq_pair == (first.question, f"{rationale} --> {first.answer}")
    vanilla = prepare_cell(spec("fine-tune"), shared_store, None, "paper", progress=False)
    assert training_pairs(vanilla.samples[:1], "decoder") == [(f"{first.question} ###", f" {first.answer} END")]


def test_execute_cell_needs_no_store_and_its_data_pickles(tmp_path: Path):
    store = Store(tmp_path / "a" / "ftcot.db")
    cell_spec = spec("fine-tune")
    inputs = pickle.loads(pickle.dumps(prepare_cell(cell_spec, store, None, "paper", progress=False)))
    store.close()  # a worker has no store
    outputs = pickle.loads(pickle.dumps(execute_cell(inputs, tmp_path / "worker-models", progress=False)))
    assert Path(outputs.model_path).is_relative_to(tmp_path / "worker-models")
    assert outputs.n == 6 and not outputs.reused_model
    store = Store(tmp_path / "a" / "ftcot.db")
    cell = record_cell(cell_spec, outputs, store, "paper")
    assert store.get_cell(cell_key(cell_spec, "paper")) == cell
    assert len(store.predictions(cell_key(cell_spec, "paper"))) == 6


def test_the_same_training_is_reused_across_cells(tmp_path: Path):
    store = Store(tmp_path / "ftcot.db")
    first = run_cell(spec("fine-tune", teacher="a"), store, None, "paper", progress=False)
    second = run_cell(spec("fine-tune", teacher="b"), store, None, "paper", progress=False)
    assert first.extra["reused_model"] is False and second.extra["reused_model"] is True
    assert second.model_path == first.model_path and second.extra["timing"]["train_s"] == 0
    assert second.accuracy == first.accuracy
    texts = [p.text for p in store.predictions(cell_key(spec("fine-tune", teacher="b"), "paper"))]
    assert texts == [p.text for p in store.predictions(cell_key(spec("fine-tune", teacher="a"), "paper"))]
    retrained = run_cell(spec("fine-tune", seed=1), store, None, "paper", progress=False)
    assert retrained.extra["reused_model"] is False and retrained.model_path != first.model_path
    assert len(list(models_dir(store).glob("*/state.json"))) == 2


@pytest.mark.parametrize("mode", ["best-on-test", "best-on-val"])
def test_reported_epoch_is_the_best_one_and_labelled(tmp_path: Path, mode: str):
    store = Store(tmp_path / "ftcot.db")
    training = {"epochs": 3, "batch_size": 8, "max_new_tokens": 24, "eval_batch_size": 8}
    cell = run_cell(spec("fine-tune", training=training, report_epoch=mode), store, None, "paper", progress=False)
    history = cell.extra["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    chooser = "val_accuracy" if mode == "best-on-val" else "test_accuracy"
    best = max(history, key=lambda h: h[chooser])  # the first of equals
    assert cell.epoch == best["epoch"] and cell.report_epoch == mode
    assert cell.accuracy == pytest.approx(best["test_accuracy"])
    if mode == "best-on-test":
        assert "TEST" in cell.extra["report_epoch_label"]
    else:
        assert cell.train_samples == 22  # 2 of the 24 training examples are the validation slice
        assert "validation" in cell.extra["report_epoch_label"]
    assert Path(cell.model_path).name == f"best-epoch-{cell.epoch}"


def test_filters_run_inside_the_cell_with_provenance(tmp_path: Path):
    store = Store(tmp_path / "ftcot.db")
    diverse = spec("fine-tune-cot", degree=3, teacher_options={"temperature": 0.7}, filters=("correct", "dedupe"))
    inputs = prepare_cell(diverse, store, None, "paper", progress=False)
    report = store.get_artifact("filter-report", cell_key(diverse, "paper"))
    assert report["completions"] == 72
    assert [s["filter"] for s in report["steps"]] == ["failed", "correct", "dedupe"]
    assert report["kept"] == len(inputs.samples) and report["kept"] + report["dropped"] == 72
    assert all(d["filter"] == "dedupe" and "same rationale" in d["reason"] for d in report["drops"])
    assert len({(s.sample_index, s.rationale) for s in inputs.samples}) == len(inputs.samples)

    too_short = spec("fine-tune-cot", filters=("correct", "max-tokens:5"))
    with pytest.raises(UserError, match="survived the filters"):
        prepare_cell(too_short, store, None, "paper", progress=False)
    report = store.get_artifact("filter-report", cell_key(too_short, "paper"))
    assert {d["filter"] for d in report["drops"]} == {"max-tokens:5"} and report["kept"] == 0
