"""The live view of a running matrix: overall progress, teacher spend, and one row per cell
with its state, time and result. Long matrices show the active cells and the latest
finished ones; the rest are counted."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ftcot.tables import number_column, print_table, text_column

ACTIVE = ("preparing", "running", "recording")
STYLES = {"queued": "dim", "teacher": "blue", "preparing": "cyan", "running": "yellow", "recording": "cyan",
          "done": "green", "failed": "red", "retrying": "magenta"}
MAX_ROWS = 24


@dataclass
class CellRow:
    label: str
    state: str = "queued"
    started: float | None = None
    ended: float | None = None
    result: str = ""
    changed: float = field(default_factory=time.monotonic)

    def elapsed(self) -> str:
        if self.started is None:
            return ""
        seconds = (self.ended or time.monotonic()) - self.started
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class MatrixView:
    """Holds every cell's state; renders it live on a console (stderr under --json)."""

    def __init__(self, console: Console, labels: dict[str, str], already_done: int, title: str):
        self.console = console
        self.rows = {key: CellRow(label) for key, label in labels.items()}
        self.already_done = already_done
        self.title = title
        self.spend = 0.0
        self.started = time.monotonic()
        self._live: Live | None = None

    # -- state changes -------------------------------------------------------------------
    def update(self, key: str, state: str, result: str = "") -> None:
        row = self.rows[key]
        now = time.monotonic()
        if state in ("preparing",) and row.started is None:
            row.started = now
        if state in ("done", "failed"):
            row.ended = now
        if state == "retrying":
            row.ended = None
        row.state, row.changed = state, now
        if result:
            row.result = result

    def add_spend(self, usd: float) -> None:
        self.spend += usd

    # -- rendering -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        return counts

    def head(self) -> Text:
        """One line: the title, the cells by state, the teacher spend and the wall time."""
        counts = self.counts()
        total = len(self.rows)
        finished = counts.get("done", 0) + counts.get("failed", 0)
        wall = time.monotonic() - self.started
        head = Text.assemble(
            (f"{self.title}  ", "bold"),
            f"{finished}/{total} cells  ",
            (f"{counts.get('done', 0)} done ", "green"),
            (f"{counts.get('failed', 0)} failed ", "red" if counts.get("failed") else "dim"),
            (f"{sum(counts.get(s, 0) for s in ACTIVE)} running ", "yellow"),
            (f"{counts.get('queued', 0) + counts.get('retrying', 0)} queued", "dim"),
            f"  · {self.already_done} already done · teacher spend ${self.spend:.4f}"
            f" · {int(wall // 60)}:{int(wall % 60):02d}",
        )
        return head

    def table(self, rows: list[CellRow], whole: bool = False) -> Table:
        """The cells' rows; ``whole``: nothing cut (for a pipe or a file), else one line each."""
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        if whole:
            text_column(table, "cell")
            text_column(table, "state")
            number_column(table, "time")
            text_column(table, "result")
        else:
            table.add_column("cell", no_wrap=True, overflow="ellipsis", max_width=64)
            table.add_column("state", no_wrap=True, min_width=9)
            table.add_column("time", justify="right", no_wrap=True, min_width=5)
            table.add_column("result", overflow="ellipsis", no_wrap=True, max_width=40)
        for row in rows:
            table.add_row(row.label, Text(row.state, style=STYLES.get(row.state, "")), row.elapsed(),
                          Text(row.result, style="red" if row.state == "failed" else ""))
        return table

    def render(self) -> Group:
        """The live frame: the head, a progress bar and the active and latest cells."""
        counts = self.counts()
        total = len(self.rows)
        finished = counts.get("done", 0) + counts.get("failed", 0)
        width = 40
        filled = round(width * finished / max(1, total))
        bar = Text.assemble(("━" * filled, "green"), ("━" * (width - filled), "grey37"),
                            f" {100 * finished / max(1, total):.0f}%")
        active = [r for r in self.rows.values() if r.state in ACTIVE or r.state == "retrying"]
        finished_rows = sorted((r for r in self.rows.values() if r.state in ("done", "failed")),
                               key=lambda r: r.changed, reverse=True)
        queued = [r for r in self.rows.values() if r.state == "queued"]
        room = max(0, MAX_ROWS - len(active))
        shown_finished = finished_rows[:room]
        room -= len(shown_finished)
        shown = active + list(reversed(shown_finished)) + queued[:room]
        hidden = total - len(shown)
        parts: list[Any] = [self.head(), bar, self.table(shown)]
        if hidden > 0:
            parts.append(Text(f"... and {hidden} more cells", style="dim"))
        return Group(*parts)

    def __enter__(self) -> MatrixView:
        if self.console.is_terminal:  # off a terminal only the final state is printed, whole
            self._live = Live(console=self.console, get_renderable=self.render, refresh_per_second=2,
                              transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(*exc)
            self._live = None
            self.console.print()
        elif not self.console.is_terminal:
            self.console.print(self.head())
            print_table(self.console, self.table(list(self.rows.values()), whole=True))
            self.console.print()
