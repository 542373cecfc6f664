"""One matrix cell, from teacher to accuracy: teacher -> filters -> formatting -> training -> evaluation.

A cell runs in three parts so that a distributed executor can move the middle one elsewhere:

- ``prepare_cell`` (driver, reads and writes the store): the task's examples, the teacher's
  completions (``teachers.teach``), the filters; returns ``CellInputs``, plain picklable data.
- ``execute_cell`` (anywhere, never touches the store): loads the student, trains it (or reuses a
  model already trained under ``models_dir`` with the same student, training data,
  hyper-parameters and seed; a killed training resumes from its last epoch checkpoint) and
  evaluates it on the test split; returns ``CellOutputs``, plain picklable data.
- ``record_cell`` (driver): writes the predictions, the model artifact and the cell.

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

import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import formatting as fmt
from harness.errors import UserError
from harness.records import CellResult, Completion, Example, Prediction
from harness.store import Store, content_key

PIPELINE_VERSION = 1
REPORT_EPOCHS = ("last", "best-on-test", "best-on-val")
REPORT_EPOCH_LABELS = {
    "last": "last epoch",
    "best-on-val": "best epoch on a validation slice of the training split",
    "best-on-test": "best epoch on the TEST set (the paper's protocol; optimistic)",
}
VAL_FRACTION = 0.1
VAL_MAX = 500
VAL_SEED = 0
DEFAULT_DIVERSE_TEMPERATURE = 0.7  # the paper's sampling temperature for D > 1
# baselines prompt a base model: cap their generation like the teacher's two steps
BASELINE_MAX_NEW_TOKENS = {"zero-shot": 32, "zero-shot-cot": 128, "zero-shot-cot-answer": 32, "few-shot-cot": 256}
# teacher options that change how completions are fetched, not what they are
OPERATIONAL_TEACHER_OPTIONS = frozenset(
    {"concurrency", "timeout", "max_tries", "backoff", "max_cost", "progress", "api_key", "api_base"}
)
_SECRET = re.compile(r"key|token|secret|password", re.IGNORECASE)
_MODEL_DIR_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


# -- the cell -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    """Everything that names one cell of a matrix; JSON round-trippable."""

    task: str
    teacher: str
    student: str
    method: str
    degree: int = 1
    seed: int = 0
    training: dict = field(default_factory=dict)  # TrainConfig overrides
    teacher_options: dict = field(default_factory=dict)  # temperature, concurrency, ...
    filters: tuple[str, ...] = ("correct",)
    report_epoch: str = "last"
    split: str = "default"

    def __post_init__(self) -> None:
        fmt.check_method(self.method)
        if self.report_epoch not in REPORT_EPOCHS:
            raise UserError(f"unknown report epoch {self.report_epoch!r}; choose one of {', '.join(REPORT_EPOCHS)}")
        if int(self.degree) < 1:
            raise UserError(f"degree must be >= 1, got {self.degree}")
        object.__setattr__(self, "degree", int(self.degree))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "training", dict(self.training or {}))
        object.__setattr__(self, "teacher_options", dict(self.teacher_options or {}))
        filters = (self.filters,) if isinstance(self.filters, str) else tuple(self.filters or ())
        object.__setattr__(self, "filters", filters)

    def __hash__(self) -> int:  # the dict fields are not hashable; hash their JSON
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["filters"] = list(self.filters)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise UserError(f"unknown cell field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
        return cls(**data)

    @property
    def uses_teacher(self) -> bool:
        return self.method == fmt.FINE_TUNE_COT

    @property
    def trains(self) -> bool:
        return self.method in fmt.TRAINED_METHODS

    @property
    def temperature(self) -> float:
        default = 0.0 if self.degree == 1 else DEFAULT_DIVERSE_TEMPERATURE
        return float(self.teacher_options.get("temperature", default))


def train_config(spec: CellSpec):
    """The cell's ``TrainConfig``: the paper's defaults with ``spec.training`` on top."""
    from students.base import TrainConfig

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(spec.training) - known)
    if unknown:
        raise UserError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return TrainConfig(**spec.training)
    except TypeError as exc:
        raise UserError(f"bad training settings {spec.training}: {exc}") from None


def public_teacher_options(options: dict[str, Any]) -> dict[str, Any]:
    """Teacher options without anything that looks like a credential (never stored)."""
    return {k: v for k, v in options.items() if not _SECRET.search(k)}


def cell_key(spec: CellSpec, scoring: str) -> str:
    """Content hash of what determines the cell's result: the spec (teacher options that only
    change how completions are fetched left out), the scoring rule set and the pipeline version."""
    data = spec.to_dict()
    data["teacher_options"] = {
        k: v for k, v in spec.teacher_options.items()
        if k not in OPERATIONAL_TEACHER_OPTIONS and not _SECRET.search(k)
    }
    return content_key("cell", PIPELINE_VERSION, data, scoring)


# -- plain data passed between the parts ----------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One training example as the student will see it, before formatting."""

    sample_index: int
    completion_index: int
    question: str
    answer: str
    rationale: str | None = None  # None for vanilla fine-tuning


