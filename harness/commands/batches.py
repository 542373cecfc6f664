"""``ftcot batches``: the provider batch jobs recorded in the store (``ftcot teach --batch``)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich import box
from rich.table import Table

from ftcot.context import Context
from ftcot.tables import legend, number_column, short_names, text_column


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batches", help="the provider batch jobs recorded by `teach --batch`, with their status",
                       description="List the batch jobs teachers submitted (id, teacher, task, step, status, "
                                   "requests, created), as last polled; `ftcot teach ... --batch` polls them.")
    p.add_argument("--teacher", default=None, metavar="LABEL", help="only this teacher (e.g. litellm:gpt-4o-mini)")
    p.add_argument("--open", action="store_true", help="only jobs whose results were not all taken yet")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--abandon", metavar="ID", default=None,
                   help="give up a recorded batch the provider no longer knows: its requests are asked again by "
                        "the next `teach --batch`")
    p.set_defaults(func=run_batches)


def run_batches(ctx: Context, args: argparse.Namespace) -> int:
    if args.abandon is not None:
        batch = ctx.store.abandon_batch(args.abandon)
        ctx.console.print(f"abandoned {batch.id} ({batch.teacher}, {batch.task}): {batch.requests} requests will be "
                          f"asked again by the next `ftcot teach ... --batch`")
        return 0
    batches = ctx.read_store.batches(teacher=args.teacher, open_only=args.open)
    rows: list[dict[str, Any]] = [{"id": b.id, "teacher": b.teacher, "task": b.task, "step": b.step, "status": b.status,
             "requests": b.requests, "completed": b.completed, "failed": b.failed, "collected": b.collected,
             "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(b.created))} for b in batches]
    if ctx.json_output:
        ctx.emit_json(rows)
        return 0
    if not rows:
        ctx.console.print("no batch jobs recorded; `ftcot teach TASK --teacher litellm:MODEL --batch` submits some")
        return 0
    teachers, tasks = short_names(r["teacher"] for r in rows), short_names(r["task"] for r in rows)
    table = Table(title="batch jobs (as last polled)", box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left",
                  caption="\n".join(["collected: results taken; run the teach command again to poll the others",
                                     *legend(teachers, tasks)]))
    text_column(table, "id", no_wrap=True)
    for column in ("teacher", "task", "step", "status"):
        text_column(table, column)
    for column in ("requests", "done", "failed"):
        number_column(table, column)
    text_column(table, "collected")
    number_column(table, "created")
    for row in rows:
        table.add_row(row["id"], teachers[row["teacher"]], tasks[row["task"]], row["step"], row["status"], str(row["requests"]),
                      str(row["completed"]), str(row["failed"]), "yes" if row["collected"] else "no",
                      row["created"][:16].replace("T", " "))
    ctx.print_table(table)
    return 0
