"""The task contract. A task plugin subclasses ``Task`` and registers the class.

CONTRACT (other packages rely on exactly these names):
- ``Task.from_spec(argument, *, data_dir, **_)`` -> instance; ``argument`` is what follows the
  colon in ``name[:argument]`` (e.g. ``flips=4,train=350`` for a generated task). Unknown
  keyword options are ignored.
- ``task.key``: canonical spec string, identical for equal tasks (used in store keys).
- ``task.answer_type``: ``number`` | ``letter`` | ``yes_no`` | ``text``.
- ``task.examples()`` -> list[Example] ordered by sample_index.
- ``task.split_indices(split="default")`` -> {"train": [...], "test": [...]}.
- ``task.train_examples(split="default")`` / ``task.test_examples(split="default")``.
- ``task.extract(text, mode, scoring)`` -> str | None, mode in direct|cot|fs-cot|ft-cot.
- ``task.is_correct(prediction, gold, scoring)`` -> bool.
- ``task.few_shot_prompt()`` -> str (exemplars, ends ready for the next ``Q:``), UserError if none.
- ``task.oracle_rationales(example)`` -> list[str]: step-by-step rationales computed from the
  question, first one canonical, others alternative phrasings; UserError where unsupported.
- ``task.oracle_mistake(example, rng)`` -> (list[str], str): phrasings of a rationale that goes
  wrong at one random step and carries the wrong state through, and its wrong answer (the
  ``oracle:error=P`` teacher); UserError where unsupported.
- ``task.fingerprint()`` -> str: hash of the data that determines the examples.
- optional class attribute ``version`` (int or str): set by a plugin, it stands for the task's
  data in the fingerprint each result records (``ftcot.pipeline.freshness``); bump it when the
  data changes. Without it that fingerprint hashes the examples, splits, oracle rationales and
  few-shot prompt. ``GeneratedTask.version`` is a default, not a declaration.

Also available: ``task.name``, ``task.data_dir``, ``task.splits()`` (split names),
``task.example(sample_index)``, ``task.answer_format`` (a ``ftcot.rules.AnswerFormat``),
``task.generated`` (True for generated tasks), ``task.distillable()`` (whether the default
split's training examples are all present), ``task.status()`` (files present and missing).

Two families implement it: ``DatasetTask`` (raw files under ``DATA_DIR/raw/<name>/``, the
paper's splits under ``DATA_DIR/splits/``) and ``GeneratedTask`` (seeded generators, no files).
A registered dataset class may name a ``generator`` class: ``name`` alone is the real dataset,
``name:ARGS`` the generated variant.
"""

from __future__ import annotations

import hashlib
import random
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from ftcot import scoring as rules
from ftcot.datafiles import (
    FETCH_HINT,
    PROMPTS_FILE,
    RawFile,
    cached_sha256,
    read_json,
    sha256_of,
    stat_stamp,
)
from ftcot.errors import UserError
from ftcot.formatting import FEW_SHOT_ANSWER_PREFIX
from ftcot.records import Example
from ftcot.settings import default_data_dir
from ftcot.specs import declared_params, parse_params