@dataclass(frozen=True)
class EvalItem:
    sample_index: int
    question: str
    gold: str


@dataclass
class Scorer:
    """Reads answers out of student outputs with the task's rules; picklable.

    Carries the task's ``AnswerFormat`` when the task uses the shared rules, else the task
    object itself (a plugin that overrides ``extract`` or ``is_correct``)."""

    scoring: str
    answer_format: Any = None
    task: Any = None

    @classmethod
    def for_task(cls, task: Any, scoring: str) -> Scorer:
        from tasks.base import Task

        shared = (
            type(task).extract is Task.extract and type(task).is_correct is Task.is_correct
            and getattr(task, "answer_format", None) is not None
        )
        return cls(scoring, task.answer_format, None) if shared else cls(scoring, None, task)

    def score(self, text: str, mode: str, gold: str) -> tuple[str | None, bool]:
        if self.task is not None:
            prediction = self.task.extract(text, mode, self.scoring)
            return prediction, bool(self.task.is_correct(prediction, gold, self.scoring))
        from harness import scoring as rules

        prediction = rules.extract(text, self.answer_format, mode, self.scoring)
        return prediction, rules.is_correct(prediction, gold, self.answer_format, self.scoring)


@dataclass
class CellInputs:
    """What ``execute_cell`` needs: no store, no task files."""

    key: str
    spec: dict[str, Any]
    scoring: str
    task_key: str
    student: str
    method: str
    seed: int
    config: dict[str, Any]
    report_epoch: str
    samples: list[Sample]
    test: list[EvalItem]
    val: list[EvalItem]
    exemplars: str
    scorer: Scorer
    timing: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # teacher and filter summaries, for the record


@dataclass
class CellOutputs:
    """What ``execute_cell`` returns to the driver."""

    key: str
    spec: dict[str, Any]
    scoring: str
    task_key: str
    method: str
    predictions: list[dict[str, Any]]
    accuracy: float
    n: int
    train_samples: int
    report_epoch: str
    epoch: int | None = None
    model_key: str | None = None
    model_path: str | None = None
    reused_model: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


# -- driver side: teacher, filters ----------------------------------------------------------


def load_task(spec_text: str, data_dir: Path | str | None) -> Any:
    from harness.plugins import create

    return create("task", spec_text, data_dir=data_dir)


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


def teach_examples(
    spec: CellSpec, task: Any, examples: list[Example], store: Store, scoring: str, progress: bool = True
) -> list[Completion]:
    """The teacher's completions for ``examples`` (through the store: nothing asked twice)."""
    from teachers.teach import teach

    options = {k: v for k, v in spec.teacher_options.items() if k != "temperature"}
    result = teach(
        store, task, spec.teacher, examples, degree=spec.degree, temperature=spec.temperature,
        scoring=scoring, options=options, progress=progress,
    )
    if result.missing:
        why = f" ({result.stopped})" if result.stopped else ""
        raise UserError(
            f"the teacher stopped{why} with {result.missing} of {len(examples) * spec.degree} completions "
            f"of {task.key} not asked; raise the limit (e.g. --max-cost) and run again: stored ones are reused"
        )
    return list(result.completions)


