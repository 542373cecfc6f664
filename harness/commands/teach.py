"""``ftcot teach`` (ask a teacher for rationales) and ``ftcot teacher-report``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich import box
from rich.table import Table

from ftcot import registry as plugins
from ftcot.context import Context
from ftcot.contracts.teacher import ALL_COMPLETIONS
from ftcot.errors import EXIT_PENDING, NothingDone, Pending, UserError
from ftcot.fileio import check_output
from ftcot.specs import split_assignment
from ftcot.tables import legend, number_column, short_names, text_column


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "teach", help="ask a teacher for Zero-shot-CoT rationales (cached, costed, resumable)",
        description="Ask a teacher for the two-step Zero-shot-CoT completions of a task's examples. "
                    "Completions are stored as they arrive; running again asks only for what is "
                    "missing (and retries failed ones).",
    )
    p.add_argument("task", metavar="TASK", help="task spec, e.g. coin_flip or coin_flip:flips=4")
    p.add_argument("--teacher", required=True, metavar="SPEC",
                   help="litellm:MODEL | vllm:MODEL | hf:MODEL | replay:PATH | oracle")
    p.add_argument("--split", choices=("train", "test", "all"), default="train",
                   help="which examples (default: train)")
    p.add_argument("-D", "--degree", type=int, default=1, metavar="N",
                   help="completions per example (diverse reasoning; default 1)")
    p.add_argument("-T", "--temperature", type=float, default=None, metavar="TEMP",
                   help="sampling temperature (default: 0 for -D 1, else 0.7)")
    p.add_argument("--concurrency", type=int, default=None, metavar="N", help="questions in flight (default 16); at -D 1, requests in flight")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds per request (default 60)")
    p.add_argument("--max-tries", type=int, default=None, metavar="N",
                   help="tries per request before the completion is recorded as failed (default 6)")
    p.add_argument("--backoff", type=float, default=None, metavar="S",
                   help="first backoff delay in seconds, doubled per try (default 1)")
    p.add_argument("--max-cost", type=float, default=None, metavar="USD",
                   help="stop asking before the spend of this run would exceed USD")
    p.add_argument("--rpm", type=float, default=None, metavar="N",
                   help="at most N requests a minute to this model (client-side; the progress line says when it waits)")
    p.add_argument("--tpm", type=float, default=None, metavar="N",
                   help="at most N tokens (prompt + completion) a minute to this model (client-side)")
    p.add_argument("--api-base", default=None, metavar="URL", help="API base URL (litellm teachers)")
    p.add_argument("--batch", action="store_true", default=None,
                   help="send both steps as provider batch jobs (half price, results within 24 h); a rerun "
                        "polls the recorded jobs instead of submitting again (litellm teachers)")
    p.add_argument("--wait", dest="batch_wait", action="store_true", default=None,
                   help="with --batch: poll until the batch jobs finish (progress bar) instead of exiting "
                        f"with status {EXIT_PENDING} while they run")
    p.add_argument("--poll", dest="batch_poll", type=float, default=None, metavar="S",
                   help="with --batch --wait: seconds between polls (default 30)")
    p.add_argument("--match", choices=("index", "question"), default=None,
                   help="replay: match recorded entries by sample_index (default) or question text")
    add_all_completions(p)
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N examples")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a further teacher option (e.g. endpoint=text, tensor_parallel_size=2); repeatable")
    p.add_argument("--export", default=None, metavar="PATH",
                   help="also write the completions as reasoning-teacher CompletionDataset JSON "
                        "(JSON lines when PATH ends in .jsonl), readable by replay:PATH")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_teach)

    r = sub.add_parser("teacher-report", help="per task and teacher: examples, completions, accuracy, tokens, cost")
    r.add_argument("tasks", nargs="*", metavar="TASK", help="task specs or names (default: all)")
    r.add_argument("--teacher", default=None, metavar="SPEC", help="only this teacher")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=run_report)


def add_all_completions(parser: argparse.ArgumentParser) -> None:
    """``--all-completions``: replay every recorded completion, whatever -D says."""
    parser.add_argument("--all-completions", action="store_true", default=None,
                        help="replay: use every completion the file holds (default: indices 0..D-1 of each example)")


def cell_teacher_options(args: argparse.Namespace) -> dict[str, Any]:
    """A cell's teacher options from ``-T`` and ``--all-completions``."""
    options: dict[str, Any] = {}
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.all_completions:
        options[ALL_COMPLETIONS] = True
    return options


def _parse_option(text: str) -> tuple[str, Any]:
    key, value = split_assignment(text, "--option")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.replace("-", "_"), parsed