class Task(ABC):
    """Common behaviour: splits, scoring, prompts. Subclasses provide ``_load`` and the splits."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    answer_type: ClassVar[str] = "text"
    letters: str = "ABCDE"  # choice letters of a letter task (a generator may set its own)
    paper_float: ClassVar[bool] = True  # number tasks: the paper compares floats (else strings)
    few_shot_key: ClassVar[str | None] = None  # entry of few_shot_cot_prompts.json; default name
    generated: ClassVar[bool] = False

    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()

    # -- identity ---------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, argument: str | None = None, *, data_dir: str | Path | None = None, **_: Any) -> Task:
        """The task for ``name[:ARGUMENT]`` reading ``data_dir``; this base takes no argument."""
        if argument:
            raise UserError(f"task {cls.name!r} takes no argument (got {argument!r}); write just {cls.name}")
        return cls(data_dir=data_dir)

    @property
    def key(self) -> str:
        """The canonical spec, identical for equal tasks (part of every store key)."""
        return self.name

    @property
    def answer_format(self) -> rules.AnswerFormat:
        """The answer type, choice letters and number rule the scoring reads."""
        return rules.AnswerFormat(self.answer_type, self.letters, self.paper_float)

    def __repr__(self) -> str:
        return f"<task {self.key}>"

    @abstractmethod
    def fingerprint(self) -> str:
        """A hash of the data that determines the examples (recorded in baselines)."""

    # -- examples ---------------------------------------------------------------------------
    def examples(self) -> list[Example]:
        """Every example, ordered by sample_index (cached per process)."""
        return list(self._cached()[0])

    def _cached(self) -> tuple[list[Example], dict[int, Example]]:
        stamp = self._cache_stamp()
        cache_key = (type(self).__module__, type(self).__qualname__, self.key, str(self.data_dir), stamp)
        cached = _EXAMPLES.get(cache_key)
        if cached is None:
            examples = self._load()
            cached = (examples, {e.sample_index: e for e in examples})
            _EXAMPLES[cache_key] = cached
        return cached

    def _cache_stamp(self) -> Any:
        return None

    @abstractmethod
    def _load(self) -> list[Example]:
        """Every example, ordered by sample_index (``examples()`` caches it)."""

    def _by_index(self) -> dict[int, Example]:
        return self._cached()[1]

    def example(self, sample_index: int) -> Example:
        """The example with this sample_index; UserError if there is none."""
        found = self._by_index().get(sample_index)
        if found is None:
            raise UserError(f"task {self.key} has no example with sample_index {sample_index}")
        return found

    def splits(self) -> list[str]:
        """The names of the task's splits."""
        return ["default"]

    @abstractmethod
    def split_indices(self, split: str = "default") -> dict[str, list[int]]:
        """``{"train": [sample_index, ...], "test": [...]}`` of the named split."""

    def _select(self, split: str, part: str) -> list[Example]:
        indices = self.split_indices(split)[part]
        by_index = self._by_index()
        missing = [i for i in indices if i not in by_index]
        if missing:
            raise UserError(
                f"task {self.key}: {len(missing)} of the {len(indices)} {part} examples of split "
                f"{split!r} are not in the data (e.g. sample_index {missing[0]}); "
                f"{self._missing_hint()}"
            )
        return [by_index[i] for i in indices]

    def _missing_hint(self) -> str:
        return f"fix with `{FETCH_HINT.format(task=self.name)}`"

    def train_examples(self, split: str = "default") -> list[Example]:
        """The training examples of ``split`` (the teacher's questions, the student's data)."""
        return self._select(split, "train")

    def test_examples(self, split: str = "default") -> list[Example]:
        """The test examples of ``split``, on which a student is scored."""
        return self._select(split, "test")

    def distillable(self) -> bool:
        """Whether every training example of the default split is present."""
        try:
            self.train_examples()
        except UserError:
            return False
        return True

    # -- scoring ----------------------------------------------------------------------------
    def extract(self, text: str, mode: str = "direct", scoring: str = "paper") -> str | None:
        """The prediction in a model output (``ftcot.scoring`` documents the rules)."""
        return rules.extract(text, self.answer_format, mode, scoring)

    def is_correct(self, prediction: str | None, gold: str, scoring: str = "paper") -> bool:
        """Whether an extracted prediction matches the gold answer under the ``scoring`` rules."""
        return rules.is_correct(prediction, gold, self.answer_format, scoring)

    # -- prompts ----------------------------------------------------------------------------
    def few_shot_prompt(self) -> str:
        """The few-shot-CoT exemplars from ``few_shot_cot_prompts.json``, ending in a newline."""
        key = self.few_shot_key or self.name
        path = self.data_dir / PROMPTS_FILE
        prompts = _read_json_cached(path, task=self.name)
        entry = prompts.get(key) if isinstance(prompts, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
            raise UserError(f"task {self.key} has no few-shot-CoT exemplars in {path}")
        return entry["prompt"].rstrip("\n") + "\n"

    def oracle_rationales(self, example: Example) -> list[str]:
        """Step-by-step rationales for ``example`` that the ``oracle`` teacher writes: the first is
        canonical, the others alternative phrasings (drawn for diverse reasoning). UserError by
        default: override it where the task can compute (or has) rationales."""
        raise UserError(f"task {self.key} has no oracle rationales; use a teacher that writes them")

    def oracle_mistake(self, example: Example, rng: random.Random) -> tuple[list[str], str]:
        """Phrasings of a rationale that goes wrong at one step chosen with ``rng`` and carries
        the wrong state through, and the wrong answer it ends in."""
        raise UserError(f"task {self.key} cannot make oracle mistakes; use the oracle without error=")

    def present(self) -> bool:
        """Whether the task's data is there (always, for generated tasks)."""
        return True

    def changed_files(self) -> list[RawFile]:
        """Raw data files whose checksum no longer matches (none, for a task without raw files)."""
        return []

    def status(self, checksums: bool = True) -> dict[str, Any]:
        """What ``ftcot data status`` shows for this task."""
        return {"task": self.key, "generated": self.generated, "present": True, "ok": True,
                "distillable": True, "files": [], "missing": []}


MAX_GENERATED = 1_000_000
"""The most examples a generated task makes (more would not fit in memory)."""

_EXAMPLES: dict[tuple, tuple[list[Example], dict[int, Example]]] = {}
_JSON: dict[tuple, Any] = {}


def clear_cache() -> None:
    """Forget parsed examples and files (tests use it)."""
    _EXAMPLES.clear()
    _JSON.clear()


def _read_json_cached(path: Path, task: str) -> Any:
    stamp = stat_stamp(path)
    if stamp is None:
        raise UserError(f"task {task}: {path} is missing; fix with `{FETCH_HINT.format(task=task)}`")
    if stamp not in _JSON:
        _JSON[stamp] = read_json(path, task)
    return _JSON[stamp]


class DatasetTask(Task):
    """A task read from the original files under ``DATA_DIR/raw/<name>/``.

    Subclasses list ``files`` (in sample_index order) and implement ``_parse(path, raw_file)``,
    returning (question, answer, choices, rationale) tuples in file order.
    """

    files: ClassVar[tuple[RawFile, ...]] = ()
    split_names: ClassVar[tuple[str, ...]] = ("default",)
    split_sha256: ClassVar[dict[str, str]] = {}  # split name -> checksum of its file (built-ins: tasks.catalog)
    split_url: ClassVar[str | None] = None  # where ``ftcot data fetch`` gets split files ({stem}.json)
    generator: ClassVar[type[GeneratedTask] | None] = None

    @classmethod
    def from_spec(cls, argument: str | None = None, *, data_dir: str | Path | None = None, **_: Any) -> Task:
        """``name`` is the dataset; ``name:ARGS`` the ``generator``'s task, where one is named."""
        if argument is not None and cls.generator is not None:
            return cls.generator.from_spec(argument, data_dir=data_dir)
        return super().from_spec(argument, data_dir=data_dir)

    @property
    def raw_dir(self) -> Path:
        """``DATA_DIR/raw/<name>/``, where the task's files live."""
        return self.data_dir / "raw" / self.name

    def path(self, raw_file: RawFile) -> Path:
        """Where one of the task's files lives."""
        return self.raw_dir / raw_file.name

    @property
    def size(self) -> int:
        """The paper's size: every row of every file."""
        return sum(f.rows for f in self.files)

    def present_files(self) -> list[RawFile]:
        """The task's files that are on disk."""
        return [f for f in self.files if self.path(f).is_file()]

    def missing_files(self) -> list[RawFile]:
        """The task's files that are not on disk."""
        return [f for f in self.files if not self.path(f).is_file()]

    def _cache_stamp(self) -> Any:
        return tuple(stat_stamp(self.path(f)) for f in self.files)

    def _check_present(self) -> None:
        required = [f for f in self.missing_files() if not f.optional]
        if required or not self.present_files():
            f = (required or list(self.files))[0]
            raise UserError(
                f"task {self.name}: {self.path(f)} is missing; fix with `{FETCH_HINT.format(task=self.name)}` "
                f"or point --data-dir/FTCOT_DATA_DIR at a data directory"
            )

    def _load(self) -> list[Example]:
        """Rows of the files in order. A missing optional file keeps its declared row count in the
        numbering (AQUA's test rows stay 97467..97720 without train.json); present files count
        their actual rows, so a small mirror or fixture numbers its rows consecutively.
        ``ftcot data status`` checks the files against the paper's checksums."""
        self._check_present()
        out: list[Example] = []
        offset = 0
        for raw_file in self.files:
            path = self.path(raw_file)
            if not path.is_file():
                offset += raw_file.rows
                continue
            rows = list(self._parse(path, raw_file))
            for i, (question, answer, choices, rationale) in enumerate(rows):
                out.append(Example(self.name, offset + i, question, answer, choices, rationale))
            offset += len(rows)
        for raw_file in self.changed_files():
            print(f"warning: task {self.name}: {self.path(raw_file)} does not match its checksum (changed since "
                  f"it was installed?); results may not be comparable: reinstall it with "
                  f"`{FETCH_HINT.format(task=self.name)}`", file=sys.stderr)
        return out

    def changed_files(self) -> list[RawFile]:
        """Present raw files whose sha256 differs from the one they were published with."""
        return [f for f in self.present_files() if f.sha256 is not None and cached_sha256(self.path(f)) != f.sha256]

    @abstractmethod
    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[tuple[str, str, list[str] | None, str | None]]:
        """(question, answer, choices, rationale) for each record of one raw file, in file order."""

    def splits(self) -> list[str]:
        """``split_names``."""
        return list(self.split_names)

    def split_path(self, split: str) -> Path:
        """``DATA_DIR/splits/<name>__<split>.json``: ``{"train": [...], "test": [...]}``."""
        return self.data_dir / "splits" / f"{self.name}__{split}.json"

    def split_indices(self, split: str = "default") -> dict[str, list[int]]:
        """The sample indices of ``split``, read from ``split_path(split)``."""
        if split not in self.split_names:
            raise UserError(f"task {self.name} has no split {split!r}; its splits: {', '.join(self.split_names)}")
        path = self.split_path(split)
        data = _read_json_cached(path, task=self.name)
        try:
            train, test = data["train"], data["test"]
            if not all(isinstance(i, int) for i in train + test):
                raise TypeError
        except (KeyError, TypeError):
            raise UserError(
                f"task {self.name}: {path} must be {{\"train\": [ints], \"test\": [ints]}}; the file is corrupt, "
                f"fix with `{FETCH_HINT.format(task=self.name)}`"
            ) from None
        return {"train": list(train), "test": list(test)}

    def _missing_hint(self) -> str:
        missing = self.missing_files()
        if missing:
            names = ", ".join(str(self.path(f)) for f in missing)
            return f"missing {names}; fix with `{FETCH_HINT.format(task=self.name)}`"
        return super()._missing_hint()

    def fingerprint(self) -> str:
        """sha256 over the task name and the checksums of the raw files present."""
        stamp = self._cache_stamp()
        cached = _FINGERPRINTS.get((self.name, stamp))
        if cached is None:
            self._check_present()
            parts = [self.name] + [
                f"{f.name}:{sha256_of(self.path(f))}" for f in self.present_files()
            ]
            cached = hashlib.sha256("\n".join(parts).encode()).hexdigest()
            _FINGERPRINTS[(self.name, stamp)] = cached
        return cached

    def present(self) -> bool:
        """Whether every required file (and at least one file) is on disk."""
        return bool(self.present_files()) and not any(not f.optional for f in self.missing_files())

    def status(self, checksums: bool = True) -> dict[str, Any]:
        """Files present and missing, checksums (when ``checksums``), whether the task can be distilled."""
        files = []
        for f in self.files:
            path = self.path(f)
            entry: dict[str, Any] = {"file": f.name, "path": str(path), "rows": f.rows,
                                     "expected_sha256": f.sha256, "present": path.is_file()}
            if path.is_file() and checksums:
                actual = cached_sha256(path)
                entry["sha256"] = actual
                entry["ok"] = f.sha256 is None or actual == f.sha256
            files.append(entry)
        missing = [e["file"] for e in files if not e["present"]]
        present = self.present()
        return {
            "task": self.name,
            "generated": False,
            "present": present,
            "ok": present and all(e.get("ok", True) for e in files),
            "distillable": present and not missing,
            "files": files,
            "missing": missing,
        }


_FINGERPRINTS: dict[tuple, str] = {}


# -- generated tasks -----------------------------------------------------------------------------


class GeneratedTask(Task):
    """A seeded generator: ``name:param=value,...``. Examples 0..train-1 are the training split,
    the next ``test`` the test split; questions are distinct across the whole set.

    Subclasses set ``params`` (``Param(name, type, default, help)`` entries in key order; the
    defaults give the paper's dataset shape), optionally ``presets`` (name -> parameter values), and
    implement ``_generate(rng)`` returning one (question, answer, choices, meta) tuple. ``train``
    and ``test`` are required parameters (the split sizes); ``seed`` seeds the generator.
    """

    generated = True
    params: ClassVar[Any] = ()
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    version: ClassVar[int] = 1  # bump when the generator's output changes

    def __init__(self, **values: Any):
        super().__init__(data_dir=None)
        self.values = {p.name: values.get(p.name, p.default) for p in declared_params(type(self))}

    @classmethod
    def from_argument(cls, argument: str) -> GeneratedTask:
        """The task for ``name:ARGUMENT`` (``flips=4,seed=1`` or ``preset=demo``), validated."""
        what = f"task {cls.name}"
        extra = ("preset",) if cls.presets else ()
        given = parse_params(argument, declared_params(cls), what, extra)
        values: dict[str, Any] = {}
        preset = given.pop("preset", None)
        if preset is not None:
            if preset not in cls.presets:
                known = ", ".join(cls.presets) or "none"
                raise UserError(f"task {cls.name}: unknown preset {preset!r}; presets: {known}")
            values.update(cls.presets[preset])
        values.update(given)
        task = cls(**values)
        task.validate()
        return task

    @classmethod
    def from_spec(cls, argument: str | None = None, *, data_dir: str | Path | None = None, **_: Any) -> Task:
        """The task for ``name[:ARGUMENT]``; no argument gives the declared defaults. ``data_dir``
        holds what the generator does not make (few-shot prompts, recorded completions)."""
        task = cls.from_argument(argument or "")
        if data_dir is not None:
            task.data_dir = Path(data_dir)
        return task

    def validate(self) -> None:
        """UserError for parameter values the generator cannot use; override to check more."""
        for name in ("train", "test"):
            if self.values.get(name, 0) < 0:
                raise UserError(f"task {self.name}: {name} must be >= 0")
        if self.values.get("train", 0) + self.values.get("test", 0) > MAX_GENERATED:
            raise UserError(f"task {self.name}: train + test must be at most {MAX_GENERATED:,} examples")

    @property
    def key(self) -> str:
        """``name:param=value,...`` with every parameter, in declaration order."""
        return f"{self.name}:" + ",".join(f"{k}={v}" for k, v in self.values.items())

    @property
    def size(self) -> int:
        """``train + test``."""
        return int(self.values["train"]) + int(self.values["test"])

    def _cache_stamp(self) -> Any:
        return self.version

    def fingerprint(self) -> str:
        """A hash of the generator's ``version`` and the key."""
        return hashlib.sha256(f"generated:{self.version}:{self.key}".encode()).hexdigest()

    def split_indices(self, split: str = "default") -> dict[str, list[int]]:
        """Examples ``0..train-1`` train, the next ``test`` test; only the ``default`` split."""
        if split != "default":
            raise UserError(f"task {self.key} has no split {split!r}; generated tasks have only 'default'")
        train = int(self.values["train"])
        return {"train": list(range(train)), "test": list(range(train, self.size))}

    def _load(self) -> list[Example]:
        rng = random.Random(f"{self.name}:{self.values.get('seed', 0)}")
        seen: set[str] = set()
        out: list[Example] = []
        tries = 0
        limit = 50 * self.size + 1000
        while len(out) < self.size:
            tries += 1
            if tries > limit:
                raise UserError(
                    f"task {self.key}: only {len(out)} distinct questions found for these parameters; "
                    f"ask for fewer train/test examples or more {self._size_hint()}"
                )
            question, answer, choices, meta = self._generate(rng)
            if question in seen:
                continue
            seen.add(question)
            out.append(Example(self.key, len(out), question, answer, choices, None, meta))
        return out

    def _size_hint(self) -> str:
        return "steps"

    @abstractmethod
    def _generate(self, rng: Any) -> tuple[str, str, list[str] | None, dict[str, Any]]:
        """One random (question, answer, choices, meta) from ``rng`` (a ``random.Random``)."""

    def few_shot_prompt(self) -> str:
        """Exemplars written from the oracle rationales of the first training examples."""
        shots = self.examples()[: min(4, int(self.values["train"]))]
        if not shots:
            raise UserError(f"task {self.key} has no training examples to build few-shot exemplars from")
        lines = []
        for ex in shots:
            lines.append(f"Q: {ex.question}\nA: {self.oracle_rationales(ex)[0]} {FEW_SHOT_ANSWER_PREFIX} {ex.answer}.")
        return "\n".join(lines) + "\n"

