"""The teacher contract: a plugin that writes Zero-shot-CoT completions for examples.

A teacher subclasses ``Teacher``, has a ``name`` and implements ``run(jobs, sink, generation)``:
for each ``Job`` (one example and completion index) it produces a ``Completion`` with the
rationale and the step-2 answer text (or a failure) and hands it to ``sink.emit``. Everything
else — the cache, scoring, the store, the cost limit and the progress bar — is done once, in
``ftcot.pipeline.teach.teach``.

The two prompting steps (the paper's Zero-shot-CoT):
- step 1, reasoning: ``Q: {question}\\nA: Let's think step by step.`` -> rationale;
- step 2, answer: ``{reasoning_prompt}{rationale}\\nTherefore, the answer is`` -> answer text.
Both templates are options (``templates={"reasoning": ..., "answer": ...}``); chat models get
the same steps as messages (see ``Generation.answer_messages``).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ftcot.errors import EXIT_PENDING, UserError
from ftcot.formatting import ZS_COT_ANSWER_TRIGGER, ZS_COT_TRIGGER
from ftcot.records import BatchRecord, Completion, Example
from ftcot.specs import Param, declared_params, flag
from ftcot.store import content_key

if TYPE_CHECKING:
    from ftcot.contracts.task import Task

REASONING_TEMPLATE = "Q: {question}\nA: " + ZS_COT_TRIGGER
ANSWER_TEMPLATE = "{reasoning_prompt}{rationale}" + ZS_COT_ANSWER_TRIGGER
DEFAULT_MAX_TOKENS = 128
DEFAULT_ANSWER_MAX_TOKENS = 32
DEFAULT_DIVERSE_TEMPERATURE = 0.7  # the paper's temperature for diverse reasoning
# the option (``--all-completions``) by which a teacher of recorded completions uses every one
# it holds instead of indices 0..D-1 of each example; part of a cell's key when true
ALL_COMPLETIONS = "all_completions"


def _templates_problem(value: dict[str, Any]) -> str | None:
    wrong = [k for k, v in value.items() if k not in ("reasoning", "answer") or not isinstance(v, str)]
    return f"takes text for reasoning and answer only, got {wrong[0]!r}" if wrong else None


def _flag_problem(value: Any) -> str | None:
    try:
        flag(value, ALL_COMPLETIONS)
    except UserError:
        return f"must be true or false, got {value!r}"
    return None


# The options ftcot itself applies, whatever the teacher: the generation settings (part of a
# completion's key), the cost cap and batch mode, and the concurrency, retry and rate-limit
# settings that API teachers honour. A teacher's own options are its ``params``.
CORE_TEACHER_PARAMS: tuple[Param, ...] = (
    Param("temperature", float, None, "sampling temperature (default: 0 for -D 1, else 0.7)", ge=0),
    Param("max_tokens", int, DEFAULT_MAX_TOKENS, "most tokens of a step-1 rationale", ge=1),
    Param("answer_max_tokens", int, DEFAULT_ANSWER_MAX_TOKENS, "most tokens of a step-2 answer", ge=1),
    Param("templates", dict, None, "the two prompts: {reasoning = ..., answer = ...}", check=_templates_problem),
    Param(ALL_COMPLETIONS, object, False, "replay: use every completion the file holds (default: indices 0..D-1 "
                                        "of each example)", check=_flag_problem),
    Param("concurrency", int, 16, "questions in flight; at -D 1, requests in flight", ge=1, keyed=False),
    Param("timeout", float, 60.0, "seconds per request", gt=0, keyed=False),
    Param("max_tries", int, 6, "tries per request before the completion is recorded as failed", ge=1, keyed=False),
    Param("backoff", float, 1.0, "first backoff delay in seconds, doubled per try", ge=0, keyed=False),
    Param("max_wait", float, 300.0, "longest wait a Retry-After may ask for, in seconds", gt=0),
    Param("rpm", float, None, "at most N requests a minute to this model (client-side)", gt=0, keyed=False),
    Param("tpm", float, None, "at most N tokens (prompt + completion) a minute to this model (client-side)",
          gt=0, keyed=False),
    Param("max_cost", float, None, "stop asking before the spend of this run would exceed USD", ge=0, keyed=False),
    Param("batch", bool, False, "send both steps as provider batch jobs (half price, results within 24 h); a "
                                "rerun polls the recorded jobs instead of submitting again", keyed=False),
    Param("batch_wait", bool, False, "with batch: poll until the batch jobs finish (progress bar) instead of exiting "
                                      f"with status {EXIT_PENDING} while they run",
          keyed=False),
    Param("batch_poll", float, 30.0, "with batch and batch_wait: seconds between polls", gt=0, keyed=False),
)


def teacher_params(cls: type | None) -> tuple[Param, ...]:
    """The options a teacher class reads: the core's, then those it declares in ``params``
    (``None``: the core's only)."""
    return CORE_TEACHER_PARAMS + (declared_params(cls) if cls is not None else ())


def default_temperature(degree: int) -> float:
    """Greedy (0) for one completion per example, the paper's 0.7 for diverse reasoning."""
    return 0.0 if degree <= 1 else DEFAULT_DIVERSE_TEMPERATURE


@dataclass(frozen=True)
class Generation:
    """How completions are asked for; every field is part of a completion's cache key."""

    temperature: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    answer_max_tokens: int = DEFAULT_ANSWER_MAX_TOKENS
    reasoning_template: str = REASONING_TEMPLATE
    answer_template: str = ANSWER_TEMPLATE

    @classmethod
    def from_options(cls, temperature: float, options: dict[str, Any]) -> Generation:
        from ftcot.validation import check_teacher_options

        check_teacher_options({**options, "temperature": temperature}, known_only=True)
        templates = options.get("templates") or {}
        gen = cls(
            temperature=float(temperature),
            max_tokens=options.get("max_tokens") or DEFAULT_MAX_TOKENS,
            answer_max_tokens=options.get("answer_max_tokens") or DEFAULT_ANSWER_MAX_TOKENS,
            reasoning_template=templates.get("reasoning", REASONING_TEMPLATE),
            answer_template=templates.get("answer", ANSWER_TEMPLATE),
        )
        if "{question}" not in gen.reasoning_template:
            raise UserError("the reasoning template must contain {question}")
        if "{reasoning_prompt}" not in gen.answer_template or "{rationale}" not in gen.answer_template:
            raise UserError("the answer template must contain {reasoning_prompt} and {rationale}")
        return gen

    def reasoning_prompt(self, question: str) -> str:
        return self.reasoning_template.replace("{question}", question)

    def answer_prompt(self, reasoning_prompt: str, rationale: str) -> str:
        return self.answer_template.replace("{reasoning_prompt}", reasoning_prompt).replace(
            "{rationale}", rationale
        )

    @property
    def answer_trigger(self) -> str:
        """What step 2 adds after the rationale, e.g. ``Therefore, the answer is``."""
        return self.answer_prompt("", "").strip()

    def reasoning_messages(self, reasoning_prompt: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": reasoning_prompt}]

    def answer_messages(self, reasoning_prompt: str, rationale: str) -> list[dict[str, str]]:
        """Step 2 for a chat model: the step-1 exchange, then the answer trigger as a user turn."""
        return [
            {"role": "user", "content": reasoning_prompt},
            {"role": "assistant", "content": rationale.strip()},
            {"role": "user", "content": self.answer_trigger},
        ]

    def as_key(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "answer_max_tokens": self.answer_max_tokens,
            "reasoning_template": self.reasoning_template,
            "answer_template": self.answer_template,
        }


@dataclass
class Job:
    """One completion to produce: an example, its completion index and cache key.

    ``prior``: a stored failure whose step 1 succeeded (its rationale is reused, not paid again).
    ``recorded``: a completion that already exists (replayed from a file).
    ``beyond_degree``: a recorded completion past the degree asked for: stored, and counted by
    ``ftcot teacher-report``, but not among the completions ``teach`` returns.
    """

    example: Example
    index: int
    key: str
    reasoning_prompt: str
    prior: Completion | None = None
    recorded: Completion | None = None
    beyond_degree: bool = False

    def blank(self, teacher: str, generation: Generation, **fields: Any) -> Completion:
        """A Completion for this job, with the given fields filled in."""
        return Completion(
            task=self.example.task,
            sample_index=self.example.sample_index,
            teacher=teacher,
            index=self.index,
            reasoning_prompt=self.reasoning_prompt,
            temperature=generation.temperature,
            **fields,
        )


class Sink(Protocol):
    """Where a teacher hands its completions (implemented by ``ftcot.pipeline.teach``)."""

    def emit(self, job: Job, completion: Completion) -> None:
        """Hand over the completion of ``job`` (scored, stored and counted by ftcot)."""
        ...

    def emit_many(self, pairs: Iterable[tuple[Job, Completion]]) -> None:
        """``emit`` for many (job, completion) pairs at once (one store write)."""
        ...

    def reserve(self, job: Job, cost_bound: float) -> bool:
        """Ask to spend at most ``cost_bound`` USD on this job; False: the cost limit is reached,
        ask for nothing more. ``emit`` settles the reservation with the actual cost."""
        ...

    def release(self, job: Job) -> None:
        """Give back the reservation of a job that was not asked after all."""
        ...

    def note(self, text: str) -> None:
        """Show a short status on the progress line (e.g. ``waiting on rpm limit``; "" clears it)."""
        ...

    def open_batches(self) -> list[BatchRecord]:
        """This teacher's recorded batch jobs whose results were not all taken yet (batch mode)."""
        ...

    def record_batch(self, batch: BatchRecord, replaces: str | None = None) -> None:
        """Store a batch job before it is submitted, and each new state of it (batch mode): a
        later run polls it instead of submitting again. ``replaces``: the id it was recorded
        under until now (its input file's, while submitting)."""
        ...


@dataclass
class Teacher(ABC):
    """Base class of teacher plugins. ``label`` names the teacher in completions and reports."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    cacheable: ClassVar[bool] = True  # False: completions are recomputed on every run (cheap teachers)
    calls_model: ClassVar[bool] = True  # False: completions come from the task or a file (oracle, replay)
    runs_locally: ClassVar[bool] = False  # True: a model in this process (hf, vllm): no API charges
    supports_batch: ClassVar[bool] = False  # True: runs both steps as provider batch jobs with option batch=true
    # the options it reads besides ``CORE_TEACHER_PARAMS`` (``--option NAME=VALUE``, a matrix's [teacher])
    params: ClassVar[tuple[Param, ...]] = ()

    model: str = ""
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold an API key

    def __post_init__(self) -> None:
        """Subclasses read their settings from ``self.options`` here."""

    def option(self, name: str) -> Any:
        """The option ``name`` as its declared ``Param`` (its own or the core's) types it, or the
        declared default."""
        param = next((p for p in teacher_params(type(self)) if p.name == name), None)
        if param is None:
            raise KeyError(f"teacher {self.name!r} declares no parameter {name!r} in `params`")
        value = self.options.get(name)
        return param.default if value is None else param.convert(value, f"teacher {self.name}")

    @classmethod
    def from_spec(cls, argument: str | None = None, **options: Any) -> Teacher:
        """The teacher for ``NAME[:ARGUMENT]`` (the argument is its model); ``options`` are the
        cell's teacher options. The default needs a model and keeps every option."""
        if not argument:
            raise UserError(f"teacher {cls.name!r} needs a model: write {cls.name}:MODEL")
        return cls(model=argument, options=options)

    @property
    def label(self) -> str:
        """``name:model`` (or ``name``): the teacher as completions and reports name it."""
        return f"{self.name}:{self.model}" if self.model else self.name

    def parameters(self) -> dict[str, Any]:
        """Teacher settings that change what it writes (never secrets such as API keys)."""
        return {}

    def identity(self, generation: Generation) -> str:
        """A digest of (teacher, model, parameters); a completion's key adds its prompt and index."""
        return content_key(self.name, self.model, {**self.parameters(), **generation.as_key()})

    def completion_key(self, identity: str, reasoning_prompt: str, index: int) -> str:
        """``content_key(identity, reasoning_prompt, index)``."""
        return content_key(identity, reasoning_prompt, index)

    def plan(self, task: Task, examples: list[Example], degree: int, generation: Generation) -> list[Job]:
        """The jobs for these examples: each example with completion indices 0..degree-1."""
        identity = self.identity(generation)
        head = json.dumps(identity) + ","
        jobs = []
        for example in examples:
            prompt = generation.reasoning_prompt(example.question)
            # the bytes content_key(identity, prompt, index) hashes, with the prompt encoded once
            middle = "[" + head + json.dumps(prompt, ensure_ascii=False) + ","
            for index in range(degree):
                key = hashlib.sha256(f"{middle}{index}]".encode()).hexdigest()
                jobs.append(Job(example, index, key, prompt))
        return jobs

    def prepare(self, task: Task, generation: Generation) -> None:
        """Check settings before any work (e.g. that a library is installed); UserError if unusable."""

    @property
    def priced(self) -> bool:
        """Whether this teacher knows what its completions cost (free teachers do: nothing)."""
        return True

    def cost_bound(self, job: Job, generation: Generation) -> float:
        """An upper bound of what one job can cost in USD (0 for free teachers)."""
        return 0.0

    def estimate_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What this many tokens would cost in USD, for ``matrix plan``: 0 for teachers that call no
        model or run locally, None where the price is unknown."""
        return 0.0 if self.runs_locally or not self.calls_model else None

    @abstractmethod
    def run(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        """Produce a ``Completion`` for every job (or a failure) and hand each to ``sink.emit``."""

    def notes(self) -> dict[str, Any]:
        """Extra facts for the run's summary (e.g. replay: entries that matched no example)."""
        return {}
