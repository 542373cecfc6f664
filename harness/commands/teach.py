"""``ftcot teach`` (ask a teacher for rationales) and ``ftcot teacher-report``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich import box
from rich.table import Table

from ftcot import registry as plugins
from ftcot.context import Context
from ftcot.contracts.teacher import ALL_COMPLETIONS, CORE_TEACHER_PARAMS
from ftcot.errors import NothingDone, Pending, UserError
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
    for name in FLAGS:
        add_option_flag(p, name)
    p.add_argument("--api-base", dest="api_base", default=None, metavar="URL",
                   help="the teacher option api_base (litellm: the server's address)")
    p.add_argument("--match", dest="match", default=None, metavar="HOW",
                   help="the teacher option match (replay: index or question)")
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


# the core's teacher options that ``ftcot teach`` takes as flags: name -> (flags, metavar);
# their type, default and help are the option's ``Param`` (``CORE_TEACHER_PARAMS``)
FLAGS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "temperature": (("-T", "--temperature"), "TEMP"),
    "concurrency": (("--concurrency",), "N"),
    "timeout": (("--timeout",), "S"),
    "max_tries": (("--max-tries",), "N"),
    "backoff": (("--backoff",), "S"),
    "max_cost": (("--max-cost",), "USD"),
    "rpm": (("--rpm",), "N"),
    "tpm": (("--tpm",), "N"),
    "batch": (("--batch",), None),
    "batch_wait": (("--wait",), None),
    "batch_poll": (("--poll",), "S"),
    ALL_COMPLETIONS: (("--all-completions",), None),
}
# options given by name (``-o NAME=VALUE``) or by a flag above, not read from the teacher's spec
SHORTHANDS = ("api_base", "match")


def add_option_flag(parser: argparse.ArgumentParser, name: str) -> None:
    """The flag of the core teacher option ``name``, typed and described by its ``Param``."""
    param = next(p for p in CORE_TEACHER_PARAMS if p.name == name)
    flags, metavar = FLAGS[name]
    shown = "" if param.default in (None, False) or "default" in param.help else f" (default {param.default})"
    if param.type is bool or metavar is None:
        parser.add_argument(*flags, dest=name, action="store_true", default=None, help=param.help + shown)
    else:
        parser.add_argument(*flags, dest=name, type=param.type, default=None, metavar=metavar, help=param.help + shown)


def add_all_completions(parser: argparse.ArgumentParser) -> None:
    """``--all-completions``: replay every recorded completion, whatever -D says."""
    add_option_flag(parser, ALL_COMPLETIONS)


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
    """The teacher options of ``ftcot teach``: ``-o NAME=VALUE`` and the option flags (not -T)."""
    options: dict[str, Any] = dict(_parse_option(o) for o in args.option)
    for name in (*FLAGS, *SHORTHANDS):
        value = getattr(args, name)
        if value is not None and name != "temperature":
            options[name] = value
    return options


def _examples(ctx: Context, args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The task and the examples ``ftcot teach`` asks about (``--split``, ``--limit``)."""
    task = plugins.create_task(args.task, data_dir=ctx.settings.data_dir)
    examples = {"train": task.train_examples, "test": task.test_examples, "all": task.examples}[args.split]()
    if args.limit is not None:
        examples = examples[: args.limit]
    if not examples:
        raise NothingDone(f"task {task.key} has no {args.split} examples to teach"
                          + (" (--limit 0)" if args.limit == 0 else "") + ": nothing to ask the teacher")
    return task, examples


def run_teach(ctx: Context, args: argparse.Namespace) -> int:
    from ftcot.pipeline.teach import pending_message, teach
    from ftcot.validation import check_teacher_options

    options = teach_options(args)
    check_teacher_options({**options, "temperature": args.temperature},
                          plugins.registry().resolve("teacher", args.teacher)[0])
    if args.limit is not None and args.limit < 0:
        raise UserError(f"--limit must be >= 0, got {args.limit}")
    if args.export:
        check_output(args.export, "export", ctx.settings.store_path)
    task, examples = _examples(ctx, args)
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
        _print_summary(ctx, args, summary)
    _check_outcome(ctx, args, result, summary)
    return 0


def _print_summary(ctx: Context, args: argparse.Namespace, summary: dict[str, Any]) -> None:
    """The one-line summary of a teach run (and what a replay file held)."""
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


def _check_outcome(ctx: Context, args: argparse.Namespace, result: Any, summary: dict[str, Any]) -> None:
    """Warnings on stderr, and NothingDone when no completion came back."""
    from ftcot.pipeline.teach import short_warning

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
