"""One matrix cell, from teacher to accuracy: teacher -> filters -> formatting -> training -> evaluation.

A cell runs in three parts so that a distributed executor can move the middle one elsewhere:

- ``prepare_cell`` (driver, reads and writes the store): the task's examples, the teacher's
  completions (``teach``), the filters (``filter``); returns ``CellInputs``, plain picklable data.
- ``execute_cell`` (anywhere, never touches the store): loads the student, trains it (or reuses a
  model already trained under ``models_dir`` with the same student, training data,
  hyper-parameters and seed; a killed training resumes from its last epoch checkpoint) and
  evaluates it on the test split; returns ``CellOutputs``, plain picklable data.
- ``record_cell`` (driver): writes the predictions, the model artifact and the cell.

The worker also describes its student (``StudentModel.describe``: parameter count, dtype,
revision); the cell keeps it as ``extra["student_info"]``, so nothing on the driver reads model
folders.

``run_cell`` does the three in a row and returns a finished cell from the store at once.

Which epoch is reported (``report_epoch``):

- ``last``: the model after the last epoch (the default);
- ``best-on-val``: the epoch with the best accuracy on a validation slice held out from the
  training split (``VAL_FRACTION`` of it, at most ``VAL_MAX`` examples, the same slice for every
  seed); those examples are not trained on;
- ``best-on-test``: the epoch with the best *test* accuracy, as the paper reported its
  open-source students. It picks the epoch on the data it reports, so it is optimistic; every
  output that uses it says so (``REPORT_EPOCH_LABELS``).

For the best-on-* modes the saved model is the chosen epoch's, so they key their model
directory by the evaluation data and mode too; ``last`` shares one trained model between every
cell that trains the same thing.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcot import formatting as fmt
from ftcot.contracts.student import StudentModel, saved_student_info
from ftcot.contracts.task import Task
from ftcot.errors import UserError
from ftcot.fileio import read_json_or_none, write_json_atomic
from ftcot.pipeline.cell import (
    VAL_FRACTION,
    VAL_MAX,
    VAL_SEED,
    CellInputs,
    CellOutputs,
    CellSpec,
    EvalItem,
    Sample,
    cell_key,
    public_spec,
    train_config,
)
from ftcot.pipeline.evaluate import accuracy, eval_key, evaluate, rescore, status_line
from ftcot.pipeline.filter import create_filters, filter_completions
from ftcot.pipeline.record import record_cell
from ftcot.pipeline.scorer import Scorer
from ftcot.pipeline.teach import teach_cell
from ftcot.pipeline.texts import cell_texts, training_data_text
from ftcot.pipeline.train import Trainer, corpus_for, locked, model_dir_name, model_key
from ftcot.records import CellResult, Example
from ftcot.registry import create_student, create_task
from ftcot.store import Store


def load_task(spec_text: str, data_dir: Path | str | None) -> Task:
    """The task named by ``spec_text``, reading its data from ``data_dir``."""
    return create_task(spec_text, data_dir=data_dir)


def split_validation(train: list[Example]) -> tuple[list[Example], list[Example]]:
    """(training part, validation slice): the slice is the same for every seed."""
    if len(train) < 2:
        raise UserError("best-on-val needs at least 2 training examples to hold out a validation slice")
    size = max(1, min(VAL_MAX, round(len(train) * VAL_FRACTION)))
    chosen = set(random.Random(VAL_SEED).sample(range(len(train)), size))
    return (
        [e for i, e in enumerate(train) if i not in chosen],
        [e for i, e in enumerate(train) if i in chosen],
    )


@dataclass
class TrainingData:
    """What a cell trains on (before formatting), with the teacher and filter summaries."""

    samples: list[Sample]
    info: dict[str, Any] = field(default_factory=dict)
    teacher_s: float = 0.0


def training_samples(
    spec: CellSpec, task: Task, train: list[Example], store: Store, scoring: str, progress: bool = True
) -> TrainingData:
    """The samples of a trained method: the teacher's completions that pass the filters
    (Fine-tune-CoT; the filter report is stored under the cell's key) or the questions and
    answers (vanilla); none for the prompting baselines."""
    if spec.method == fmt.FINE_TUNE:
        if not train:
            raise UserError(f"task {task.key} has no training examples in split {spec.split!r} to fine-tune on")
        return TrainingData([Sample(e.sample_index, 0, e.question, e.answer) for e in train])
    if spec.method != fmt.FINE_TUNE_COT:
        return TrainingData([])
    if not train:
        raise UserError(f"task {task.key} has no training examples in split {spec.split!r} to distill")
    started = time.perf_counter()
    taught = teach_cell(spec, task, train, store, scoring, progress)
    completions = taught.completions
    teacher_s = time.perf_counter() - started
    result = filter_completions(spec, task, train, completions, scoring)
    by_index = {e.sample_index: e for e in train}
    samples = [
        Sample(c.sample_index, c.index, by_index[c.sample_index].question, by_index[c.sample_index].answer,
               c.rationale)
        for c in result.kept
    ]
    teacher = {
        "completions": len(completions),
        "correct": sum(1 for c in completions if c.correct),
        "failed": sum(1 for c in completions if c.failed),
        "cost_usd": round(sum(c.cost_usd for c in completions), 6),
        "temperature": spec.temperature,
        **taught.notes,  # e.g. replay: entries, outside, unmatched, short, unused
    }
    store.put_artifact("filter-report", cell_key(spec, scoring), result.to_dict())
    if not samples:
        raise UserError(
            f"no teacher completion of {task.key} survived the filters ({', '.join(spec.filters) or 'none'}); "
            f"see `ftcot filter-report {spec.task} --teacher {spec.teacher}`"
        )
    return TrainingData(samples, {"teacher": teacher, "filters": result.to_dict(with_drops=False)}, teacher_s)


def prepare_cell(
    spec: CellSpec, store: Store, data_dir: Path | str | None, scoring: str, progress: bool = True
) -> CellInputs:
    """Driver side: examples, teacher completions, filters. Writes the filter report artifact."""
    started = time.perf_counter()
    task = load_task(spec.task, data_dir)
    config = train_config(spec)
    student = create_student(spec.student)  # a misspelled student or filter fails before the teacher runs
    if spec.trains:
        student.check_config(config)
    if spec.uses_teacher:
        create_filters(spec.filters)
    train = task.train_examples(spec.split)
    test = task.test_examples(spec.split)
    if not test:
        raise UserError(f"task {task.key} has no test examples in split {spec.split!r}")
    val: list[Example] = []
    if spec.trains and spec.report_epoch == "best-on-val":
        train, val = split_validation(train)
    data = training_samples(spec, task, train, store, scoring, progress)
    exemplars = task.few_shot_prompt() if spec.method == fmt.FEW_SHOT_COT else ""
    texts = cell_texts(spec, train, test, exemplars)
    train_data = training_data_text(spec, data.samples)
    if train_data is not None:
        texts["train_data"] = train_data
    info: dict[str, Any] = {"task_key": task.key, **data.info, "texts": texts}
    return CellInputs(
        key=cell_key(spec, scoring),
        spec=public_spec(spec),
        scoring=scoring,
        task_key=task.key,
        student=spec.student,
        method=spec.method,
        seed=spec.seed,
        config=config.to_dict(),
        report_epoch=spec.report_epoch if spec.trains else "last",
        samples=data.samples,
        test=[EvalItem(e.sample_index, e.question, e.answer) for e in test],
        val=[EvalItem(e.sample_index, e.question, e.answer) for e in val],
        exemplars=exemplars,
        scorer=Scorer(task, scoring),
        timing={"prepare_s": round(time.perf_counter() - started, 3), "teacher_s": round(data.teacher_s, 3)},
        info=info,
    )


def execute_cell(inputs: CellInputs, models_dir: Path, progress: bool = True) -> CellOutputs:
    """Worker side: train (or reuse a trained model under ``models_dir``) and evaluate. No store."""
    started = time.perf_counter()
    timing = dict(inputs.timing)
    outputs = CellOutputs(
        key=inputs.key, spec=inputs.spec, scoring=inputs.scoring, task_key=inputs.task_key,
        method=inputs.method, predictions=[], accuracy=0.0, n=0, train_samples=len(inputs.samples),
        report_epoch=inputs.report_epoch, info=dict(inputs.info),
    )
    student = create_student(inputs.student)
    model = None
    if inputs.method in fmt.TRAINED_METHODS:
        key = model_key(inputs, student.key)
        directory = Path(models_dir) / model_dir_name(student.key, key)
        with locked(directory.with_name(directory.name + ".lock")):
            directory.mkdir(parents=True, exist_ok=True)
            trainer = Trainer(inputs, directory)
            outputs.reused_model = trainer.complete
            if not trainer.complete:
                model = trainer.train(inputs.student, progress)
            timing["train_s"] = 0.0 if outputs.reused_model else trainer.state["train_s"]
            state = trainer.state
            outputs.model_key, outputs.model_path = key, str(directory / trainer.model_subdir())
            outputs.history = state["history"]
            if inputs.report_epoch == "last":
                epochs = [h["epoch"] for h in state["history"]]
                outputs.epoch = max(epochs) if epochs else None
            else:
                best = state["best"] or {}
                outputs.epoch = best.get("epoch")
                outputs.predictions = list(best.get("test") or [])
            if not outputs.predictions:
                cache = directory / "evals" / f"{eval_key(inputs)[:24]}.json"
                cached = read_json_or_none(cache)
                if cached is not None:  # the texts are kept; answers are read again with today's rules
                    outputs.predictions = rescore(cached, inputs)
                else:
                    eval_started = time.perf_counter()
                    if model is None:
                        model = StudentModel.load_saved(directory / trainer.model_subdir())
                    with status_line(progress, f"evaluating on {len(inputs.test)} test questions"):
                        outputs.predictions = evaluate(model, inputs, inputs.test)
                    cache.parent.mkdir(exist_ok=True)
                    write_json_atomic(cache, [{"sample_index": p["sample_index"], "text": p["text"]}
                                        for p in outputs.predictions])
                    timing["eval_s"] = round(time.perf_counter() - eval_started, 3)
            outputs.info["student_info"] = (model.describe() if model is not None
                                            else saved_student_info(directory / trainer.model_subdir()))
            if model is not None and model.spent():
                outputs.info["student_cost"] = model.spent()
    else:
        eval_started = time.perf_counter()
        # a base model: tiny students build their tokenizer from the prompts' own text
        corpus = corpus_for([], inputs.method, [inputs.exemplars, *(i.question for i in inputs.test)])
        model = student.load(corpus, inputs.seed)
        with status_line(progress, f"{inputs.method}: answering {len(inputs.test)} test questions"):
            outputs.predictions = evaluate(model, inputs, inputs.test)
        outputs.info["student_info"] = model.describe()
        if model.spent():
            outputs.info["student_cost"] = model.spent()
        timing["eval_s"] = round(time.perf_counter() - eval_started, 3)
    outputs.n = len(outputs.predictions)
    outputs.accuracy = accuracy(outputs.predictions)
    timing["execute_s"] = round(time.perf_counter() - started, 3)
    outputs.timing = timing
    return outputs


def run_cell(
    spec: CellSpec, store: Store, data_dir: Path | str | None, scoring: str, progress: bool = True
) -> CellResult:
    """Prepare, execute and record one cell; a cell already done is returned from the store."""
    done = store.get_cell(cell_key(spec, scoring))
    if done is not None and done.status == "done":
        return done
    inputs = prepare_cell(spec, store, data_dir, scoring, progress=progress)
    outputs = execute_cell(inputs, models_dir(store), progress=progress)
    return record_cell(spec, outputs, store, scoring)


def models_dir(store: Store) -> Path:
    """Where trained students live: beside the store file."""
    return store.directory / "models"
