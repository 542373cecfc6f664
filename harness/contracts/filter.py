"""The filter contract: which teacher completions become training samples.

A filter plugin subclasses ``Filter``, sets ``name`` and implements ``reasons(completions,
context)``: one entry per completion, ``None`` to keep it or the reason it is dropped. The
pipeline runs the cell's filters in order, each on what the previous ones kept, and records
every drop with its provenance in a ``FilterResult``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ftcot.errors import UserError
from ftcot.records import Completion, Example

if TYPE_CHECKING:
    from ftcot.contracts.task import Task


@dataclass
class FilterContext:
    """What filters may need besides the completions themselves.

    ``examples`` maps sample_index to the example (gold answers); ``count_tokens`` counts
    student tokens of a text and is only given when a filter asks for it (``needs_tokens``).
    """

    task: Task | None = None
    examples: dict[int, Example] = field(default_factory=dict)
    scoring: str = "paper"
    count_tokens: Callable[[str], int] | None = None


class Filter(ABC):
    """Base class of filter plugins: subclass, set ``name``, implement ``reasons``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_tokens: ClassVar[bool] = False  # True: the context must carry ``count_tokens``

    def __init__(self, argument: str | None = None):
        self.argument = argument

    @classmethod
    def from_spec(cls, argument: str | None, **options: Any) -> Filter:
        """The filter for ``NAME[:ARGUMENT]``; this base takes no argument."""
        if argument is not None:
            raise UserError(f"filter {cls.name!r} takes no argument (got {argument!r}); write just {cls.name}")
        return cls()

    @property
    def spec(self) -> str:
        """``name[:argument]``: how drops and reports name this filter."""
        return self.name if self.argument is None else f"{self.name}:{self.argument}"

    @abstractmethod
    def reasons(self, completions: Sequence[Completion], context: FilterContext) -> list[str | None]:
        """One entry per completion: None to keep it, else why it is dropped."""


@dataclass
class Drop:
    """One dropped completion: which one, which filter dropped it, and why."""

    task: str
    sample_index: int
    completion_index: int
    teacher: str
    filter: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FilterStep:
    """Counts for one filter in a chain: how many it saw, kept and dropped."""

    filter: str
    seen: int
    kept: int
    dropped: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FilterResult:
    """The completions kept, every drop with its provenance, and per-filter counts."""

    kept: list[Completion]
    dropped: list[Drop]
    steps: list[FilterStep]

    @property
    def total(self) -> int:
        return len(self.kept) + len(self.dropped)

    def dropped_by(self, filter_spec: str) -> list[Drop]:
        return [d for d in self.dropped if d.filter == filter_spec]

    def to_dict(self, with_drops: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "completions": self.total,
            "kept": len(self.kept),
            "dropped": len(self.dropped),
            "steps": [s.to_dict() for s in self.steps],
        }
        if with_drops:
            data["drops"] = [d.to_dict() for d in self.dropped]
        return data