def filter_completions(
    spec: CellSpec, task: Any, examples: list[Example], completions: list[Completion], scoring: str
):
    """Run the cell's filters. ``max-tokens`` counts tokens of the student built on every
    completion's text; a tiny student then trains its tokenizer on the kept ones only, so its
    counts may differ by a few tokens from the ones the filter saw."""
    from plugins.filters import FilterContext, apply_filters, create_filters, needs_tokens

    filters = create_filters(spec.filters)
    context = FilterContext(task=task, examples={e.sample_index: e for e in examples}, scoring=scoring)
    if needs_tokens(filters):
        by_index = context.examples
        texts = [
            Sample(c.sample_index, c.index, by_index[c.sample_index].question,
                   by_index[c.sample_index].answer, c.rationale)
            for c in completions if c.sample_index in by_index and not c.failed
        ]
        context.count_tokens = _load_student(spec.student, corpus_for(texts, spec.method), spec.seed).count_tokens
    return apply_filters(sorted(completions, key=lambda c: (c.sample_index, c.index)), filters, context)


def prepare_cell(
    spec: CellSpec, store: Store, data_dir: Path | str | None, scoring: str, progress: bool = True
) -> CellInputs:
    """Driver side: examples, teacher completions, filters. Writes the filter report artifact."""
    from harness.plugins import create
    from plugins.filters import create_filters

    started = time.perf_counter()
    task = load_task(spec.task, data_dir)
    config = train_config(spec)
    create("student", spec.student)  # a misspelled student or filter fails before the teacher runs
    if spec.uses_teacher:
        create_filters(spec.filters)
    train = task.train_examples(spec.split)
    test = task.test_examples(spec.split)
    if not test:
        raise UserError(f"task {task.key} has no test examples in split {spec.split!r}")
    val: list[Example] = []
    if spec.trains and spec.report_epoch == "best-on-val":
        train, val = split_validation(train)
    info: dict[str, Any] = {"task_key": task.key}
    samples: list[Sample] = []
    teacher_s = 0.0
    if spec.method == fmt.FINE_TUNE_COT:
        if not train:
            raise UserError(f"task {task.key} has no training examples in split {spec.split!r} to distill")
        completions = teach_examples(spec, task, train, store, scoring, progress)
        teacher_s = time.perf_counter() - started
        result = filter_completions(spec, task, train, completions, scoring)
        by_index = {e.sample_index: e for e in train}
        samples = [
            Sample(c.sample_index, c.index, by_index[c.sample_index].question,
                   by_index[c.sample_index].answer, c.rationale)
            for c in result.kept
        ]
        report = result.to_dict(with_drops=False)
        info["teacher"] = {
            "completions": len(completions),
            "correct": sum(1 for c in completions if c.correct),
            "failed": sum(1 for c in completions if c.failed),
            "cost_usd": round(sum(c.cost_usd for c in completions), 6),
            "temperature": spec.temperature,
        }
        info["filters"] = report
        store.put_artifact("filter-report", cell_key(spec, scoring), result.to_dict())
        if not samples:
            raise UserError(
                f"no teacher completion of {task.key} survived the filters ({', '.join(spec.filters) or 'none'}); "
                f"see `ftcot filter-report {spec.task} --teacher {spec.teacher}`"
            )
    elif spec.method == fmt.FINE_TUNE:
        if not train:
            raise UserError(f"task {task.key} has no training examples in split {spec.split!r} to fine-tune on")
        samples = [Sample(e.sample_index, 0, e.question, e.answer) for e in train]
    exemplars = task.few_shot_prompt() if spec.method == fmt.FEW_SHOT_COT else ""
    return CellInputs(
        key=cell_key(spec, scoring),
        spec=spec.to_dict() | {"teacher_options": public_teacher_options(spec.teacher_options)},
        scoring=scoring,
        task_key=task.key,
        student=spec.student,
        method=spec.method,
        seed=spec.seed,
        config=config.to_dict(),
        report_epoch=spec.report_epoch if spec.trains else "last",
        samples=samples,
        test=[EvalItem(e.sample_index, e.question, e.answer) for e in test],
        val=[EvalItem(e.sample_index, e.question, e.answer) for e in val],
        exemplars=exemplars,
        scorer=Scorer.for_task(task, scoring),
        timing={"prepare_s": round(time.perf_counter() - started, 3), "teacher_s": round(teacher_s, 3)},
        info=info,
    )


