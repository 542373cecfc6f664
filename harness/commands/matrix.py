"""``ftcot matrix plan|run CONFIG``: plan and run a whole grid of cells from one TOML file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.tables import legend, money, number_column, short_names, text_column


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("matrix", help="plan or run a matrix of cells from a TOML config")
    msub = p.add_subparsers(dest="matrix_command", metavar="ACTION")
    plan = msub.add_parser("plan", help="list the cells, what is done, and what the teachers still cost")
    plan.add_argument("config", type=Path, metavar="CONFIG")
    plan.add_argument("--only", action="append", metavar="FIELD=VALUE,...",
                      help="select cells, e.g. task=coin_flip,student=tiny-llama (repeatable)")
    plan.add_argument("--json", action="store_true", help="print JSON")
    plan.set_defaults(func=run_plan)
    run = msub.add_parser("run", help="run the cells not yet done, with a live view")
    run.add_argument("config", type=Path, metavar="CONFIG")
    run.add_argument("--only", action="append", metavar="FIELD=VALUE,...",
                     help="select cells, e.g. task=coin_flip,student=tiny-llama (repeatable)")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local worker processes (default) or Ray tasks")
    run.add_argument("--address", default=None, metavar="ADDR",
                     help="Ray cluster address (with --executor ray; default: start a local Ray)")
    run.add_argument("--json", action="store_true", help="print a JSON summary")
    run.set_defaults(func=run_run)
    p.set_defaults(func=lambda ctx, args: (p.print_help(), 2)[1])


def open_matrix(ctx: Context, args: argparse.Namespace, read_only: bool = False):
    """The matrix of ``args.config`` on its store: ``--store`` when given, else the config's
    ``store``, else the default. ``read_only``: a missing store is not created."""
    from ftcot.matrix import Matrix, load_config
    from ftcot.store import Store

    config = load_config(args.config)
    if config.store is not None and not ctx.settings.store_given:
        store = Store(config.store, create=not read_only)
    else:
        store = ctx.read_store if read_only else ctx.store
    return Matrix.open(config, store=store, data_dir=ctx.settings.data_dir, scoring=ctx.settings.scoring)


def _only(args: argparse.Namespace):
    from ftcot.matrix.plan import parse_only

    return parse_only(args.only)


def run_plan(ctx: Context, args: argparse.Namespace) -> int:
    matrix = open_matrix(ctx, args, read_only=True)
    summary = matrix.plan(_only(args))
    counts = summary.counts()
    if args.json:
        ctx.emit_json({
            "config": str(args.config), "store": str(matrix.store.path), "scoring": matrix.scoring,
            **counts,
            "cells_list": [{"key": c.key, "status": c.status, **c.spec.to_dict(),
                            "accuracy": c.result.accuracy if c.result else None,
                            "error": c.result.error if c.result else None} for c in summary.cells],
            "teachers": [t.to_dict() for t in summary.teachers],
            "teacher_calls": sum(t.calls for t in summary.teachers),
            "prompt_tokens": sum(t.prompt_tokens for t in summary.teachers),
            "completion_tokens": sum(t.completion_tokens for t in summary.teachers),
            "cost_usd": _total_cost(summary.teachers),
            "teacher_phase": teacher_phase(summary.teachers),
        })
        return 0
    tasks = short_names([c.spec.task for c in summary.cells] + [t.task for t in summary.teachers])
    teachers = short_names([c.spec.teacher for c in summary.cells] + [t.teacher for t in summary.teachers])
    from ftcot.pipeline.cell import public_student

    students = short_names(public_student(c.spec.student) for c in summary.cells)
    if len(summary.cells) <= MAX_LISTED:
        ctx.print_table(_cells_table(args, matrix, summary, tasks, teachers, students))
    else:
        ctx.print_table(_grouped_table(args, matrix, summary, tasks))
    ctx.console.print(f"{counts['cells']} cells: [green]{counts['done']} done[/], "
                      f"[red]{counts['failed']} failed[/] (run again), [yellow]{counts['todo']} to do[/]")
    if summary.teachers:
        ctx.print_table(_teachers_table(summary.teachers, tasks, teachers))
        for t in summary.teachers:
            if t.note:
                ctx.console.print(f"  {tasks[t.task]} · {teachers[t.teacher]}: {t.note}",
                                  style="dim" if not t.examples == 0 else "yellow")
        total = _total_cost(summary.teachers)
        prompt, completion = (sum(t.prompt_tokens for t in summary.teachers),
                              sum(t.completion_tokens for t in summary.teachers))
        ctx.console.print(f"estimated teacher calls: {sum(t.calls for t in summary.teachers):,}, tokens: "
                          f"{prompt + completion:,} ({prompt:,} in, {completion:,} out), cost: "
                          + ("unknown for some models" if total is None else money(total))
                          + " (token counts are upper bounds until completions are stored)")
        phase = teacher_phase(summary.teachers)
        cost = "unknown for some models" if phase["cost_usd"] is None else money(phase["cost_usd"])
        ctx.console.print(f"teacher phase (before the cells, all groups at once): {phase['groups']} groups, "
                          f"{phase['requests']:,} requests, {phase['tokens']:,} tokens, cost {cost}")
    for line in legend(tasks, teachers, students):
        ctx.console.print(line, markup=False, highlight=False, style="dim")
    return 0


def teacher_phase(teachers) -> dict:
    """What ``matrix run`` asks the teachers for before the cells: the groups of training
    questions with completions still to write, their requests, tokens and cost."""
    groups = [t for t in teachers if t.part == "train" and t.calls]
    return {"groups": len(groups), "requests": sum(t.requests for t in groups),
            "tokens": sum(t.prompt_tokens + t.completion_tokens for t in groups),
            "cost_usd": _total_cost(groups)}


MAX_LISTED = 60
STATUS_STYLES = {"done": "green", "failed": "red", "todo": "yellow"}


def _title(args, matrix) -> str:
    return f"matrix {args.config} · store {matrix.store.path} · scoring {matrix.scoring}"


def _cells_table(args, matrix, summary, tasks, teachers, students) -> Table:
    from ftcot.pipeline.cell import public_student

    table = Table(title=_title(args, matrix))
    for column in ("task", "teacher", "student", "method"):
        text_column(table, column)
    for column in ("D", "seed"):
        number_column(table, column)
    text_column(table, "status")
    for cell in summary.cells:
        s = cell.spec
        status = cell.status
        if cell.result is not None and cell.result.accuracy is not None:
            status += f" ({cell.result.accuracy:.3f})"
        table.add_row(tasks[s.task], teachers[s.teacher], students[public_student(s.student)], s.method,
                      str(s.degree), str(s.seed),
                      f"[{STATUS_STYLES[cell.status]}]{status}[/]")
    return table


def _grouped_table(args, matrix, summary, tasks) -> Table:
    """Many cells: counts per task and method."""
    table = Table(title=f"{_title(args, matrix)} (cells per task and method)")
    for column in ("task", "method"):
        text_column(table, column)
    for column in ("cells", "done", "failed", "to do"):
        number_column(table, column)
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for cell in summary.cells:
        counts = groups.setdefault((cell.spec.task, cell.spec.method), {"done": 0, "failed": 0, "todo": 0})
        counts[cell.status] += 1
    for (task, method), counts in groups.items():
        table.add_row(tasks[task], method, str(sum(counts.values())), str(counts["done"]), str(counts["failed"]),
                      str(counts["todo"]))
    return table


def _teachers_table(rows, tasks, teachers) -> Table:
    """What the teachers still cost: every count whole."""
    table = Table(title="teacher completions for the cells to do")
    for column in ("task", "teacher", "for"):
        text_column(table, column)
    for column in ("examples", "D", "needed", "cached", "calls", "requests", "tokens in", "tokens out", "cost"):
        number_column(table, column)
    for t in rows:
        table.add_row(tasks[t.task], teachers[t.teacher], t.part, *(f"{n:,}" for n in (
            t.examples, t.degree, t.needed, t.cached, t.calls, t.requests, t.prompt_tokens, t.completion_tokens)),
            money(t.cost_usd))
    return table


def _total_cost(teachers) -> float | None:
    costs = [t.cost_usd for t in teachers if t.calls]
    return None if any(c is None for c in costs) else float(sum(costs))


def run_run(ctx: Context, args: argparse.Namespace) -> int:
    if args.address and args.executor != "ray":
        raise UserError("--address names a Ray cluster: add --executor ray")
    started = time.monotonic()
    matrix = open_matrix(ctx, args)
    cells = matrix.cells(_only(args))
    results = matrix.run(cells, ctx.console, executor=args.executor, address=args.address)
    final = {c.key: results.get(c.key, c.result) for c in cells}
    failed = [k for k, r in final.items() if r is None or r.status != "done"]
    if args.json:
        ctx.emit_json({
            "config": str(args.config), "store": str(matrix.store.path), "scoring": matrix.scoring,
            "cells": len(cells), "ran": len(results), "done": len(cells) - len(failed), "failed": len(failed),
            "seconds": round(time.monotonic() - started, 2),
            "results": [{"key": k, **r.to_dict()} for k, r in final.items() if r is not None],
        })
    else:
        from ftcot.registry import create_reporter

        if not results:
            ctx.console.print(f"all {len(cells)} cells already done; nothing to run")
        board = matrix.leaderboard()
        if board.rows:
            ctx.print_table(create_reporter("table").renderable(board))
        for key in failed:
            result = final[key]
            label = next(c.label for c in cells if c.key == key)
            ctx.console.print(f"[red]failed[/] {label}: {result.error if result else 'not run'}")
    return 1 if failed else 0
