"""Registers ftcot's built-in reporters: the leaderboard's output formats (``--format``).

The contract is ``ftcot.api.Reporter``. Every format states the scoring rule set and the
reported epoch.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ftcot.api import Entry, Leaderboard, Register, Reporter, Row, hookimpl, number_column, table_text, text_column


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def entry_text(entry: Entry | None, show_n: bool) -> str:
    """``84.2 ± 1.3`` (percent), ``(n=150)`` on demand, ``–`` where there is no result."""
    if entry is None:
        return "–"
    text = percent(entry.accuracy)
    if entry.stderr is not None:
        text += f" ± {100 * entry.stderr:.1f}"
    if show_n:
        text += f" (n={entry.n})"
    return text


def table_rows(board: Leaderboard) -> list[tuple[Row, list[str], list[bool]]]:
    """Each row's texts (student, method, tasks..., mean) and which columns are the best."""
    out = []
    students, teachers = board.student_names(), board.teacher_names()
    for row in board.rows + board.teacher_rows:
        texts = [students.get(row.student, row.student) or "—", row.short_label(teachers)]
        best = [False, False]
        for task in board.tasks:
            texts.append(entry_text(row.entries.get(task), board.show_n))
            best.append(board.is_best(row, task))
        texts.append(percent(row.mean()))
        best.append(board.is_best(row, None))
        out.append((row, texts, best))
    return out


def headers(board: Leaderboard) -> list[str]:
    names = board.task_names()
    return ["student", "method", *(names[t] for t in board.tasks), "mean"]


def caption(board: Leaderboard) -> str:
    """The subtitle, and what each shortened name stands for."""
    return "\n".join([board.subtitle, *board.legend()])


class TableReporter(Reporter):
    name = "table"
    description = "A table for the terminal (best per column in bold green)."
    suffix = ".txt"

    def renderable(self, board: Leaderboard) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=board.title, caption=caption(board), caption_justify="left")
        for i, head in enumerate(headers(board)):
            (text_column if i < 2 else number_column)(table, head)
        for row, texts, best in table_rows(board):
            style = "italic dim" if row.is_teacher else ""
            table.add_row(*[Text(t, style="bold green" if b else style) for t, b in zip(texts, best)],
                          end_section=False)
        return table

    def render(self, board: Leaderboard) -> str:

        return table_text(self.renderable(board))


class MarkdownReporter(Reporter):
    name = "md"
    description = "A Markdown table (best per column in bold)."
    suffix = ".md"

    def render(self, board: Leaderboard) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        lines = [f"## {board.title}", "", f"_{board.subtitle}_", ""]
        lines += [f"- `{item}`" for item in board.legend()] + ([""] if board.legend() else [])
        heads = headers(board)
        lines.append("| " + " | ".join(cell(h) for h in heads) + " |")
        lines.append("|" + "|".join([":--", ":--"] + ["--:"] * (len(heads) - 2)) + "|")
        for _, texts, best in table_rows(board):
            lines.append("| " + " | ".join(f"**{cell(t)}**" if b else cell(t) for t, b in zip(texts, best)) + " |")
        return "\n".join(lines) + "\n"


class CsvReporter(Reporter):
    name = "csv"
    description = "The table as CSV: accuracy and standard error per task (fractions), n on demand."
    suffix = ".csv"

    def render(self, board: Leaderboard) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        head = ["student", "method", "teacher", "degree"]
        for task in board.tasks:
            head += [task, f"{task} stderr"] + ([f"{task} n"] if board.show_n else [])
        head += ["mean", "scoring", "report_epoch"]
        writer.writerow(head)
        for row in board.rows + board.teacher_rows:
            values: list[Any] = [row.student, row.method, row.teacher,
                                 row.degree if row.method == "fine-tune-cot" else ""]
            for task in board.tasks:
                entry = row.entries.get(task)
                values += ["" if entry is None else f"{entry.accuracy:.6f}",
                           "" if entry is None or entry.stderr is None else f"{entry.stderr:.6f}"]
                if board.show_n:
                    values.append("" if entry is None else entry.n)
            mean = row.mean()
            values += ["" if mean is None else f"{mean:.6f}", ",".join(board.scoring),
                       ",".join(board.report_epochs) if not row.is_teacher else ""]
            writer.writerow(values)
        return buffer.getvalue()


class JsonReporter(Reporter):
    name = "json"
    description = "A JSON list of cells: task, teacher, student, method, degree, seeds, accuracy, stderr, n."
    suffix = ".json"

    def render(self, board: Leaderboard) -> str:
        return json.dumps(board.to_json(), indent=2, ensure_ascii=False) + "\n"


class HtmlReporter(Reporter):
    name = "html"
    description = "One self-contained HTML page: the table and inline SVG plots."
    suffix = ".html"

    def render(self, board: Leaderboard) -> str:
        from ftcot.plugins.report_html import render_html

        return render_html(board, table_rows(board), headers(board))


BUILTIN_REPORTERS = (TableReporter, MarkdownReporter, CsvReporter, JsonReporter, HtmlReporter)


@hookimpl
def ftcot_register_reporters(register: Register) -> None:
    """The built-in reporters."""
    for cls in BUILTIN_REPORTERS:
        register(cls)