# -- worker side: train and evaluate --------------------------------------------------------

_CORPUS_MARKERS = (
    "Q: A: ### --> END question: Let's think step by step.\nTherefore, the answer is The answer is"
)


def corpus_for(samples: list[Sample], method: str, extra: list[str] | None = None) -> list[str]:
    """The run's own text, on which tiny students train their tokenizer (decoder-formatted, so
    every piece of either architecture's format appears in it)."""
    texts = [_CORPUS_MARKERS]
    for s in samples:
        pair = (fmt.cot_pair(s.question, s.rationale, s.answer, False) if s.rationale is not None
                else fmt.vanilla_pair(s.question, s.answer, False))
        texts.append(pair.input + pair.target)
    texts.extend(extra or [])
    return texts


def training_pairs(samples: list[Sample], encoder_decoder: bool) -> list[tuple[str, str]]:
    pairs = []
    for s in samples:
        pair = (fmt.cot_pair(s.question, s.rationale, s.answer, encoder_decoder) if s.rationale is not None
                else fmt.vanilla_pair(s.question, s.answer, encoder_decoder))
        pairs.append((pair.input, pair.target))
    return pairs


_TRAINING_FIELDS_NOT_IN_MODEL_KEY = ("max_new_tokens", "eval_batch_size")


def model_key(inputs: CellInputs, student_key: str) -> str:
    """(student, training data, hyper-parameters, seed), plus the evaluation data for best-on-*."""
    hyper = {k: v for k, v in inputs.config.items() if k not in _TRAINING_FIELDS_NOT_IN_MODEL_KEY}
    data = content_key([dataclasses.astuple(s) for s in inputs.samples])
    parts: list[Any] = ["model", PIPELINE_VERSION, student_key, inputs.method, data, hyper, inputs.seed]
    if inputs.report_epoch != "last":
        selection = inputs.val if inputs.report_epoch == "best-on-val" else inputs.test
        parts += [inputs.report_epoch, [dataclasses.astuple(e) for e in selection], inputs.scoring,
                  inputs.config.get("max_new_tokens")]
    return content_key(*parts)


def model_dir_name(student_key: str, key: str) -> str:
    return f"{_MODEL_DIR_SAFE.sub('_', student_key).strip('_')[:60]}-{key[:16]}"


def _load_student(student_spec: str, corpus: list[str], seed: int):
    from harness.plugins import create

    return create("student", student_spec).load(corpus, seed)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
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


@contextlib.contextmanager
def _status(enabled: bool, text: str) -> Iterator[None]:
    """A spinner on stderr while ``text`` is going on (nothing when ``enabled`` is False)."""
    if not enabled:
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(text):
        yield


def _generate(model: Any, prompts: list[str], max_new_tokens: int, batch_size: int, stop: str | None) -> list[str]:
    if not prompts:
        return []
    return list(model.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, stop=stop))


