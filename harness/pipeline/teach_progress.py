"""The progress display of the teach stage: a rich progress bar on stderr (or nothing)."""

from __future__ import annotations

from ftcot.contracts.task import Task
from ftcot.contracts.teacher import Teacher


class ProgressView:
    """A rich progress bar on stderr: done/total, rate, ETA, failures and spend (or nothing)."""

    def __init__(self, enabled: bool, teacher: Teacher, task: Task, total: int):
        self.progress = None
        self.last_note = ""
        if not enabled or total == 0:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, t):
                return Text(f"{t.speed or 0:.1f}/s")

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=16), MofNCompleteColumn(), RateColumn(),
            TimeRemainingColumn(), TextColumn("failed {task.fields[failed]}"),
            TextColumn("${task.fields[spent]:.4f}"), TextColumn("[yellow]{task.fields[note]}"),
            console=Console(stderr=True), transient=False,
        )
        what = f"{teacher.label} · {task.key}"
        what = what if len(what) <= 28 else what[:27] + "…"
        self.task_id = self.progress.add_task(what, total=total, failed=0, spent=0.0, note="")
        self.last_note = ""

    def __enter__(self) -> ProgressView:
        if self.progress is not None:
            from rich.errors import LiveError

            try:
                self.progress.start()
            except LiveError:  # another live display (e.g. a matrix view) owns the terminal
                self.progress = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def advance(self, n: int, failed: int, spent: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task_id, advance=n, failed=failed, spent=spent)

    def note(self, text: str) -> None:
        """A status after the counts, e.g. ``waiting on tpm limit`` (shown until cleared)."""
        self.last_note = text
        if self.progress is not None:
            self.progress.update(self.task_id, note=text)
