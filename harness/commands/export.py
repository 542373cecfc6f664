"""``ftcot export [CONFIG] --output DIR``: finished cells as results JSON and per-sample JSONL."""

from __future__ import annotations

import argparse
from pathlib import Path

from ftcot.context import Context
from ftcot.errors import UserError


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write finished cells as results JSON and per-sample JSONL")
    p.add_argument("config", type=Path, nargs="?", metavar="CONFIG",
                   help="a matrix config: only its cells (default: every finished cell in the store)")
    p.add_argument("--output", "-o", type=Path, required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--only", action="append", metavar="FIELD=VALUE,...",
                   help="select cells, e.g. task=coin_flip,student=tiny-llama (repeatable)")
    p.add_argument("--json", action="store_true", help="print the written folders as JSON")
    p.set_defaults(func=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ftcot.export import ExportedCell, export_cells
    from ftcot.matrix.plan import matches_only, parse_only
    from ftcot.pipeline import CellSpec, cell_key, load_task

    only = parse_only(args.only)
    if args.config is not None:
        from ftcot.commands.matrix import open_matrix

        matrix = open_matrix(ctx, args)
        store, data_dir = matrix.store, matrix.data_dir
        found = [(c.key, c.result) for c in matrix.cells(only) if c.result is not None and c.result.status == "done"]
    else:
        store, data_dir = ctx.store, ctx.settings.data_dir
        found = []
        for result in store.cells(status="done"):
            if result.scoring != ctx.settings.scoring or "spec" not in result.extra:
                continue
            spec = CellSpec.from_stored(result.extra["spec"])
            if matches_only(spec, only):
                found.append((cell_key(spec, result.scoring), result))
    if not found:
        raise UserError(f"no finished cells to export in {args.config or store.path}; run them first")
    tasks: dict[tuple[str, str], dict] = {}
    cells = []
    for key, result in found:
        split = result.extra.get("spec", {}).get("split", "default")
        if (result.task, split) not in tasks:
            task = load_task(result.task, data_dir)
            tasks[result.task, split] = {e.sample_index: e for e in task.test_examples(split)}
        cells.append(ExportedCell(key, result, store.predictions(key), tasks[result.task, split]))
    folders = export_cells(cells, args.output, store.path)
    if ctx.json_output:
        ctx.emit_json({"output": str(args.output), "cells": [str(f) for f in folders]})
    else:
        ctx.console.print(f"exported {len(folders)} cell(s) to {args.output} (results.json, one folder per cell)")
    return 0
