"""``ftcot plugins``: every registered plugin with its kind, name, package and version."""

from __future__ import annotations

import argparse

from rich.table import Table

from ftcot.context import Context
from ftcot.registry import registry


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list registered plugins")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    plugins = registry().all()
    if args.json:
        ctx.emit_json([p.as_dict() for p in plugins])
        return 0
    table = Table(title="ftcot plugins")
    for column in ("kind", "name", "package", "version", "description"):
        table.add_column(column)
    for p in plugins:
        table.add_row(p.kind, p.name, p.package, p.version, p.description)
    ctx.console.print(table)
    return 0
