"""``teach``: ask a teacher for the completions of some examples, reusing what the store has.

Every completion is keyed by (teacher, model, parameters, prompt, index) — see
``Teacher.completion_key`` — so it is reused by any task or matrix that asks for the same thing,
and written to the store as soon as it arrives, so a killed run loses at most the requests in
flight. Answers are always (re)scored with the asking task's own extraction: the step-2 answer
text goes through ``task.extract(text, "direct", scoring)``, as in the paper.

Each call also records a ``teach`` artifact (task, teacher and the keys of its completions),
which ``ftcot teacher-report`` reads: a completion shared by two tasks counts for both.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ftcot import registry
from ftcot.contracts.task import Task
from ftcot.contracts.teacher import Generation, Job, Teacher, default_temperature
from ftcot.errors import Pending, UserError
from ftcot.pipeline.cell import CellSpec
from ftcot.pipeline.scorer import Scorer
from ftcot.pipeline.teach_progress import ProgressView
from ftcot.records import BatchRecord, Completion, Example
from ftcot.store import Store, content_key
from ftcot.validation import check_teacher_options

ARTIFACT_KIND = "teach"


@dataclass
class TeachResult:
    """What ``teach`` returns: every stored completion of the examples (successes and failures,
    ordered by sample_index then index) and the summary of ``ftcot teach --json``.

    In the summary, ``completions`` counts successful completions (``new + cached``); ``failed``
    counts completions whose every try failed (recorded with the reason, retried by a later run);
    ``accuracy`` is ``correct / completions``; ``cost_usd`` is what all of them cost, ``spent_usd``
    what this call spent; ``missing`` counts completions not asked because ``max_cost`` was reached.
    """

    task: str
    teacher: str
    degree: int
    temperature: float
    completions: list[Completion] = field(default_factory=list)
    examples: int = 0
    new: int = 0
    cached: int = 0
    failed: int = 0
    correct: int = 0
    cost_usd: float = 0.0
    spent_usd: float = 0.0
    missing: int = 0
    stopped: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # teacher-specific, e.g. replay's unmatched
    batch: bool = False  # asked through provider batch jobs
    pending: list[BatchRecord] = field(default_factory=list)  # batch jobs still running for missing completions

    @property
    def successes(self) -> list[Completion]:
        return [c for c in self.completions if not c.failed]

    @property
    def accuracy(self) -> float | None:
        done = self.new + self.cached
        return self.correct / done if done else None

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "teacher": self.teacher,
            "degree": self.degree,
            "temperature": self.temperature,
            "examples": self.examples,
            "completions": self.new + self.cached,
            "new": self.new,
            "cached": self.cached,
            "failed": self.failed,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "cost_usd": round(self.cost_usd, 8),
            "spent_usd": round(self.spent_usd, 8),
            "missing": self.missing,
            "stopped": self.stopped,
            **({"pending_batches": [_batch_summary(b) for b in self.pending]} if self.batch else {}),
            **self.notes,
        }


def _batch_summary(batch: BatchRecord) -> dict[str, Any]:
    return {"id": batch.id, "step": batch.step, "status": batch.status, "requests": batch.requests,
            "completed": batch.completed, "failed": batch.failed}


def pending_message(pending: list[BatchRecord], rerun: str) -> str:
    """One line for batch jobs still running: what they are and how to pick them up."""
    ids = ", ".join(b.id for b in pending)
    return (f"{len(pending)} batch job(s) still running ({ids}); what is done is stored: {rerun} later to "
            f"collect the results (nothing is submitted twice)")


_LOCAL_TEACHERS: dict[str, Teacher] = {}  # spec + options -> the one instance of a local-model teacher
_LOCAL_LOCK = threading.Lock()


def create_teacher(spec: str | Teacher, options: dict[str, Any] | None = None) -> Teacher:
    """The teacher named by ``PLUGIN[:ARGUMENT]`` (an instance is returned as it is). A teacher
    that runs a model in this process (``runs_locally``) is created once per spec and options and
    reused, so its model is loaded at most once per process."""
    if isinstance(spec, Teacher):
        return spec
    options = options or {}
    if not getattr(registry.registry().resolve("teacher", spec)[0], "runs_locally", False):
        return registry.create_teacher(spec, **options)
    key = content_key(spec, json.dumps(options, sort_keys=True, default=str))
    with _LOCAL_LOCK:
        if key not in _LOCAL_TEACHERS:
            _LOCAL_TEACHERS[key] = registry.create_teacher(spec, **options)
        return _LOCAL_TEACHERS[key]


def forget_local_teachers() -> None:
    """Drop the reused local-model teachers (and their models) of this process."""
    with _LOCAL_LOCK:
        _LOCAL_TEACHERS.clear()


def teach(
    store: Store,
    task: Task,
    teacher_spec: str | Teacher,
    examples: list[Example],
    *,
    degree: int = 1,
    temperature: float | None = None,
    scoring: str = "paper",
    options: dict[str, Any] | None = None,
    progress: bool = True,
    offline: bool = False,
) -> TeachResult:
    """Completions of ``teacher_spec`` for ``examples`` (indices 0..degree-1), asking only for what
    the store lacks. ``temperature=None``: 0 for degree 1, 0.7 above. ``options``: teacher
    settings (concurrency, timeout, max_tries, backoff, max_cost, api_base, templates, max_tokens,
    answer_max_tokens, match, ...). ``offline``: only what the store holds, for reports: a
    teacher that calls a model is not asked, and nothing is written."""
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
        raise UserError(f"degree must be an integer >= 1 (got {degree})")
    options = dict(options or {})
    temperature = default_temperature(degree) if temperature is None else temperature
    cls = type(teacher_spec) if isinstance(teacher_spec, Teacher) else registry.registry().resolve(
        "teacher", teacher_spec)[0]
    check_teacher_options({**options, "temperature": temperature}, cls)
    temperature = float(temperature)
    max_cost = options.get("max_cost")
    teacher = create_teacher(teacher_spec, options)
    batch = bool(options.get("batch"))
    _check_batch(teacher, batch, options)
    generation = Generation.from_options(temperature, options)
    if offline and teacher.calls_model:
        teacher = _StoredOnly(teacher)  # type: ignore[assignment]  # a stand-in with the same methods

    jobs = teacher.plan(task, examples, degree, generation)
    stored = store.get_completions(job.key for job in jobs) if teacher.cacheable else {}
    todo = _todo(jobs, stored)
    if todo:  # only now, with work to do: a local teacher loads its model here
        teacher.prepare(task, generation)
        _check_priced(teacher, max_cost)
    result = TeachResult(task=task.key, teacher=teacher.label, degree=degree, temperature=temperature, batch=batch)
    artifact_key = content_key(task.key, teacher.label, [job.key for job in jobs])
    if todo and not offline:
        _record_artifact(store, artifact_key, result, jobs, {})
    scorer = Scorer(task, scoring)
    sink = _Sink(store, scorer, max_cost, ProgressView(progress, teacher, task, len(todo)), persist=not offline,
                 teacher=teacher.label)
    if todo:
        try:
            with sink.view:
                teacher.run(list(todo.values()), sink, generation)
        finally:
            sink.flush()

    final = _collect(result, jobs, sink, stored, scorer)
    result.examples = len({e.sample_index for e in examples})
    result.notes = teacher.notes()
    if not offline:
        _record_artifact(store, artifact_key, result, jobs, final)
    return result


def _check_batch(teacher: Teacher, batch: bool, options: dict[str, Any]) -> None:
    """UserError for batch options the teacher or the run cannot use."""
    if batch and not teacher.supports_batch:
        raise UserError(f"teacher {teacher.label} does not run batch jobs: drop --batch (option batch=true); "
                        f"litellm: teachers do")
    if not batch and (options.get("batch_wait") or options.get("batch_poll") is not None):
        raise UserError("batch_wait (--wait) and batch_poll (--poll) only apply to batch jobs: add --batch")


def _check_priced(teacher: Teacher, max_cost: Any) -> None:
    """UserError when a cost cap is asked of a teacher without prices."""
    if max_cost is not None and not teacher.priced:
        raise UserError(
            f"--max-cost needs prices, and teacher {teacher.label} has none in litellm's cost map: "
            f"give input_cost_per_token and output_cost_per_token options, or drop --max-cost"
        )


def _todo(jobs: list[Job], stored: dict[str, Completion]) -> dict[str, Job]:
    """The jobs to ask, by key: those the store lacks or holds as failed (a failed step 2 keeps its
    step-1 rationale as ``prior`` when the reasoning prompt is the same)."""
    todo: dict[str, Job] = {}
    for job in jobs:
        found = stored.get(job.key)
        if found is not None and not found.failed:
            continue
        if found is not None and found.rationale and found.reasoning_prompt == job.reasoning_prompt:
            job.prior = found
        todo.setdefault(job.key, job)
    return todo


def _collect(result: TeachResult, jobs: list[Job], sink: _Sink, stored: dict[str, Completion],
             scorer: Scorer) -> dict[str, Completion]:
    """Count every job's completion (from this run's ``sink``, else ``stored``) and the run's
    spend and batches into ``result``; returns the completions by key, those beyond the degree
    included (kept for teacher-report)."""
    final: dict[str, Completion] = {}
    for job in jobs:
        completion = sink.results.get(job.key)
        new = completion is not None
        if completion is None:
            completion = stored.get(job.key)
        if completion is None:
            result.missing += not job.beyond_degree
            continue
        completion = scorer.label(job.example, completion)
        final[job.key] = completion
        if job.beyond_degree:  # kept for teacher-report, not returned
            continue
        result.completions.append(completion)
        if completion.failed:
            result.failed += 1
        elif new:
            result.new += 1
        else:
            result.cached += 1
        result.correct += bool(completion.correct)
        result.cost_usd += completion.cost_usd
    missing = {job.key for job in jobs if job.key not in final}
    result.pending = [b for b in sink.batches.values() if missing.intersection(b.pending)]
    result.completions.sort(key=lambda c: (c.sample_index, c.index))
    result.spent_usd = sink.spent
    result.stopped = sink.stopped
    return final


class _StoredOnly:
    """A model-calling teacher for a report: it keys jobs as the teacher does and asks nothing."""

    cacheable = True

    def __init__(self, teacher: Teacher):
        self._teacher = teacher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._teacher, name)

    def prepare(self, task: Any, generation: Generation) -> None:
        """Nothing to load: no request is made."""

    @property
    def priced(self) -> bool:
        return True

    def run(self, jobs: list[Job], sink: Any, generation: Generation) -> None:
        """Asks nothing: what the store lacks stays missing."""


def _record_artifact(store: Store, key: str, result: TeachResult, jobs: list[Job],
                     final: dict[str, Completion]) -> None:
    entries = []
    for job in jobs:
        done = final.get(job.key)
        entries.append([job.example.sample_index, job.index, job.key, None if done is None else done.correct])
    store.put_artifact(ARTIFACT_KIND, key, {
        "task": result.task,
        "teacher": result.teacher,
        "degree": result.degree,
        "temperature": result.temperature,
        "entries": entries,
        "summary": result.summary() if final else None,
        "updated": time.time(),
    })


class _Sink:
    """Scores and stores completions as they arrive; keeps the spend within ``max_cost``."""

    def __init__(self, store: Store, scorer: Scorer, max_cost: float | None, view: ProgressView,
                 persist: bool = True, teacher: str = ""):
        self.store = store
        self.teacher = teacher
        self.batches: dict[str, BatchRecord] = {}  # the batch jobs recorded by this run, by id
        self.persist = persist
        self.scorer = scorer
        self.max_cost = None if max_cost is None else float(max_cost)
        self.view = view
        self.results: dict[str, Completion] = {}
        self.spent = 0.0
        self.failed = 0
        self.stopped: str | None = None
        self._reserved: dict[str, float] = {}
        self._held = 0.0  # the sum of the reservations
        self._lock = threading.Lock()

    def reserve(self, job: Job, cost_bound: float) -> bool:
        with self._lock:
            if self.stopped:
                return False
            if self.max_cost is not None and self.spent + self._held + cost_bound > self.max_cost:
                self.stopped = "max_cost"
                return False
            self._reserved[job.key] = cost_bound
            self._held += cost_bound
            return True

    def release(self, job: Job) -> None:
        with self._lock:
            self._held -= self._reserved.pop(job.key, 0.0)

    def emit(self, job: Job, completion: Completion) -> None:
        self.emit_many([(job, completion)])

    def emit_many(self, pairs: Any) -> None:
        rows = []
        with self._lock:
            for job, completion in pairs:
                completion = self.scorer.label(job.example, completion)
                self._held -= self._reserved.pop(job.key, 0.0)
                self.results[job.key] = completion
                self.spent += completion.cost_usd
                self.failed += completion.failed
                rows.append((job.key, completion))
        if self.persist:
            self.store.put_completions(rows)
        self.view.advance(len(rows), self.failed, self.spent)

    def note(self, text: str) -> None:
        """Show what the run waits on (e.g. a rate limit) in the progress line; "" clears it."""
        self.view.note(text)

    def open_batches(self) -> list[BatchRecord]:
        return self.store.batches(teacher=self.teacher, open_only=True)

    def record_batch(self, batch: BatchRecord, replaces: str | None = None) -> None:
        with self._lock:
            if replaces is not None:
                self.batches.pop(replaces, None)
            self.batches[batch.id] = batch
        if self.persist:
            self.store.put_batch(batch, replaces)

    def flush(self) -> None:
        """Completions are written as they arrive; nothing is held back."""


def short_warning(notes: dict[str, Any], examples: int, degree: int) -> str | None:
    """One line when a teacher's notes count examples with fewer recorded completions than the
    degree (replay's ``short``); None otherwise."""
    short = notes.get("short", 0)
    if not short:
        return None
    return (
        f"warning: {short} of {examples} examples have fewer than {degree} recorded completion(s) "
        f"({notes.get('none', 0)} have none); they are used with what they have, never padded"
    )


def teach_examples(
    spec: CellSpec, task: Task, examples: list[Example], store: Store, scoring: str, progress: bool = True,
    offline: bool = False,
) -> list[Completion]:
    """The teacher's completions for ``examples`` (through the store: nothing asked twice);
    ``offline``: only the stored ones (see ``teach``)."""
    return list(teach_cell(spec, task, examples, store, scoring, progress, offline).completions)


def teach_cell(
    spec: CellSpec, task: Task, examples: list[Example], store: Store, scoring: str, progress: bool = True,
    offline: bool = False,
) -> TeachResult:
    """``teach`` with a cell's teacher settings; UserError when some completions were not asked
    (``offline``: only what the store holds, nothing asked)."""
    options = {k: v for k, v in spec.teacher_options.items() if k != "temperature"}
    result = teach(
        store, task, spec.teacher, examples, degree=spec.degree, temperature=spec.temperature,
        scoring=scoring, options=options, progress=progress, offline=offline,
    )
    if offline:
        return result
    if result.pending:
        raise Pending(pending_message(result.pending, "run the command again (or set the teacher option batch_wait = true)"))
    if result.missing:
        why = f" ({result.stopped})" if result.stopped else ""
        raise UserError(
            f"the teacher stopped{why} with {result.missing} of {len(examples) * spec.degree} completions "
            f"of {task.key} not asked; raise the limit (e.g. --max-cost) and run again: stored ones are reused"
        )
    return result
