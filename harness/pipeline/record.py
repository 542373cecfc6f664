"""The record stage (driver side): write a cell's predictions, its model artifact and the cell."""

from __future__ import annotations

from ftcot.pipeline.cell import (
    REPORT_EPOCH_LABELS,
    CellOutputs,
    CellSpec,
    cell_key,
    public_spec,
    public_student,
)
from ftcot.records import CellResult, Prediction
from ftcot.secrets import Redactor
from ftcot.store import Store


def record_cell(spec: CellSpec, outputs: CellOutputs, store: Store, scoring: str) -> CellResult:
    """Write the predictions, the model artifact and the cell; returns the cell."""
    student = public_student(spec.student)
    predictions = [
        Prediction(task=spec.task, sample_index=a.sample_index, student=student, method=spec.method,
                   text=a.text, prediction=a.prediction, correct=a.correct, scoring=scoring)
        for a in outputs.predictions
    ]
    store.put_predictions(outputs.key, predictions)
    if outputs.model_key:
        store.put_artifact("model", outputs.model_key, {
            "path": outputs.model_path, "student": student, "method": spec.method, "seed": spec.seed,
            "task": outputs.task_key, "train_samples": outputs.train_samples, "history": outputs.history,
            "report_epoch": outputs.report_epoch, "epoch": outputs.epoch,
        })
    timing = dict(outputs.timing)
    duration = sum(v for k, v in timing.items() if k in ("prepare_s", "execute_s"))
    extra = {
        "task_key": outputs.task_key,
        "report_epoch_label": REPORT_EPOCH_LABELS[outputs.report_epoch],
        "timing": timing,
        "reused_model": outputs.reused_model,
        "history": outputs.history,
        "spec": outputs.spec,
    }
    extra.update({k: v for k, v in outputs.info.items() if k != "task_key"})
    cell = CellResult(
        task=spec.task, teacher=spec.teacher, student=student, method=spec.method,
        degree=spec.degree, seed=spec.seed, accuracy=outputs.accuracy, n=outputs.n,
        train_samples=outputs.train_samples, scoring=scoring, status="done", model_path=outputs.model_path,
        epoch=outputs.epoch, report_epoch=outputs.report_epoch, duration_s=round(duration, 3), extra=extra,
    )
    store.put_cell(outputs.key, cell)
    return cell


def record_failure(spec: CellSpec, store: Store, scoring: str, error: str, duration_s: float = 0.0) -> CellResult:
    """Record a failed cell with its error (a later run retries it)."""
    cell = CellResult(
        task=spec.task, teacher=spec.teacher, student=public_student(spec.student), method=spec.method,
        degree=spec.degree, seed=spec.seed, scoring=scoring, status="failed", error=Redactor()(error),
        report_epoch=spec.report_epoch, duration_s=round(duration_s, 3), extra={"spec": public_spec(spec)},
    )
    store.put_cell(cell_key(spec, scoring), cell)
    return cell
