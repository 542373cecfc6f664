"""``ftcot leaderboard [CONFIG]``: the stored results as a table, Markdown, CSV, JSON or HTML."""

from __future__ import annotations

import argparse
from pathlib import Path

from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.fileio import check_output, write_output


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="show results as a leaderboard (rows student × method, columns tasks)")
    p.add_argument("config", type=Path, nargs="?", metavar="CONFIG",
                   help="a matrix config: only its cells (default: every cell in the store)")
    p.add_argument("--format", default="table", metavar="FORMAT",
                   help="a reporter: table, md, csv, json, html or one a plugin adds (default: table)")
    p.add_argument("--output", type=Path, default=None, metavar="PATH", help="write to a file instead of stdout")
    p.add_argument("--show-n", action="store_true", help="show how many test examples each cell scored")
    p.set_defaults(func=run)


def build_board(ctx: Context, config_path: Path | None, show_n: bool):
    from ftcot.leaderboard import build, teacher_test_accuracy

    if config_path is not None:
        from ftcot.commands.matrix import open_matrix

        matrix = open_matrix(ctx, argparse.Namespace(config=config_path), read_only=True)
        return matrix.leaderboard(show_n=show_n)
    cells = [c for c in ctx.read_store.cells() if c.scoring == ctx.settings.scoring]
    teachers = teacher_test_accuracy(ctx.read_store, cells, ctx.settings.data_dir)
    return build(cells, teachers, show_n=show_n, title=f"ftcot leaderboard: {ctx.read_store.path}",
                 scoring=ctx.settings.scoring)


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ftcot.registry import create_reporter

    reporter = create_reporter(args.format)
    if args.output is not None:  # refuse a bad path before any work
        check_output(args.output, f"{args.format} leaderboard", ctx.settings.store_path)
    board = build_board(ctx, args.config, args.show_n)
    if not board.rows and args.format != "json":
        where = args.config or ctx.settings.store_path
        raise UserError(f"no finished cells for {where} (scoring {', '.join(board.scoring) or ctx.settings.scoring}); "
                        f"run `ftcot matrix run CONFIG` or `ftcot distill` first")
    if args.output is not None:
        write_output(args.output, reporter.render(board), f"{args.format} leaderboard", ctx.settings.store_path)
        ctx.err.print(f"wrote {args.format} leaderboard to {args.output}")
    elif args.format == "table":
        ctx.print_table(reporter.renderable(board))
    else:
        print(reporter.render(board), end="")
    return 0
