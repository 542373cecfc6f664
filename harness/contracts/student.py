"""The student contract.

CONTRACT (the distillation pipeline relies on exactly these names):
- ``TrainConfig``: training and decoding hyper-parameters (a ``Record``: ``to_dict``/``from_dict``);
  the defaults are the paper's open-source student settings.
- ``Student``: a plugin class (``name``, ``description``, ``from_spec(argument, **options)``) with
  ``key`` (canonical spec) and ``load(corpus, seed) -> StudentModel``; optionally
  ``check_config(config)`` and ``operational_options``.
- ``StudentModel``: ``is_encoder_decoder``, ``train(...)``, ``generate(...)``, ``save(path)``,
  ``StudentModel.load_saved(path)``, ``count_tokens(text)``, ``parameter_count``, and optionally
  ``describe()`` (revision, dtype, parameter count: what a cell records about its student).

Options every ``Student.from_spec`` accepts (none of them changes ``key``): ``threads`` (torch
threads for this process; default ``$FTCOT_THREADS`` or torch's own choice) and ``device``
(``cpu``, ``cuda``, ``cuda:1``...; default ``$FTCOT_DEVICE`` or a GPU when there is one).
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ftcot.errors import UserError
from ftcot.records import Record

META_FILE = "ftcot-student.json"
"""Written next to a saved model's Hugging Face files: which ``StudentModel`` class reads it back."""


@dataclass
class TrainConfig(Record):
    """Training and decoding settings; defaults follow the paper's open-source students."""

    lr: float = 3e-4
    epochs: int = 20
    batch_size: int = 8
    max_length: int = 512  # inputs and labels are each truncated to this many tokens
    warmup_steps: int = 0  # linear warm-up, then a constant rate (no scheduler by default)
    grad_accum: int = 1
    max_steps: int | None = None  # optimizer steps; when set it replaces `epochs` as the budget
    max_new_tokens: int = 1024
    eval_batch_size: int = 32
    lora: str | None = None  # e.g. "r=16,alpha=32" (also dropout=, targets=q_proj+v_proj)
    weight_decay: float = 0.01  # torch.optim.AdamW's default, as the paper's code used it
    max_grad_norm: float | None = None  # clip the gradient's global L2 norm to this (e.g. 1.0); None or 0: no clipping
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, slower
    data_parallel: int = 1  # training processes, one per GPU (CPU processes on gloo without GPUs)

    def training_dict(self) -> dict[str, Any]:
        """The fields that change the trained weights (decoding and memory settings left out):
        what a trained model's identity should hash. Fields added after models were first
        stored are left out at their default, so those models keep their keys."""
        data = self.to_dict()
        for name in (*DECODING_FIELDS, *OPERATIONAL_FIELDS):
            data.pop(name)
        for name, default in LATER_DEFAULTS.items():
            if data.get(name) == default:
                data.pop(name)
        return data


DECODING_FIELDS = ("max_new_tokens", "eval_batch_size")
OPERATIONAL_FIELDS = ("gradient_checkpointing", "data_parallel")  # same weights, other memory/time trade-off
LATER_DEFAULTS: dict[str, Any] = {"max_grad_norm": None}
"""Weight-changing fields added after ftcot 0.1, with the default that leaves them out of keys."""


EpochCallback = Callable[[int, "StudentModel"], None]


