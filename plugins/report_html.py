"""The HTML leaderboard: one self-contained page (inline CSS, inline SVG, no scripts, nothing
fetched) with the table, which of the paper's claims it shows (where it has Fine-tune-CoT cells),
and three plots: accuracy vs student size per method, accuracy vs diversity degree D, and teacher
vs student accuracy per task."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from ftcot.api import METHOD_LABELS, Leaderboard, check_claims
from ftcot.plugins.svg_charts import Series, bar_chart, line_chart

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; }
p.meta { color: #555; margin-top: 0; }
p.legend { color: #555; font-size: .85rem; margin: .1rem 0; font-family: ui-monospace, monospace; }
table.leaderboard { border-collapse: collapse; margin: 1rem 0 2rem; font-size: .9rem; }
table.leaderboard th, table.leaderboard td { padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
table.leaderboard th { background: #f3f3f3; text-align: right; }
table.leaderboard th.label, table.leaderboard td.label { text-align: left; }
table.leaderboard td { text-align: right; font-variant-numeric: tabular-nums; }
table.leaderboard td.best { font-weight: bold; background: #e5f5e0; }
table.leaderboard tr.teacher td { font-style: italic; color: #666; background: #fafafa; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
svg.chart { border: 1px solid #e3e3e3; background: #fff; }
svg .chart-title { font-size: 14px; font-weight: 600; }
svg .tick, svg .legend { font-size: 11px; fill: #333; }
svg .axis { font-size: 12px; fill: #333; }
svg .grid { stroke: #e8e8e8; stroke-width: 1; }
svg .empty { font-size: 13px; fill: #999; }
ul.claims { list-style: none; padding: 0; margin: .5rem 0 2rem; }
ul.claims li { margin: .3rem 0; }
ul.claims .verdict { display: inline-block; width: 5.5rem; font-weight: 600; }
ul.claims li.shown .verdict { color: #2b7a2b; }
ul.claims li.not-shown .verdict { color: #a66300; }
ul.claims .evidence { color: #555; font-size: .85rem; }
"""


def _size_chart(board: Leaderboard) -> str:
    """Mean accuracy over tasks per student, one line per method (and D)."""
    students = board.students()
    names = board.student_names()
    known = all(s in board.parameters for s in students)
    position = {s: (board.parameters[s] if known else i + 1) for i, s in enumerate(students)}
    series: dict[str, list[tuple[float, float]]] = {}
    for row in board.rows:
        mean = row.mean()
        if mean is None:
            continue
        name = row.label
        series.setdefault(name, []).append((position[row.student], mean))
    ticks: list[tuple[float, str]]
    if known:
        ticks = [(position[s], f"{names[s]} ({_count(board.parameters[s])})") for s in students]
        label = "student size (parameters, log scale)"
    else:
        ticks = [(position[s], names[s]) for s in students]
        label = "student (parameter counts not recorded)"
    return line_chart("Accuracy vs student size", label, [Series(n, p) for n, p in series.items()],
                      "chart-size", log_x=known and len(set(position.values())) > 1, x_ticks=ticks)


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _degree_chart(board: Leaderboard) -> str:
    """Fine-tune-CoT accuracy against D, one line per student and task."""
    series: dict[str, list[tuple[float, float]]] = {}
    tasks, students = board.task_names(), board.student_names()
    for row in board.rows:
        if row.method != "fine-tune-cot":
            continue
        for task, entry in row.entries.items():
            name = f"{students[row.student]} · {tasks[task]}" + (f" ({row.teacher})" if row.teacher else "")
            series.setdefault(name, []).append((row.degree, entry.accuracy))
    degrees = sorted({x for points in series.values() for x, _ in points})
    return line_chart("Fine-tune-CoT accuracy vs diversity degree D", "degree D (log scale)",
                      [Series(n, p) for n, p in series.items()], "chart-degree",
                      log_x=len(degrees) > 1, x_ticks=[(d, str(d)) for d in degrees])


def _teacher_chart(board: Leaderboard) -> str:
    """Per task: each teacher's accuracy and the best student of each method."""
    series: dict[str, dict[int, float]] = {}
    for row in board.teacher_rows:
        for task, entry in row.entries.items():
            series.setdefault(f"teacher {row.teacher}", {})[board.tasks.index(task)] = entry.accuracy
    for row in board.rows:
        name = f"best {METHOD_LABELS.get(row.method, row.method)} student"
        for task, entry in row.entries.items():
            points = series.setdefault(name, {})
            g = board.tasks.index(task)
            points[g] = max(points.get(g, 0.0), entry.accuracy)
    names = board.task_names()
    return bar_chart("Teacher vs student accuracy per task", [names[t] for t in board.tasks],
                     [Series(n, sorted(p.items())) for n, p in series.items()], "chart-teacher")


def _table(board: Leaderboard, rows: list[tuple[Any, list[str], list[bool]]], heads: list[str]) -> str:
    parts = ['<table class="leaderboard" id="leaderboard"><thead><tr>']
    for i, head in enumerate(heads):
        parts.append(f'<th class="{"label" if i < 2 else "task"}" scope="col">{escape(head)}</th>')
    parts.append("</tr></thead><tbody>")
    for row, texts, best in rows:
        klass = "teacher" if row.is_teacher else "student"
        parts.append(f'<tr class="{klass}">')
        for i, (text, is_best) in enumerate(zip(texts, best)):
            classes = (["label"] if i < 2 else []) + (["best"] if is_best else [])
            parts.append(f'<td class="{" ".join(classes)}">{escape(text)}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _claims(board: Leaderboard) -> str:
    """The paper's four claims judged on this leaderboard; nothing without Fine-tune-CoT cells."""
    if not any(row.method == "fine-tune-cot" for row in board.rows):
        return ""
    items = []
    for claim in check_claims(board):
        klass, verdict = ("shown", "shown") if claim.shown else ("not-shown", "not shown")
        items.append(f'<li class="{klass}" data-claim="{claim.name}"><span class="verdict">{verdict}</span>'
                     f'{escape(claim.statement)} <span class="evidence">({escape(claim.evidence)})</span></li>')
    return f'<h2>The paper\'s claims</h2><ul class="claims" id="claims">{"".join(items)}</ul>'


def render_html(board: Leaderboard, rows: list[tuple[Any, list[str], list[bool]]], heads: list[str]) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    charts = "".join([_size_chart(board), _degree_chart(board), _teacher_chart(board)])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(board.title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(board.title)}</h1>"
        f'<p class="meta" id="meta">{escape(board.subtitle)} · accuracy in percent · '
        f"best per column highlighted · generated {when}</p>"
        + "".join(f'<p class="legend">{escape(item)}</p>' for item in board.legend())
        + f"{_table(board, rows, heads)}{_claims(board)}"
        f'<h2>Plots</h2><div class="charts">{charts}</div>'
        "</body></html>\n"
    )
