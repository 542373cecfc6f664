"""``ftcot tasks``: the registered tasks with their size, default split, answer type, whether
their data is present and the parameters of their generated variant. A task whose code fails is
listed with its problem."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from ftcot.context import Context
from ftcot.contracts.task import GeneratedTask
from ftcot.errors import UserError
from ftcot.registry import PluginInfo, failure_line, registry
from ftcot.specs import declared_params
from ftcot.tables import number_column, text_column


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list tasks: size, split, answer type, data present, parameters")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def generator_of(cls: type) -> type[GeneratedTask] | None:
    """The generated variant of a task class: itself, or the ``generator`` a dataset names."""
    if isinstance(cls, type) and issubclass(cls, GeneratedTask):
        return cls
    generator = getattr(cls, "generator", None)
    return generator if isinstance(generator, type) and issubclass(generator, GeneratedTask) else None


def describe(cls: type[Any], data_dir: Any) -> dict[str, Any]:
    """One task's row: ``name``, ``size``, ``train``, ``test``, ``answer_type``, ``present``,
    ``generator`` (the generated variant with its defaults), ``params``, ``problem`` (``broken``:
    the task's own code failed)."""
    row: dict[str, Any] = {"name": cls.name, "size": None, "train": None, "test": None,
                           "answer_type": getattr(cls, "answer_type", None), "present": False,
                           "distillable": False, "generator": None, "params": [], "presets": [],
                           "problem": None, "broken": False}
    try:
        generator = generator_of(cls)
        if generator is not None:
            row["params"] = [p.as_dict() for p in declared_params(generator)]
            row["presets"] = list(generator.presets)
            row["generator"] = generator.from_argument("").key
        task = cls.from_spec(None, data_dir=data_dir)
        row["answer_type"] = task.answer_type
        row["present"] = task.present()
        row["size"] = getattr(task, "size", None)
        split = task.split_indices("default")
        row["train"], row["test"] = len(split["train"]), len(split["test"])
        if row["present"]:
            row["size"] = len(task.examples())
            row["distillable"] = task.distillable()
            row["changed"] = [f.name for f in task.changed_files()]
    except Exception as exc:  # a plugin's bug shows in its own row, the other tasks still list
        row["problem"] = str(exc) if isinstance(exc, UserError) else failure_line(exc)
        row["broken"] = not isinstance(exc, UserError)
    return row


def skipped_row(info: PluginInfo) -> dict[str, Any]:
    """The row of a task class skipped at registration."""
    return {"name": info.name, "size": None, "train": None, "test": None, "answer_type": None,
            "present": False, "distillable": False, "generator": None, "params": [], "presets": [],
            "problem": f"not loaded: {info.problem}", "broken": True}


def parameter_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Each generated variant's parameters, one line each: ``NAME=DEFAULT (type)  help``."""
    lines = []
    for row in rows:
        if row["generator"] is None:
            continue
        lines.append(f"{row['name']}:NAME=VALUE,...")
        lines += [f"  {p['name']}={p['default']} ({p['type']})  {p['help']}".rstrip() for p in row["params"]]
        if row["presets"]:
            lines.append(f"  preset: {', '.join(row['presets'])} (named sets of the values above)")
    return lines


def run(ctx: Context, args: argparse.Namespace) -> int:
    reg = registry()
    rows = [describe(p.cls, ctx.settings.data_dir) for p in reg.all("task")]
    rows += [skipped_row(p) for p in reg.skipped if p.kind == "task"]
    if args.json:
        ctx.emit_json(rows)
        return 0
    table = Table(title=f"ftcot tasks (data: {ctx.settings.data_dir})")
    for column in ("name", "answer type"):
        text_column(table, column)
    for column in ("size", "train", "test"):
        number_column(table, column)
    for column in ("data", "generated variant"):
        text_column(table, column)
    for r in rows:
        data = Text("present" if r["present"] else "missing")
        if r["present"] and not r["distillable"]:
            data = Text("test only")
        if r.get("changed"):
            data = Text(f"{data.plain}, changed")
        if r["broken"]:
            data = Text(r["problem"], style="red")
        table.add_row(r["name"], r["answer_type"] or "-", str(r["size"] or "-"), str(r["train"] or "-"),
                      str(r["test"] or "-"), data, r["generator"] or "")
    ctx.print_table(table)
    ctx.console.print("Generated variants take parameters, e.g. coin_flip:flips=6,seed=1; "
                      "tracking_shuffled_objects:preset=demo is the 5-object, 5-swap CPU demo.", markup=False)
    for line in parameter_lines(rows):
        ctx.console.print(line, markup=False, highlight=False)
    if any(not r["present"] for r in rows):
        ctx.console.print("Missing data: `ftcot data status` says what and how to fix it.")
    return 0
