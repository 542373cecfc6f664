"""``ftcot filter-report``: how many teacher completions each filter keeps and drops, and why."""

from __future__ import annotations

import argparse

from rich.table import Table

from ftcot import formatting as fmt
from ftcot.commands.teach import add_all_completions, cell_teacher_options
from ftcot.context import Context
from ftcot.errors import NothingDone, UserError
from ftcot.pipeline import CellSpec, filter_completions, load_task
from ftcot.pipeline.filter import parse_filter_specs
from ftcot.pipeline.teach import short_warning, teach_cell
from ftcot.tables import number_column, text_column


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "filter-report",
        help="kept/dropped counts per filter for a teacher's completions on a task",
        description="Runs the filters over the teacher's completions for the task's training split. "
        "Completions come from the store (teachers that compute them, such as oracle and replay, write "
        "them on the fly); a report never calls a model: run `ftcot teach` first.",
    )
    p.add_argument("task", metavar="TASK")
    p.add_argument("--teacher", metavar="SPEC", required=True)
    p.add_argument("--filters", action="append", default=None, metavar="LIST",
                   help="comma-separated filters in order (default: correct)")
    p.add_argument("-D", "--degree", type=int, default=1, metavar="N")
    p.add_argument("-T", "--temperature", type=float, default=None, metavar="TEMP")
    add_all_completions(p)
    p.add_argument("--student", metavar="SPEC", default=None,
                   help="the student whose tokens max-tokens:N counts")
    p.add_argument("--split", default="default")
    p.add_argument("--drops", type=int, default=5, metavar="N",
                   help="show up to N dropped completions per filter (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (every drop with its filter and reason)")
    p.set_defaults(func=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    filters = parse_filter_specs(args.filters) if args.filters is not None else ("correct",)
    if any(f.startswith("max-tokens") for f in filters) and not args.student:
        raise UserError("max-tokens:N counts student tokens: add --student SPEC")
    options = cell_teacher_options(args)
    spec = CellSpec(task=args.task, teacher=args.teacher, student=args.student or "none",
                    method=fmt.FINE_TUNE_COT, degree=args.degree, teacher_options=options,
                    filters=filters, split=args.split)
    scoring = ctx.settings.scoring
    task = load_task(spec.task, ctx.settings.data_dir)
    train = task.train_examples(spec.split)
    if args.drops < 0:
        raise UserError(f"--drops must be >= 0, got {args.drops}")
    taught = teach_cell(spec, task, train, ctx.read_store, scoring, progress=False, offline=True)
    completions = taught.completions
    if not completions:
        raise NothingDone(f"the store holds no completions of teacher {spec.teacher} for {task.key} "
                          f"(D={spec.degree}); ask for them first: ftcot teach {args.task} --teacher {spec.teacher}")
    warning = short_warning(taught.notes, taught.examples, spec.degree)
    if warning:
        ctx.err.print(warning, markup=False, soft_wrap=True)
    result = filter_completions(spec, task, train, completions, scoring)
    if args.json:
        ctx.emit_json({"task": task.key, "teacher": spec.teacher, "degree": spec.degree, "scoring": scoring,
                       "examples": len(train), "filters": list(filters),
                       "examples_kept": len({c.sample_index for c in result.kept}),
                       **result.to_dict(with_drops=True)})
        return 0
    ctx.console.print(f"[bold]{task.key}[/bold] · teacher {spec.teacher} · D={spec.degree} · scoring {scoring}")
    table = Table()
    text_column(table, "filter")
    for column in ("seen", "kept", "dropped"):
        number_column(table, column)
    for step in result.steps:
        table.add_row(step.filter, str(step.seen), str(step.kept), str(step.dropped))
    ctx.print_table(table)
    covered = len({c.sample_index for c in result.kept})
    ctx.console.print(f"{len(result.kept)} of {result.total} completions kept, "
                      f"covering {covered} of {len(train)} training examples")
    if args.drops > 0:
        for step in result.steps:
            drops = result.dropped_by(step.filter)
            if not drops:
                continue
            ctx.console.print(f"[bold]{step.filter}[/bold] dropped {len(drops)}, e.g.:", markup=True)
            for d in drops[: args.drops]:
                ctx.console.print(f"  example {d.sample_index} completion {d.completion_index}: {d.reason}",
                                  markup=False)
    return 0
