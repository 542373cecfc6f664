"""``ftcot plugins``: every registered plugin with its kind, name, package, version and parameters;
a plugin skipped at registration is listed with its problem."""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from ftcot.context import Context
from ftcot.registry import registry
from ftcot.tables import text_column


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list registered plugins")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    plugins = registry().rows()
    if args.json:
        ctx.emit_json([p.as_dict() for p in plugins])
        return 0
    table = Table(title="ftcot plugins")
    for column in ("kind", "name", "package", "version", "description", "parameters"):
        text_column(table, column)
    for p in plugins:
        description = Text(f"not loaded: {p.problem}", style="red") if p.problem else Text(p.description)
        table.add_row(p.kind, p.name, p.package, p.version, description, ", ".join(map(str, p.params)))
    ctx.print_table(table)
    return 0
