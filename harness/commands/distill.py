"""``ftcot distill``: one cell, teacher -> filters -> training -> evaluation, reusing the store."""

from __future__ import annotations

import argparse

from ftcot import formatting as fmt
from ftcot.commands.teach import add_all_completions, cell_teacher_options
from ftcot.context import Context
from ftcot.pipeline import REPORT_EPOCHS, CellSpec, cell_key, run_cell
from ftcot.pipeline.filter import parse_filter_specs
from ftcot.pipeline.freshness import changed_message, changed_since


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "distill",
        help="distill a teacher into a student on one task and print its test accuracy",
        description="Teacher completions -> filters -> fine-tuning -> evaluation on the task's test split. "
        "Each step reuses what the store already holds; a finished run prints its result at once.",
    )
    p.add_argument("task", metavar="TASK", help="task spec, e.g. tracking_shuffled_objects:objects=5,swaps=5")
    p.add_argument("--teacher", metavar="SPEC", default=None,
                   help="teacher spec (needed for fine-tune-cot), e.g. oracle or litellm:openai/gpt-4o-mini")
    p.add_argument("--student", metavar="SPEC", required=True, help="student spec, e.g. tiny-llama or hf:gpt2")
    p.add_argument("--method", choices=fmt.METHODS, default=fmt.FINE_TUNE_COT, help="default: fine-tune-cot")
    p.add_argument("-D", "--degree", type=int, default=1, metavar="N",
                   help="diverse reasoning: teacher completions per example (default 1)")
    p.add_argument("-T", "--temperature", type=float, default=None, metavar="TEMP",
                   help="teacher sampling temperature (default 0 for D=1, else 0.7)")
    add_all_completions(p)
    p.add_argument("--seed", type=int, default=0, metavar="S", help="training seed (default 0)")
    p.add_argument("--epochs", type=int, default=None, metavar="E", help="training epochs (default 20)")
    p.add_argument("--batch-size", type=int, default=None, metavar="B", help="training batch size (default 8)")
    p.add_argument("--lr", type=float, default=None, metavar="LR", help="learning rate (default 3e-4)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="optimizer steps; replaces --epochs as the training budget")
    p.add_argument("--max-length", type=int, default=None, metavar="N", help="truncate inputs and labels (default 512)")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="generation limit at evaluation (default 1024)")
    p.add_argument("--lora", default=None, metavar="OPTS", help="LoRA, e.g. r=16,alpha=32 (hf students)")
    p.add_argument("--filters", action="append", default=None, metavar="LIST",
                   help="comma-separated filters applied in order (default: correct; 'none' for no filter)")
    p.add_argument("--report-epoch", choices=REPORT_EPOCHS, default="last",
                   help="which epoch's test accuracy is reported: last (default), best-on-val (validation slice "
                   "of the training split) or best-on-test (the paper's protocol; optimistic)")
    p.add_argument("--split", default="default", help="task split (default: default)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def build_spec(args: argparse.Namespace) -> CellSpec:
    from ftcot.errors import UserError

    if args.method == fmt.FINE_TUNE_COT and not args.teacher:
        raise UserError("fine-tune-cot needs a teacher: add --teacher SPEC (e.g. --teacher oracle)")
    training = {
        name: value
        for name, value in (
            ("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr),
            ("max_steps", args.max_steps), ("max_length", args.max_length),
            ("max_new_tokens", args.max_new_tokens), ("lora", args.lora),
        )
        if value is not None
    }
    teacher_options = cell_teacher_options(args)
    filters = parse_filter_specs(args.filters) if args.filters is not None else ("correct",)
    return CellSpec(
        task=args.task, teacher=args.teacher or "none", student=args.student, method=args.method,
        degree=args.degree, seed=args.seed, training=training, teacher_options=teacher_options,
        filters=filters, report_epoch=args.report_epoch, split=args.split,
    )


def run(ctx: Context, args: argparse.Namespace) -> int:
    spec = build_spec(args)
    scoring = ctx.settings.scoring
    key = cell_key(spec, scoring)
    stored = ctx.store.get_cell(key)
    cached = stored is not None and stored.status == "done"
    if cached and changed_since(stored, spec.task, ctx.settings.data_dir):
        ctx.err.print(changed_message(spec.task), style="yellow", highlight=False)
        cached = False
    cell = run_cell(spec, ctx.store, ctx.settings.data_dir, scoring, progress=True)
    correct = round((cell.accuracy or 0.0) * cell.n)
    if args.json:
        ctx.emit_json({
            "task": cell.task, "teacher": cell.teacher, "student": cell.student, "method": cell.method,
            "degree": cell.degree, "seed": cell.seed, "accuracy": cell.accuracy, "n": cell.n,
            "correct": correct, "train_samples": cell.train_samples, "scoring": cell.scoring,
            "epoch": cell.epoch, "report_epoch": cell.report_epoch,
            "report_epoch_label": cell.extra.get("report_epoch_label"),
            "filters": list(spec.filters) if spec.uses_teacher else [],
            "model_path": cell.model_path, "duration_s": cell.duration_s, "cached": cached, "key": key,
            "timing": cell.extra.get("timing", {}),
        })
        return 0
    c = ctx.console
    where = f"{cell.task} · {cell.method} · student {cell.student}"
    if spec.uses_teacher:
        where += f" · teacher {cell.teacher} (D={cell.degree})"
    c.print(f"[bold]{where}[/bold] · seed {cell.seed} · scoring {cell.scoring}")
    if spec.trains:
        epoch = f"epoch {cell.epoch}" if cell.epoch is not None else "final model"
        c.print(f"trained on {cell.train_samples} samples; reported: {epoch} "
                f"({cell.extra.get('report_epoch_label', cell.report_epoch)})")
    c.print(f"test accuracy [bold]{(cell.accuracy or 0.0):.4f}[/bold] ({correct}/{cell.n})"
            + (" [dim](from the store)[/dim]" if cached else ""))
    return 0
