"""How every command prints a table, and how specs are shortened in table cells.

Numbers are never cut: numeric columns do not wrap (``number_column``), and ``print_table``
lays a table out at its natural width when stdout is not a terminal (a pipe, a file, a CI
log; ``COLUMNS`` is not allowed to cut it there). On a terminal the table fits the terminal's
width (``COLUMNS`` where set) by folding text columns; when even that cannot fit the numbers,
each row is printed as one record (``header value · header value ...``) wrapped between words.

Long specs (paths, URLs) are shortened by ``short_names`` alone, one way for every table,
and ``legend`` lists what each short name stands for; ``--json``, CSV and the HTML report
keep the full spec.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

WIDE = 10_000  # "no limit" when measuring a table's natural width
MIN_TEXT = 8  # a text column is folded down to this many characters, no fewer, on a narrow terminal
OPTION = re.compile(r"^\w+$")  # the NAME of a NAME=VALUE option
URL = re.compile(r"^[a-z][a-z0-9+.-]*://([^/]+)", re.IGNORECASE)


# -- consoles and tables --------------------------------------------------------------------------
def new_console(stderr: bool = False, **options: Any) -> Console:
    """A console for command output: off a terminal, lines of text are not wrapped either."""
    console = Console(stderr=stderr, highlight=False, **options)
    if not console.is_terminal:
        console.soft_wrap = True
    return console


def text_column(table: Table, header: str, **options: Any) -> None:
    """A column of text: folded, never cut with an ellipsis, when space runs short."""
    table.add_column(header, **{"overflow": "fold", **options})


def number_column(table: Table, header: str, **options: Any) -> None:
    """A column of numbers: right-aligned and never wrapped or cut."""
    table.add_column(header, **{"justify": "right", "no_wrap": True, "overflow": "fold", **options})


def _content_width(console: Console, table: Table, index: int) -> int:
    """The widest cell (or header) of one column, without padding."""
    column = table.columns[index]
    options = console.options.update_width(WIDE)
    cells = list(column.cells) + ([column.header] if table.show_header else [])
    return max((Measurement.get(console, options, cell).maximum for cell in cells), default=0)


def layout_width(console: Console, table: Table) -> int:
    """The width ``print_table`` lays ``table`` out at: its natural width off a terminal; on a
    terminal the terminal's width, or more when the numeric columns need it."""
    natural = Measurement.get(console, console.options.update_width(WIDE), table).maximum
    if not console.is_terminal:
        return natural
    foldable = sum(max(0, _content_width(console, table, i) - MIN_TEXT)
                   for i, column in enumerate(table.columns) if not column.no_wrap)
    return max(console.width, natural - foldable)


def print_table(console: Console, table: RenderableType) -> None:
    """Print ``table`` (a rich Table; anything else prints as usual) with its numbers whole."""
    if not isinstance(table, Table):
        console.print(table)
        return
    width = layout_width(console, table)
    records = _records(console, table) if width > console.width and console.is_terminal else None
    if records is not None:  # a terminal too narrow for the numbers: one record per row
        for line in records:
            console.print(line)
        return
    # the caption, and a title wider than the table, are lines of their own: a path in them is
    # not folded at the table's edge
    shown = copy.copy(table)
    shown.caption = None
    wide = console.options.update_width(WIDE)
    title_apart = table.title is not None and Measurement.get(console, wide, table.title).maximum > min(
        width, Measurement.get(console, wide, shown).maximum)
    if title_apart:
        shown.title = None
        console.print(table.title, style=table.title_style or "table.title")
    console.print(Segments(console.render(shown, console.options.update_width(width))), crop=False, soft_wrap=True)
    if table.caption is not None:
        console.print(table.caption, style=table.caption_style or "table.caption")


def _text(console: Console, cell: Any, one_line: bool = True) -> Text | None:
    """A cell as text, on one line unless not ``one_line`` (None: not text)."""
    if isinstance(cell, str):
        cell = console.render_str(cell, highlight=False)
    if not isinstance(cell, Text):
        return None
    text = cell.copy()
    if one_line:
        text.plain = text.plain.replace("\n", " ")
    return text


def _records(console: Console, table: Table) -> list[Text] | None:
    """The title, each row as ``header value · header value ...`` (wrapped between words, so no
    number is cut), then the caption; None when a cell is not text."""
    columns = [(_text(console, c.header) or Text(""), [_text(console, cell) for cell in c.cells]) for c in table.columns]
    if any(text is None for _, cells in columns for text in cells):
        return None
    title, caption = (_text(console, part, one_line=False) if part else None for part in (table.title, table.caption))
    for part, style in ((title, "bold"), (caption, "dim")):
        if part is not None:
            part.stylize(style)
    lines = [title] if title else []
    for i in range(table.row_count):
        line = Text()
        for header, cells in columns:
            cell = cells[i]
            if cell is None or not cell.plain.strip():
                continue
            line.append(" · " if line.plain else "")
            line.append_text(Text(f"{header.plain} ", style="dim"))
            line.append_text(cell)
        lines.append(line)
    return lines + ([caption] if caption else [])


def money(usd: float | None) -> str:
    """A cost in US dollars: cents from $1 up, four decimals below (a small cost never reads $0.00)."""
    if usd is None:
        return "n/a"
    return f"${usd:,.2f}" if usd >= 1 or usd == 0 else f"${usd:.4f}"


def table_text(table: RenderableType) -> str:
    """``table`` as plain text at its natural width (for files and messages)."""
    buffer = io.StringIO()
    console = Console(file=buffer, color_system=None, highlight=False, emoji=False, soft_wrap=True)
    print_table(console, table)
    return buffer.getvalue()


# -- short names for specs --------------------------------------------------------------------------
def short_spec(spec: str) -> str:
    """``spec`` with every path cut to its file name and every URL to its host:
    ``replay:/data/runs/{task}.json`` -> ``replay:{task}.json``."""
    name, sep, argument = spec.partition(":")
    if not sep or not argument:
        return spec
    parts = []
    for item in argument.split(","):
        key, eq, value = item.partition("=")
        if not (eq and OPTION.match(key)):
            key, eq, value = "", "", item
        parts.append(f"{key}{eq}{_short_value(value)}")
    return f"{name}:{','.join(parts)}"


def _short_value(value: str) -> str:
    url = URL.match(value)
    if url:
        return url.group(1)
    if value.startswith(("/", "~", "./", "../")) or value.count("/") >= 2:
        return value.rstrip("/").rsplit("/", 1)[-1] or value
    return value


def short_names(specs: Iterable[str]) -> dict[str, str]:
    """Each spec's short name in a table: its plugin name where no other spec shares it, else
    the spec with paths and URLs shortened (``short_spec``) where that is still unique, else the
    whole spec. ``legend`` says what each short name stands for."""
    specs = list(dict.fromkeys(specs))
    plugin = [spec.partition(":")[0] for spec in specs]
    short = [short_spec(spec) for spec in specs]
    names = {}
    for spec, name, cut in zip(specs, plugin, short):
        if plugin.count(name) == 1:
            names[spec] = name
        elif short.count(cut) == 1 and cut not in plugin:
            names[spec] = cut
        else:
            names[spec] = spec
    return names


def legend(*names: dict[str, str]) -> list[str]:
    """``short = full spec`` for every shortened name in ``names`` (maps from ``short_names``)."""
    merged: dict[str, str] = {}
    for mapping in names:
        merged.update(mapping)
    return [f"{short} = {full}" for full, short in merged.items() if short != full]
