"""``ftcot training-data``: the (prompt, completion) pairs a cell trains on, as JSON lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftcot import formatting as fmt
from ftcot.commands.teach import add_all_completions, cell_teacher_options
from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.fileio import check_output, write_output
from ftcot.pipeline import CellSpec, load_task
from ftcot.pipeline.filter import parse_filter_specs
from ftcot.pipeline.run import training_samples
from ftcot.pipeline.student import training_jsonl
from ftcot.pipeline.teach import short_warning


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "training-data",
        help="write the (prompt, completion) pairs a fine-tune-cot or fine-tune cell trains on, as JSON lines",
        description="The training split's teacher completions that pass the filters (or, with --method "
        "fine-tune, its questions and answers), formatted exactly as the train stage formats them. "
        'One JSON object a line: {"prompt", "completion", "sample_index", "completion_index"}.',
    )
    p.add_argument("task", metavar="TASK")
    p.add_argument("--teacher", metavar="SPEC", default=None, help="teacher spec (needed for fine-tune-cot)")
    p.add_argument("--method", choices=fmt.TRAINED_METHODS, default=fmt.FINE_TUNE_COT,
                   help="fine-tune-cot (default) or fine-tune (vanilla pairs, no teacher)")
    p.add_argument("-D", "--degree", type=int, default=1, metavar="N",
                   help="teacher completions per example (default 1)")
    p.add_argument("-T", "--temperature", type=float, default=None, metavar="TEMP")
    add_all_completions(p)
    p.add_argument("--filters", action="append", default=None, metavar="LIST",
                   help="comma-separated filters in order (default: correct; 'none' for no filter)")
    p.add_argument("--student", metavar="SPEC", default=None, help="the student whose tokens max-tokens:N counts")
    p.add_argument("--format", choices=fmt.PAIR_LAYOUTS, default=fmt.DECODER,
                   help="decoder (default), encoder-decoder, or openai (the paper's GPT-3 fine-tuning files)")
    p.add_argument("--split", default="default", help="task split (default: default)")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def cell_spec(args: argparse.Namespace) -> CellSpec:
    """The cell whose training data is asked for."""
    if args.method == fmt.FINE_TUNE_COT and not args.teacher:
        raise UserError("fine-tune-cot pairs need a teacher: add --teacher SPEC, or --method fine-tune")
    filters = parse_filter_specs(args.filters) if args.filters is not None else ("correct",)
    if any(f.startswith("max-tokens") for f in filters) and not args.student:
        raise UserError("max-tokens:N counts student tokens: add --student SPEC")
    return CellSpec(task=args.task, teacher=args.teacher or "none", student=args.student or "none",
                    method=args.method, degree=args.degree, teacher_options=cell_teacher_options(args),
                    filters=filters, split=args.split)


def run(ctx: Context, args: argparse.Namespace) -> int:
    spec = cell_spec(args)
    store = Path(ctx.settings.store_path)
    output = check_output(args.output, "training data", store) if args.output else None
    task = load_task(spec.task, ctx.settings.data_dir)
    train = task.train_examples(spec.split)
    data = training_samples(spec, task, train, ctx.store, ctx.settings.scoring, progress=not args.no_progress)
    warning = short_warning(data.info.get("teacher", {}), len(train), spec.degree)
    if warning:
        ctx.err.print(warning, markup=False, soft_wrap=True)
    text = training_jsonl(data.samples, args.format)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_output(output, text, "training data", store)
        ctx.err.print(f"{len(data.samples)} {args.format} pairs of {task.key} written to {output}", markup=False)
    return 0
