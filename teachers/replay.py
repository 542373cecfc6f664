"""``replay:<path>``: recorded completions instead of a model, e.g. the paper's released
text-davinci-002 completions.

Two formats:
- the reasoning-teacher ``CompletionDataset`` JSON: ``{"metadata": {"dataset_key", "base_model",
  ...}, "data": {"<sample_index>": [entry, ...]}}``;
- JSON lines, one entry per line.
An entry has ``sample_index``, ``completion_index``, ``question``, ``answer``, ``reasoning_prompt``,
``reasoning_completion``, ``prompt``, ``completion`` (the step-2 answer text) and
``finish_reason``.

The path may name its task and data directory: ``{task}`` becomes the task's name and
``{data_dir}`` its data directory, so one spec serves every task of a matrix, e.g.
``replay:{data_dir}/teacher-completions/D_{task}.json`` for the paper's released files.

Entries match examples by ``sample_index`` (default) or, with the ``match=question`` option
(``--match question``), by question text (whitespace and case folded). Entries of the task's other
examples are counted as ``outside`` and entries of no example as ``unmatched`` — both are
reported, none is dropped silently. Answers are re-scored with the task's own extraction; the
file's own scores are never used.

Degree: ``-D N`` uses completion indices 0 … N−1 of each example: an entry's
``completion_index``, which in the paper's files is also its position in the example's list (what
the paper's code selects by); entries repeating an index are numbered on after the example's
highest. An example with fewer than N is counted as ``short`` (``none``: those with no
entry at all) and used with what it has, never padded. The ``all_completions`` option
(``--all-completions``) uses every entry whatever N is. Entries past N are still stored and
counted by ``ftcot teacher-report`` (``unused`` in the summary), so the teacher's accuracy there is
over every completion the file holds for the examples taught, as the paper reports it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ftcot.api import ALL_COMPLETIONS, Example, Generation, Job, Param, Sink, Teacher, UserError, content_key, flag

MATCH_MODES = ("index", "question")
PLACEHOLDERS = ("task", "data_dir")
BATCH = 512


def _fold(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def resolve_path(template: str, task: Any) -> Path:
    """The file ``template`` names for ``task``: ``{task}`` is its name, ``{data_dir}`` its data directory."""
    try:
        text = template.format(task=task.name, data_dir=task.data_dir)
    except (KeyError, IndexError, ValueError):
        names = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise UserError(f"replay path {template!r}: braces may only hold {names}; "
                        "double any other brace ({{ or }})") from None
    return Path(text).expanduser()


class _NotFinite(ValueError):
    """A number a replay file cannot hold: NaN, Infinity, or too large for a float."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)