def evaluate(model: Any, inputs: CellInputs, items: list[EvalItem]) -> list[dict[str, Any]]:
    """Generate for ``items`` with the method's prompts; score each output with the task's rules."""
    method, cfg = inputs.method, inputs.config
    ed = bool(model.is_encoder_decoder)
    batch, limit = int(cfg.get("eval_batch_size", 32)), int(cfg.get("max_new_tokens", 1024))

    def cap(name: str) -> int:
        return min(limit, BASELINE_MAX_NEW_TOKENS[name])

    if method in fmt.TRAINED_METHODS:
        prompts = [fmt.fine_tuned_prompt(i.question, ed) for i in items]
        texts = [fmt.cut_at_stop(t) for t in _generate(model, prompts, limit, batch, fmt.STOP)]
        read = texts
    elif method == fmt.ZERO_SHOT:
        prompts = [fmt.zero_shot_prompt(i.question, ed) for i in items]
        texts = read = _generate(model, prompts, cap("zero-shot"), batch, None)
    elif method == fmt.ZERO_SHOT_COT:
        step1 = [fmt.zero_shot_cot_prompt(i.question) for i in items]
        rationales = _generate(model, step1, cap("zero-shot-cot"), batch, None)
        step2 = [fmt.zero_shot_cot_answer_prompt(p, r) for p, r in zip(step1, rationales)]
        read = _generate(model, step2, cap("zero-shot-cot-answer"), batch, None)
        texts = [f"{r}{fmt.ZS_COT_ANSWER_TRIGGER}{a}" for r, a in zip(rationales, read)]
    elif method == fmt.FEW_SHOT_COT:
        prompts = [fmt.few_shot_cot_prompt(inputs.exemplars, i.question) for i in items]
        texts = read = _generate(model, prompts, cap("few-shot-cot"), batch, "\nQ:")
    else:  # CellSpec checks methods; this is a programming error
        raise ValueError(method)
    mode = fmt.EXTRACTION_MODE[method]
    out = []
    for item, text, answer_text in zip(items, texts, read):
        prediction, correct = inputs.scorer.score(answer_text, mode, item.gold)
        out.append({"sample_index": item.sample_index, "text": text, "prediction": prediction,
                    "correct": bool(correct)})
    return out


def _accuracy(predictions: list[dict[str, Any]]) -> float:
    return sum(p["correct"] for p in predictions) / len(predictions) if predictions else 0.0


