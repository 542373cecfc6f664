"""``ftcot check BASELINE.json``: the regression gate for CI (see ``ftcot.check``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from ftcot.check import Baseline, build_baseline, check_plugins, compare, print_report
from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.fileio import check_output


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="fail (exit 1) when a baseline's cells got worse",
        description=(
            "Run (or read from the store) the cells named in BASELINE and compare each one's accuracy "
            "with the baseline's. Exit 1 when a cell dropped by more than the tolerance, failed or is "
            "missing; 0 otherwise. The default tolerance is the larger of 2 points and two standard "
            "errors of the difference (binomial, from both runs' n)."
        ),
    )
    p.add_argument("baseline", type=Path, metavar="BASELINE.json")
    p.add_argument("--tolerance", type=float, default=None, metavar="POINTS",
                   help="a fixed tolerance in accuracy points instead of the statistical one")
    p.add_argument("--update", action="store_true",
                   help="write BASELINE from the store (its cells if it exists, else every finished cell)")
    p.add_argument("--no-run", dest="run", action="store_false",
                   help="only read the store: a cell not finished there counts as missing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    path: Path = args.baseline
    if args.update:
        return _update(ctx, args, path)
    if args.tolerance is not None and not 0 <= args.tolerance < float("inf"):
        raise UserError(f"--tolerance must be a finite number >= 0 points, got {args.tolerance}")
    baseline = Baseline.load(path)
    check_plugins(baseline, ctx.settings.data_dir)  # before the store is opened (or created)
    total = len(baseline.cells)

    def announce(i: int) -> None:  # one line per cell on stderr; the pipeline draws its own bars
        ctx.err.print(f"[{i + 1}/{total}] {baseline.cells[i].label}", highlight=False, soft_wrap=True,
                      markup=False)

    report = compare(baseline, ctx.store if args.run else ctx.read_store, ctx.settings.data_dir,
                     tolerance_points=args.tolerance, run=args.run, on_cell=announce)
    if args.json:
        ctx.emit_json({"baseline": str(path), "scoring": baseline.scoring, **report.to_dict()})
    else:
        print_report(report, ctx.console)
    return 0 if report.ok else 1


def _update(ctx: Context, args: argparse.Namespace, path: Path) -> int:
    check_output(path, "baseline", ctx.settings.store_path, owned=lambda content: True)
    existing = Baseline.load(path) if path.exists() else None
    scoring = existing.scoring if existing else ctx.settings.scoring
    specs = [c.spec for c in existing.cells] if existing else None
    baseline, warnings = build_baseline(ctx.read_store, ctx.settings.data_dir, scoring, specs)
    baseline.save(path, ctx.settings.store_path)
    if args.json:
        ctx.emit_json({"baseline": str(path), "cells": len(baseline.cells), "warnings": warnings,
                       **{k: v for k, v in baseline.to_dict().items() if k != "cells"}})
    else:
        for line in warnings:
            ctx.console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
        ctx.console.print(f"wrote {path}: {len(baseline.cells)} cells, scoring {baseline.scoring}",
                          highlight=False, soft_wrap=True, markup=False)
    return 0