def _loads(text: str) -> Any:
    """JSON without NaN, Infinity or floats beyond a float's range (``_NotFinite``)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def read_entries(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metadata, entries) of a CompletionDataset JSON or JSON-lines file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"replay file {path} does not exist; pass the path of a recorded completions file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read replay file {path}: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            document = _loads(text)
        except _NotFinite as exc:
            raise UserError(f"replay file {path} holds the number {exc}: JSON numbers must be finite") from None
        except ValueError:
            document = None  # perhaps JSON lines whose first line is an object
        if isinstance(document, dict) and "data" in document:
            data = document["data"]
            if not isinstance(data, dict):
                raise UserError(f"replay file {path}: 'data' must map sample_index to a list of entries")
            entries = []
            for key, items in data.items():
                if not isinstance(items, list):
                    raise UserError(f"replay file {path}: data[{key!r}] must be a list of entries")
                for item in items:
                    if not isinstance(item, dict):
                        raise UserError(f"replay file {path}: data[{key!r}] holds a non-object entry")
                    entries.append({"sample_index": key, **item})
            return dict(document.get("metadata") or {}), entries
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = _loads(line)
        except _NotFinite as exc:
            raise UserError(f"replay file {path} line {number} holds the number {exc}: JSON numbers must be "
                            f"finite") from None
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise UserError(f"replay file {path} line {number} is not valid JSON ({reason})") from None
        if not isinstance(item, dict):
            raise UserError(f"replay file {path} line {number} is not a JSON object")
        entries.append(item)
    return {}, entries


class ReplayTeacher(Teacher):
    """Recorded completions from a file (reasoning-teacher CompletionDataset JSON or JSON lines)."""

    name = "replay"
    description = "Recorded completions from a file (reasoning-teacher CompletionDataset JSON or JSON lines)"
    calls_model = False
    params = (Param("match", str, "index", "match recorded entries by sample_index (index) or question text",
                    choices=MATCH_MODES),)

    @classmethod
    def from_spec(cls, argument: str | None = None, **options: Any) -> ReplayTeacher:
        if not argument:
            raise UserError("teacher 'replay' needs a file: write replay:PATH")
        return cls(model=argument, options=options)

    def __post_init__(self) -> None:
        self.match = self.option("match")
        self.path = Path(self.model).expanduser()  # resolved for each task when the spec has placeholders
        self.all_completions = flag(self.options.get(ALL_COMPLETIONS), ALL_COMPLETIONS)
        self.unmatched = 0
        self.outside = 0
        self.entries_read = 0
        self.short = self.none = self.unused = 0
        self.entries: list[dict[str, Any]] | None = None

    def prepare(self, task: Any, generation: Generation) -> None:
        self._use(task)

    def _use(self, task: Any) -> None:
        """Read the file this spec names for ``task`` (once per file)."""
        path = resolve_path(self.model, task)
        if path != self.path:
            self.path, self.entries = path, None
        self._load()

    def _load(self) -> None:
        if getattr(self, "entries", None) is None:
            self.metadata, self.entries = read_entries(self.path)
            self.digest = hashlib.sha256(self.path.read_bytes()).hexdigest()

    def parameters(self) -> dict[str, Any]:
        self._load()
        # the selection (-D, all_completions) is not: completion keys stay shared (a cell's key has it)
        return {"file_sha256": self.digest}

    def identity(self, generation: Generation) -> str:
        # a recorded completion depends on the file only, not on this run's sampling settings
        return content_key(self.name, self.parameters())

    def plan(self, task: Any, examples: list[Example], degree: int, generation: Generation) -> list[Job]:
        self._use(task)
        chosen = {e.sample_index: e for e in examples}
        try:
            every = task.examples()
        except UserError:
            every = list(examples)
        if self.match == "index":
            lookup = {e.sample_index: e for e in every}
        else:
            lookup = {}
            for e in every:
                lookup.setdefault(_fold(e.question), e)
        identity = self.identity(generation)
        used: dict[int, set[int]] = {}
        jobs = []
        self.unmatched = self.outside = 0
        entries = self.entries or []
        self.entries_read = len(entries)
        for position, entry in enumerate(entries):
            example = self._find(entry, lookup, position)
            if example is None:
                self.unmatched += 1
                continue
            if example.sample_index not in chosen:
                self.outside += 1
                continue
            example = chosen[example.sample_index]
            taken = used.setdefault(example.sample_index, set())
            index = _int(entry.get("completion_index"), default=0)
            if index in taken:  # several entries with one index: keep them all, renumbered
                index = max(taken) + 1
            taken.add(index)
            reasoning_prompt = entry.get("reasoning_prompt") or generation.reasoning_prompt(example.question)
            key = content_key(identity, reasoning_prompt, _int(entry.get("completion_index"), 0), position)
            job = Job(example, index, key, reasoning_prompt)
            job.recorded = job.blank(
                self.label, generation,
                rationale=str(entry.get("reasoning_completion") or ""),
                answer_prompt=str(entry.get("prompt") or ""),
                answer_text=str(entry.get("completion") or ""),
                finish_reason=entry.get("reasoning_finish_reason") or entry.get("finish_reason"),
            )
            jobs.append(job)
        self._select(jobs, chosen, degree)
        return jobs

    def _select(self, jobs: list[Job], chosen: dict[int, Example], degree: int) -> None:
        """Mark the jobs past ``degree`` (unless ``all_completions``); count short examples."""
        used: dict[int, int] = dict.fromkeys(chosen, 0)
        for job in jobs:
            job.beyond_degree = not self.all_completions and job.index >= degree
            used[job.example.sample_index] += not job.beyond_degree
        self.unused = sum(job.beyond_degree for job in jobs)
        self.short = sum(1 for n in used.values() if n < degree)
        self.none = sum(1 for n in used.values() if n == 0)

    def _find(self, entry: dict[str, Any], lookup: dict, position: int) -> Example | None:
        if self.match == "index":
            if entry.get("sample_index") is None:
                raise UserError(f"replay file {self.path}: entry {position} has no sample_index; try --match question")
            return lookup.get(_int(entry["sample_index"], None))
        question = entry.get("question")
        if not question:
            raise UserError(f"replay file {self.path}: entry {position} has no question; try --match index")
        return lookup.get(_fold(question))

    def notes(self) -> dict[str, Any]:
        return {"entries": self.entries_read, "outside": self.outside, "unmatched": self.unmatched,
                "selection": "all" if self.all_completions else "first-D", "unused": self.unused,
                "short": self.short, "none": self.none}

    def run(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        for start in range(0, len(jobs), BATCH):
            sink.emit_many([(job, job.recorded) for job in jobs[start:start + BATCH] if job.recorded is not None])


def _int(value: Any, default: int | None) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default