def teach_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = dict(_parse_option(o) for o in args.option)
    for name in ("concurrency", "timeout", "max_tries", "backoff", "max_cost", "api_base", "match",
                 "all_completions", "rpm", "tpm", "batch", "batch_wait", "batch_poll"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def _refuse_unknown_options(teacher: str, given: set[str]) -> None:
    """UserError for an ``-o NAME`` that neither the teacher's ``params`` nor the options every
    teacher shares name (a teacher that declares no ``params`` reads what it likes)."""
    from ftcot.contracts.teacher import ALL_COMPLETIONS
    from ftcot.specs import declared_params
    from ftcot.validation import TeacherOptions

    declared = {p.name for p in declared_params(plugins.registry().resolve("teacher", teacher)[0])}
    if not declared:
        return
    known = declared | set(TeacherOptions.model_fields) | {ALL_COMPLETIONS}
    unknown = sorted(given - known)
    if unknown:
        raise UserError(f"teacher {teacher}: unknown option(s) {', '.join(unknown)}; it reads "
                        f"{', '.join(sorted(declared))} and the shared ones ({', '.join(sorted(TeacherOptions.model_fields))})")


def run_teach(ctx: Context, args: argparse.Namespace) -> int:
    from ftcot.pipeline.teach import pending_message, short_warning, teach
    from ftcot.validation import check_teacher_options

    options = teach_options(args)
    check_teacher_options({**options, "temperature": args.temperature})
    _refuse_unknown_options(args.teacher, {k for k in (_parse_option(o)[0] for o in args.option)})
    if args.limit is not None and args.limit < 0:
        raise UserError(f"--limit must be >= 0, got {args.limit}")
    if args.export:
        check_output(args.export, "export", ctx.settings.store_path)
    task = plugins.create_task(args.task, data_dir=ctx.settings.data_dir)
    if args.split == "train":
        examples = task.train_examples()
    elif args.split == "test":
        examples = task.test_examples()
    else:
        examples = task.examples()
    if args.limit is not None:
        examples = examples[: args.limit]
    if not examples:
        raise NothingDone(f"task {task.key} has no {args.split} examples to teach"
                          + (" (--limit 0)" if args.limit == 0 else "") + ": nothing to ask the teacher")
    result = teach(
        ctx.store, task, args.teacher, examples, degree=args.degree, temperature=args.temperature,
        scoring=ctx.settings.scoring, options=options, progress=not args.no_progress,
    )
    summary = result.summary()
    if result.pending:
        if ctx.json_output:
            ctx.emit_json(summary)
        for batch in result.pending:
            ctx.err.print(batch.status_line(), markup=False, soft_wrap=True)
        raise Pending(pending_message(result.pending, "run this command again") + "; --wait polls until they finish")
    if args.export:
        from ftcot.completion_dataset import write_completions

        summary["exported"] = write_completions(
            args.export, result.completions, examples, dataset_key=task.key, base_model=result.teacher,
            store=ctx.settings.store_path)
    if ctx.json_output:
        ctx.emit_json(summary)
    else:
        accuracy = "n/a" if summary["accuracy"] is None else f"{summary['accuracy']:.1%}"
        ctx.console.print(
            f"{summary['teacher']} on {summary['task']}: {summary['examples']} examples, "
            f"{summary['completions']} completions ({summary['new']} new, {summary['cached']} cached), "
            f"{summary['failed']} failed, accuracy {accuracy}, cost ${summary['cost_usd']:.4f} "
            f"(this run ${summary['spent_usd']:.4f})"
        )
        if "unmatched" in summary:
            ctx.console.print(
                f"replay: {summary['entries']} recorded entries, {summary['unmatched']} match no example "
                f"of the task, {summary['outside']} belong to examples outside --split {args.split}, "
                f"{summary['unused']} are past -D {args.degree} (stored for teacher-report, not used)"
            )
    warning = short_warning(result.notes, result.examples, result.degree)
    if warning:
        ctx.err.print(warning, markup=False, soft_wrap=True)
    if not result.completions and result.examples:
        hint = ("its entries match no example of the task: check that the file is for this task and "
                "--option match=index|question" if "unmatched" in summary else "see the teacher's notes above")
        raise NothingDone(f"no completions: {summary['teacher']} gave none for the {result.examples} examples; {hint}")
    if result.failed and not result.successes:
        reason = next((c.error for c in result.completions if c.failed and c.error), "") or "no reason recorded"
        raise NothingDone(f"all {result.failed} completions failed (e.g. {reason.splitlines()[0]}); fix the "
                          f"cause and run the command again to retry them")
    if result.failed:
        ctx.err.print(f"{result.failed} completions failed (reasons are stored); run the command again to retry them")
    if result.stopped == "max_cost":
        ctx.err.print(f"stopped before exceeding --max-cost {args.max_cost}: {result.missing} completions not asked")
    return 0


def run_report(ctx: Context, args: argparse.Namespace) -> int:
    from ftcot.teacher_report import ACCURACY_OVER, teacher_report

    rows = teacher_report(ctx.read_store, args.tasks or None, args.teacher)
    if ctx.json_output:
        ctx.emit_json(rows)
        return 0
    if not rows:
        ctx.console.print("no teacher completions stored yet; run `ftcot teach TASK --teacher SPEC`")
        return 0
    tasks, teachers = short_names(r["task"] for r in rows), short_names(r["teacher"] for r in rows)
    table = Table(title="teacher completions (done: successful ones)", box=box.SIMPLE_HEAD, pad_edge=False,
                  caption="\n".join([f"acc.: correct / done, over {ACCURACY_OVER}", *legend(tasks, teachers)]),
                  caption_justify="left")
    text_column(table, "task")
    text_column(table, "teacher")
    for column in ("examples", "done", "failed", "acc.", "tokens", "USD"):
        number_column(table, column)
    for row in rows:
        accuracy = "n/a" if row["accuracy"] is None else f"{row['accuracy']:.1%}"
        table.add_row(tasks[row["task"]], teachers[row["teacher"]], str(row["examples"]), str(row["completions"]),
                      str(row["failed"]), accuracy, f"{row['prompt_tokens'] + row['completion_tokens']:,}",
                      f"{row['cost_usd']:.4f}")
    ctx.print_table(table)
    return 0