class _Trainer:
    """Trains one model directory, keeping per-epoch history and (for best-on-*) the best epoch."""

    def __init__(self, inputs: CellInputs, directory: Path):
        self.inputs = inputs
        self.dir = directory
        self.state_path = directory / "state.json"
        state = _read_json(self.state_path) or {}
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
        _write_json(self.state_path, self.state)

    def on_epoch(self, epoch: int, model: Any) -> None:
        entry: dict[str, Any] = {"epoch": epoch, "finished_at": round(time.time(), 3)}
        mode = self.inputs.report_epoch
        if mode != "last":
            test = evaluate(model, self.inputs, self.inputs.test)
            entry["test_accuracy"] = _accuracy(test)
            if mode == "best-on-val":
                entry["val_accuracy"] = _accuracy(evaluate(model, self.inputs, self.inputs.val))
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
        from students.base import TrainConfig

        inputs = self.inputs
        started = time.perf_counter()
        model = _load_student(student_spec, corpus_for(inputs.samples, inputs.method), inputs.seed)
        pairs = training_pairs(inputs.samples, bool(model.is_encoder_decoder))
        model.train(pairs, TrainConfig.from_dict(inputs.config), self.dir / "checkpoints", inputs.seed,
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


def execute_cell(inputs: CellInputs, models_dir: Path, progress: bool = True) -> CellOutputs:
    """Worker side: train (or reuse a trained model under ``models_dir``) and evaluate. No store."""
    from harness.plugins import create

    started = time.perf_counter()
    timing = dict(inputs.timing)
    outputs = CellOutputs(
        key=inputs.key, spec=inputs.spec, scoring=inputs.scoring, task_key=inputs.task_key,
        method=inputs.method, predictions=[], accuracy=0.0, n=0, train_samples=len(inputs.samples),
        report_epoch=inputs.report_epoch, info=dict(inputs.info),
    )
    student = create("student", inputs.student)
    model = None
    if inputs.method in fmt.TRAINED_METHODS:
        key = model_key(inputs, student.key)
        directory = Path(models_dir) / model_dir_name(student.key, key)
        with _locked(directory.with_name(directory.name + ".lock")):
            directory.mkdir(parents=True, exist_ok=True)
            trainer = _Trainer(inputs, directory)
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
                cache = directory / "evals" / f"{_eval_key(inputs)[:24]}.json"
                cached = _read_json(cache)
                if cached is not None:  # the texts are kept; answers are read again with today's rules
                    outputs.predictions = _rescore(cached, inputs)
                else:
                    eval_started = time.perf_counter()
                    if model is None:
                        from students.base import StudentModel

                        model = StudentModel.load_saved(directory / trainer.model_subdir())
                    with _status(progress, f"evaluating on {len(inputs.test)} test questions"):
                        outputs.predictions = evaluate(model, inputs, inputs.test)
                    cache.parent.mkdir(exist_ok=True)
                    _write_json(cache, [{"sample_index": p["sample_index"], "text": p["text"]}
                                        for p in outputs.predictions])
                    timing["eval_s"] = round(time.perf_counter() - eval_started, 3)
    else:
        eval_started = time.perf_counter()
        # a base model: tiny students build their tokenizer from the prompts' own text
        corpus = corpus_for([], inputs.method, [inputs.exemplars, *(i.question for i in inputs.test)])
        model = student.load(corpus, inputs.seed)
        with _status(progress, f"{inputs.method}: answering {len(inputs.test)} test questions"):
            outputs.predictions = evaluate(model, inputs, inputs.test)
        timing["eval_s"] = round(time.perf_counter() - eval_started, 3)
    outputs.n = len(outputs.predictions)
    outputs.accuracy = _accuracy(outputs.predictions)
    timing["execute_s"] = round(time.perf_counter() - started, 3)
    outputs.timing = timing
    return outputs


def _eval_key(inputs: CellInputs) -> str:
    """What determines a fine-tuned model's test outputs (the model's directory holds the rest)."""
    return content_key("eval", PIPELINE_VERSION, inputs.method, [(e.sample_index, e.question) for e in inputs.test],
                       inputs.config.get("max_new_tokens"))


def _rescore(texts: list[dict[str, Any]], inputs: CellInputs) -> list[dict[str, Any]]:
    """Stored outputs of a fine-tuned model, scored again (only those methods are cached)."""
    gold = {e.sample_index: e.gold for e in inputs.test}
    mode = fmt.EXTRACTION_MODE[inputs.method]
    out = []
    for item in texts:
        prediction, correct = inputs.scorer.score(item["text"], mode, gold[item["sample_index"]])
        out.append({"sample_index": item["sample_index"], "text": item["text"], "prediction": prediction,
                    "correct": bool(correct)})
    return out


# -- driver side: record --------------------------------------------------------------------


def record_cell(spec: CellSpec, outputs: CellOutputs, store: Store, scoring: str) -> CellResult:
    """Write the predictions, the model artifact and the cell; returns the cell."""
    predictions = [
        Prediction(task=spec.task, sample_index=p["sample_index"], student=spec.student, method=spec.method,
                   text=p["text"], prediction=p["prediction"], correct=p["correct"], scoring=scoring)
        for p in outputs.predictions
    ]
    store.put_predictions(outputs.key, predictions)
    if outputs.model_key:
        store.put_artifact("model", outputs.model_key, {
            "path": outputs.model_path, "student": spec.student, "method": spec.method, "seed": spec.seed,
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
        task=spec.task, teacher=spec.teacher, student=spec.student, method=spec.method,
        degree=spec.degree, seed=spec.seed, accuracy=outputs.accuracy, n=outputs.n,
        train_samples=outputs.train_samples, scoring=scoring, status="done", model_path=outputs.model_path,
        epoch=outputs.epoch, report_epoch=outputs.report_epoch, duration_s=round(duration, 3), extra=extra,
    )
    store.put_cell(outputs.key, cell)
    return cell


def record_failure(spec: CellSpec, store: Store, scoring: str, error: str, duration_s: float = 0.0) -> CellResult:
    """Record a failed cell with its error (a later run retries it)."""
    cell = CellResult(
        task=spec.task, teacher=spec.teacher, student=spec.student, method=spec.method, degree=spec.degree,
        seed=spec.seed, scoring=scoring, status="failed", error=error, report_epoch=spec.report_epoch,
        duration_s=round(duration_s, 3), extra={"spec": spec.to_dict() | {
            "teacher_options": public_teacher_options(spec.teacher_options)}},
    )
    store.put_cell(cell_key(spec, scoring), cell)
    return cell


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

