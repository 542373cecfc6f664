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
            "with the baseline's. Exit 1 when a cell dropped by more than it can detect (a one-sided "
            "z-test at alpha 0.001 on the baseline's seed spread and both runs' binomial variance, at "
            "least 2 points), when the texts it builds (teacher prompts, training pair, evaluation "
            "prompt, stop marker) changed, or when it failed or is missing; 0 otherwise."
        ),
    )
    p.add_argument("baseline", type=Path, metavar="BASELINE.json")
    p.add_argument("--tolerance", type=float, default=None, metavar="POINTS",
                   help="a fixed tolerance in accuracy points instead of the statistical one")
    p.add_argument("--speed", type=float, default=None, metavar="FACTOR",
                   help="also fail a cell whose training or evaluation throughput fell by more than FACTOR "
                        "(e.g. 2: under half the baseline's); off by default, as machines differ")
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
    if args.speed is not None and not 1 <= args.speed < float("inf"):
        raise UserError(f"--speed must be a finite factor >= 1 (e.g. 2: half the baseline's throughput), "
                        f"got {args.speed}")
    baseline = Baseline.load(path)
    check_plugins(baseline, ctx.settings.data_dir)  # before the store is opened (or created)
    total = len(baseline.cells)

    def announce(i: int) -> None:  # one line per cell on stderr; the pipeline draws its own bars
        ctx.err.print(f"[{i + 1}/{total}] {baseline.cells[i].label}", highlight=False, soft_wrap=True,
                      markup=False)

    report = compare(baseline, ctx.store if args.run else ctx.read_store, ctx.settings.data_dir,
                     tolerance_points=args.tolerance, run=args.run, on_cell=announce, speed=args.speed)
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
                       "detects_points": [round(100 * c.detects, 2) for c in baseline.cells],
                       **{k: v for k, v in baseline.to_dict().items() if k != "cells"}})
    else:
        for line in warnings:
            ctx.console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
        ctx.console.print(f"wrote {path}: {len(baseline.cells)} cells, scoring {baseline.scoring}",
                          highlight=False, soft_wrap=True, markup=False)
        for cell in baseline.cells:
            spread = "one seed" if cell.spread is None else f"{cell.seeds} seeds, sd {100 * cell.spread:.1f}"
            ctx.console.print(f"  {cell.label}: {100 * cell.accuracy:.1f} (n={cell.n}, {spread}): "
                              f"detects drops over {100 * cell.detects:.1f} points",
                              highlight=False, soft_wrap=True, markup=False)
    return 0
