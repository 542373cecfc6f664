"""``ftcot tasks``: the registered tasks with their size, default split, answer type and whether
their data is present."""

from __future__ import annotations

import argparse
from typing import Any

from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.registry import registry
from rich.table import Table


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list tasks: size, split, answer type, data present")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def describe(cls: type, data_dir: Any) -> dict[str, Any]:
    """One task's row: ``name``, ``size``, ``train``, ``test``, ``answer_type``, ``present``, ..."""
    task = cls.from_spec(None, data_dir=data_dir)
    row: dict[str, Any] = {"name": cls.name, "size": None, "train": None, "test": None,
                           "answer_type": task.answer_type, "present": False, "distillable": False,
                           "generator": None, "problem": None}
    generator = getattr(cls, "generator", None)
    if generator is not None:
        row["generator"] = generator.from_argument("").key
    try:
        row["present"] = task.present()
        row["size"] = getattr(task, "size", None)
        split = task.split_indices("default")
        row["train"], row["test"] = len(split["train"]), len(split["test"])
        if row["present"]:
            row["size"] = len(task.examples())
            row["distillable"] = task.distillable()
            row["changed"] = [f.name for f in task.changed_files()]
    except UserError as exc:
        row["problem"] = str(exc)
    return row


def run(ctx: Context, args: argparse.Namespace) -> int:
    rows = [describe(p.cls, ctx.settings.data_dir) for p in registry().all("task")]
    if args.json:
        ctx.emit_json(rows)
        return 0
    table = Table(title=f"ftcot tasks (data: {ctx.settings.data_dir})")
    for column in ("name", "answer type", "size", "train", "test", "data", "generated variant"):
        table.add_column(column)
    for r in rows:
        data = "present" if r["present"] else "missing"
        if r["present"] and not r["distillable"]:
            data = "test only"
        if r.get("changed"):
            data += ", changed"
        table.add_row(r["name"], r["answer_type"], str(r["size"] or "-"), str(r["train"] or "-"),
                      str(r["test"] or "-"), data, r["generator"] or "")
    ctx.console.print(table)
    ctx.console.print("Generated variants take parameters, e.g. coin_flip:flips=6,seed=1; "
                      "tracking_shuffled_objects:preset=demo is the 5-object, 5-swap CPU demo.", markup=False)
    if any(not r["present"] for r in rows):
        ctx.console.print("Missing data: `ftcot data status` says what and how to fix it.")
    return 0
