"""The reporter contract: a leaderboard output format (``ftcot leaderboard --format NAME``).

A reporter plugin subclasses ``Reporter``, sets ``name``, ``description`` and ``suffix`` (the
file extension ``--output`` suggests) and implements ``render(board) -> str``. The board is a
``Leaderboard``: ``tasks`` (the columns), ``rows`` (one ``Row`` per student × method × teacher ×
degree, whose ``entries`` map a task to an ``Entry``: accuracies over seeds, their mean and
standard error, ``n``), ``teacher_rows`` (the teachers' own accuracy), ``parameters`` (student
parameter counts), and ``scoring`` and ``report_epochs``, which every format must state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ftcot.leaderboard import Leaderboard


class Reporter(ABC):
    """Base class of leaderboard formats."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    suffix: ClassVar[str] = ".txt"

    @classmethod
    def from_spec(cls, argument: str | None = None, **options: Any) -> Reporter:
        """The reporter for ``NAME[:ARGUMENT]``; most formats take no argument."""
        return cls()

    @abstractmethod
    def render(self, board: Leaderboard) -> str:
        """The whole leaderboard in this format."""

    def renderable(self, board: Leaderboard) -> Any:
        """What the terminal shows: anything ``rich`` prints (by default the text of ``render``)."""
        return self.render(board)