class StudentModel(ABC):
    """A loaded (base or fine-tuned) student: trains on (input, target) pairs and generates."""

    is_encoder_decoder: bool = False
    text_format: str = "ftcot"  # "openai": the paper's GPT-3 prompt/completion format (formatting.openai_record)

    @abstractmethod
    def train(
        self,
        pairs: list[tuple[str, str]],
        config: TrainConfig,
        checkpoint_dir: Path,
        seed: int,
        on_epoch: EpochCallback | None = None,
        progress: bool = True,
    ) -> None:
        """Fine-tune on ``pairs`` (loss on target tokens only), one checkpoint per epoch in
        ``checkpoint_dir``, resuming from the last one there; ``on_epoch(epoch, self)`` after each
        epoch (1-based)."""

    @abstractmethod
    def generate(
        self, prompts: list[str], *, max_new_tokens: int, batch_size: int, stop: str | None = "END"
    ) -> list[str]:
        """Greedy continuations of ``prompts`` (without the prompt), each cut before ``stop``."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the model, its tokenizer and ``ftcot-student.json`` to the directory ``path``."""

    @classmethod
    def load_saved(cls, path: Path, **options: Any) -> StudentModel:
        """Read back a directory written by ``save`` (any student family)."""
        path = Path(path)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise UserError(f"{path} holds no saved student ({META_FILE} missing): train it again")
        meta = json.loads(meta_path.read_text())
        target = _model_class(meta.get("class", ""))
        if target is None:
            raise UserError(
                f"{path} was saved by an unknown student class {meta.get('class')!r}: "
                "install the plugin that wrote it, or train it again"
            )
        if cls is not StudentModel and not issubclass(target, cls):
            raise UserError(f"{path} holds a {target.__name__}, not a {cls.__name__}")
        return target._read_saved(path, meta, **options)

    @classmethod
    @abstractmethod
    def _read_saved(cls, path: Path, meta: dict[str, Any], **options: Any) -> StudentModel:
        """Build the model from a directory ``save`` wrote; ``meta`` is its ``ftcot-student.json``."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """How many of this student's tokens ``text`` takes (no special tokens)."""

    @property
    @abstractmethod
    def parameter_count(self) -> int:
        """How many parameters the model has (trainable or not)."""

    def describe(self) -> dict[str, Any]:
        """What a cell records about this student: ``parameters``, ``dtype`` (of its weights) and
        ``revision`` (the base model's commit where it has one), as in ``STUDENT_INFO_KEYS``."""
        return {"parameters": self.parameter_count, "dtype": None, "revision": None}


    def spent(self) -> dict[str, float]:
        """USD this model paid a provider (e.g. ``student_train``, ``student_eval``); local models: none."""
        return {}


STUDENT_INFO_KEYS = ("parameters", "dtype", "revision")


def saved_student_info(path: Path) -> dict[str, Any]:
    """``describe()`` of the student saved in ``path``, read from its ``ftcot-student.json``
    without loading the weights (models saved before it recorded dtype and revision give None)."""
    try:
        meta = json.loads((Path(path) / META_FILE).read_text())
    except (OSError, ValueError):
        return {}
    info = meta.get("info") or {"parameters": meta.get("parameter_count")}
    return {key: info.get(key) for key in STUDENT_INFO_KEYS}


# Top-level package names of ftcot 0.1, before everything moved under ``ftcot``.
_LEGACY_PACKAGES = ("students.", "harness.", "tasks.", "teachers.", "plugins.")


def _model_class(qualified: str) -> type[StudentModel] | None:
    """The ``StudentModel`` subclass named ``module.Class`` in a saved student's metadata (a
    model saved by ftcot 0.1, as ``students.model.Class``, is read by today's class)."""
    if qualified.startswith(_LEGACY_PACKAGES):
        qualified = "ftcot." + qualified.removeprefix("harness.")
    module_name, _, class_name = qualified.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name, None)
    except ImportError:
        return None
    return found if isinstance(found, type) and issubclass(found, StudentModel) else None


class Student(ABC):
    """A student plugin: names a base model; ``load`` builds it for a run."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    operational_options: ClassVar[frozenset[str]] = frozenset()
    """Options of ``NAME:ARGUMENT,option=value`` that do not change the result (an address, a
    poll interval): left out of cell keys, leaderboard labels and the store."""

    key: str

    @classmethod
    @abstractmethod
    def from_spec(cls, argument: str | None, **options: Any) -> Student:
        """The student for ``NAME[:ARGUMENT]``; ``options`` as listed in this module's docstring."""

    def check_config(self, config: TrainConfig) -> None:
        """UserError for training settings this student cannot honour; called before the teacher
        or any paid request runs. The default accepts every setting."""

    @abstractmethod
    def load(self, corpus: list[str], seed: int) -> StudentModel:
        """The base model. ``corpus`` is the run's own text (tiny students train their
        tokenizer on it); ``seed`` fixes random initial weights."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key}>"
