"""The train stage: the student's training text and pairs, the trained model's identity and
directory, and ``Trainer``, which trains one model directory with per-epoch history (and, for
the best-on-* report modes, keeps the best epoch's model)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftcot import formatting as fmt
from ftcot.contracts.student import StudentModel, TrainConfig
from ftcot.errors import UserError
from ftcot.fileio import read_json_or_none, write_json_atomic
from ftcot.pipeline.cell import PIPELINE_VERSION, CellInputs, Sample
from ftcot.pipeline.evaluate import accuracy, evaluate
from ftcot.registry import create_student
from ftcot.store import content_key

HOLD_ENV = "FTCOT_HOLD_AFTER_EPOCH"


def hold_after(epoch: int) -> None:
    """A hook for tests of resuming: with ``FTCOT_HOLD_AFTER_EPOCH=N`` the run waits, once epoch N
    is wholly done (trained, checkpointed, recorded), until it is killed; a test then synchronises
    on that recorded state, not on how fast the machine trains."""
    if os.environ.get(HOLD_ENV) == str(epoch):
        threading.Event().wait()


_MODEL_DIR_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CORPUS_MARKERS = " ".join((
    "Q: A: ### --> END question:", fmt.ZS_COT_TRIGGER + fmt.ZS_COT_ANSWER_TRIGGER, "The answer is",
))


def corpus_for(samples: list[Sample], method: str, extra: list[str] | None = None) -> list[str]:
    """The run's own text, on which tiny students train their tokenizer (decoder-formatted, so
    every piece of either architecture's format appears in it)."""
    texts = [_CORPUS_MARKERS]
    texts.extend(prompt + target for prompt, target in training_pairs(samples, fmt.DECODER))
    texts.extend(extra or [])
    return texts


def training_pairs(samples: list[Sample], layout: str) -> list[tuple[str, str]]:
    """(input, target) of every sample in ``layout`` (``formatting.PAIR_LAYOUTS``): what a
    student trains on, and what ``ftcot training-data`` writes."""
    pairs = []
    for s in samples:
        pair = fmt.training_pair(s.question, s.rationale, s.answer, layout)
        pairs.append((pair.input, pair.target))
    return pairs


def training_records(samples: list[Sample], layout: str) -> list[dict[str, Any]]:
    """The training pairs as ``{"prompt", "completion", "sample_index", "completion_index"}``."""
    return [
        {"prompt": prompt, "completion": completion, "sample_index": s.sample_index,
         "completion_index": s.completion_index}
        for s, (prompt, completion) in zip(samples, training_pairs(samples, layout))
    ]


def training_jsonl(samples: list[Sample], layout: str) -> str:
    """The training pairs as JSON lines: the file ``training-data`` writes and an API fine-tuning
    service takes."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in training_records(samples, layout))


def model_key(inputs: CellInputs, student_key: str) -> str:
    """(student, training data, hyper-parameters, seed), plus the evaluation data for best-on-*."""
    hyper = TrainConfig.from_dict(inputs.config).training_dict()
    data = content_key([dataclasses.astuple(s) for s in inputs.samples])
    parts: list[Any] = ["model", PIPELINE_VERSION, student_key, inputs.method, data, hyper, inputs.seed]
    if inputs.report_epoch != "last":
        selection = inputs.val if inputs.report_epoch == "best-on-val" else inputs.test
        parts += [inputs.report_epoch, [dataclasses.astuple(e) for e in selection], inputs.scoring,
                  inputs.config.get("max_new_tokens")]
    return content_key(*parts)


def model_dir_name(student_key: str, key: str) -> str:
    return f"{_MODEL_DIR_SAFE.sub('_', student_key).strip('_')[:60]}-{key[:16]}"


def load_student(student_spec: str, corpus: list[str], seed: int) -> StudentModel:
    """The student named by ``student_spec``, built for this run's text and seed."""
    return create_student(student_spec).load(corpus, seed)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (two cells sharing one training wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # not POSIX: no cross-process lock
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Trainer:
    """Trains one model directory, keeping per-epoch history and (for best-on-*) the best epoch."""

    def __init__(self, inputs: CellInputs, directory: Path):
        self.inputs = inputs
        self.dir = directory
        self.state_path = directory / "state.json"
        state = read_json_or_none(self.state_path) or {}
        self.state: dict[str, Any] = {
            "complete": bool(state.get("complete")),
            "history": list(state.get("history", [])),
            "best": state.get("best"),  # {"epoch", "accuracy", "model", "test"} for best-on-*
            "train_s": float(state.get("train_s", 0.0)),
        }

    @property
    def complete(self) -> bool:
        return self.state["complete"] and (self.dir / self.model_subdir()).is_dir()

    def model_subdir(self) -> str:
        if self.inputs.report_epoch == "last":
            return "model"
        best = self.state.get("best") or {}
        return best.get("model", "model")

    def save_state(self) -> None:
        write_json_atomic(self.state_path, self.state)

    def on_epoch(self, epoch: int, model: StudentModel) -> None:
        hold_after(epoch - 1)  # the previous epoch is wholly done: trained, saved, recorded
        entry: dict[str, Any] = {"epoch": epoch, "finished_at": round(time.time(), 3)}
        mode = self.inputs.report_epoch
        if mode != "last":
            test = evaluate(model, self.inputs, self.inputs.test)
            entry["test_accuracy"] = accuracy(test)
            if mode == "best-on-val":
                entry["val_accuracy"] = accuracy(evaluate(model, self.inputs, self.inputs.val))
            score = entry["val_accuracy" if mode == "best-on-val" else "test_accuracy"]
            best = self.state.get("best")
            if best is None or score > best["accuracy"]:
                name = f"best-epoch-{epoch}"
                target = self.dir / name
                if target.exists():
                    shutil.rmtree(target)
                model.save(target)
                old = best["model"] if best else None
                self.state["best"] = {"epoch": epoch, "accuracy": score, "model": name, "test": test}
                self.state["history"] = [h for h in self.state["history"] if h["epoch"] < epoch] + [entry]
                self.save_state()
                if old and old != name:
                    shutil.rmtree(self.dir / old, ignore_errors=True)
                return
        self.state["history"] = [h for h in self.state["history"] if h["epoch"] < epoch] + [entry]
        self.save_state()

    def train(self, student_spec: str, progress: bool) -> Any:
        inputs = self.inputs
        config = TrainConfig.from_dict(inputs.config)
        if config.data_parallel > 1 and inputs.report_epoch != "last":
            raise UserError(f"data_parallel = {config.data_parallel} reports the last epoch only; "
                            f"use report_epoch last or one process")
        started = time.perf_counter()
        model = load_student(student_spec, corpus_for(inputs.samples, inputs.method), inputs.seed)
        layout = fmt.OPENAI if model.text_format == fmt.OPENAI else fmt.layout_for(bool(model.is_encoder_decoder))
        pairs = training_pairs(inputs.samples, layout)
        model.train(pairs, config, self.dir / "checkpoints", inputs.seed,
                    on_epoch=self.on_epoch, progress=progress)
        if inputs.report_epoch == "last":
            target = self.dir / "model"
            if target.exists():
                shutil.rmtree(target)
            model.save(target)
        self.state["complete"] = True
        self.state["train_s"] = round(self.state["train_s"] + time.perf_counter() - started, 3)
        self.save_state()
        if inputs.report_epoch == "last":
            return model
        return None  # the best epoch's model is on disk
