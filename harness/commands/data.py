"""``ftcot data status|import|fetch|split|show``: the dataset files of the tasks.

- ``status``: per task, which files are present, whether their checksums are the paper's, what
  is missing and the command that fixes it.
- ``import PATH [TASK...]``: copy files from a local mirror laid out like ``raw/<task>/<file>``
  (splits and prompts are taken from next to it), checking sha256.
- ``fetch [TASK...]``: download from the original public URLs, checking sha256; ``--base-url`` or
  ``FTCOT_DATA_URL`` names a mirror of github.com's paths.
- ``split TASK``: the sample indices of a split; ``show TASK INDEX``: one example as prompted.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ftcot import data_install
from ftcot.context import Context
from ftcot.datafiles import cached_sha256
from ftcot.errors import UserError
from ftcot.registry import create_task, failure_line
from ftcot.tables import number_column, text_column

FIX = "ftcot data fetch {task} (or ftcot data import MIRROR)"


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset files: status, import, fetch, split, show")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    s = dsub.add_parser("status", help="which tasks' files are present, checksums, what is missing")
    s.add_argument("tasks", nargs="*", metavar="TASK")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_status)

    i = dsub.add_parser("import", help="copy raw files from a local mirror laid out like raw/<task>/<file>")
    i.add_argument("path", metavar="PATH")
    i.add_argument("tasks", nargs="*", metavar="TASK")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=run_import)

    f = dsub.add_parser("fetch", help="download the files from their original public URLs")
    f.add_argument("tasks", nargs="*", metavar="TASK")
    f.add_argument("--base-url", default=None, metavar="URL",
                   help="a mirror serving github.com's paths (env FTCOT_DATA_URL)")
    f.add_argument("--json", action="store_true", help="print JSON")
    f.set_defaults(func=run_fetch)

    sp = dsub.add_parser("split", help="the train/test sample indices of a task's split")
    sp.add_argument("task", metavar="TASK")
    sp.add_argument("--split", default="default", help="default | template (multiarith, date_understanding)")
    sp.add_argument("--json", action="store_true", help="print JSON")
    sp.set_defaults(func=run_split)

    sh = dsub.add_parser("show", help="one example as prompted, with its gold answer")
    sh.add_argument("task", metavar="TASK")
    sh.add_argument("index", type=int, metavar="INDEX", help="sample_index")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(func=run_show)


# -- status ---------------------------------------------------------------------------------------


def task_status(cls: type[Any], data_dir: Any) -> dict[str, Any]:
    """One task's row; a task whose own code fails gets a ``broken`` row naming the problem."""
    try:
        return {**_task_status(cls, data_dir), "broken": False}
    except Exception as exc:  # a plugin's bug shows in its own row, the other tasks still list
        return {"task": getattr(cls, "name", repr(cls)), "present": False, "ok": False, "distillable": False,
                "files": [], "missing": [], "note": failure_line(exc), "broken": True}


def _task_status(cls: type[Any], data_dir: Any) -> dict[str, Any]:
    task = cls.from_spec(None, data_dir=data_dir)
    files = []
    for f in data_install.files_of(cls):
        path = data_dir / f.relpath
        entry: dict[str, Any] = {"file": f.relpath, "present": path.is_file(), "optional": f.optional,
                                 "expected_sha256": f.sha256}
        if entry["present"]:
            entry["sha256"] = cached_sha256(path)
            entry["ok"] = f.sha256 is None or entry["sha256"] == f.sha256
        files.append(entry)
    present = task.present()
    required_missing = [e["file"] for e in files if not e["present"] and not e["optional"]]
    optional_missing = [e["file"] for e in files if not e["present"] and e["optional"]]
    corrupt = [e["file"] for e in files if e["present"] and not e["ok"]]
    fix = FIX.format(task=cls.name)
    if not present or required_missing:
        note = f"missing {', '.join(required_missing)}; fix: {fix}"
    elif corrupt:
        note = f"checksum differs for {', '.join(corrupt)} (corrupt or another version); fix: {fix}"
    elif optional_missing:
        note = (f"evaluable, not distillable: {', '.join(optional_missing)} is missing, so the training "
                f"split cannot be resolved; fix: {fix}")
    else:
        note = "ok"
    return {
        "task": cls.name,
        "present": present and not required_missing,
        "ok": present and not required_missing and not corrupt,
        "distillable": present and not required_missing and not optional_missing,
        "files": files,
        "missing": required_missing + optional_missing,
        "note": note,
    }


def run_status(ctx: Context, args: argparse.Namespace) -> int:
    data_dir = ctx.settings.data_dir
    rows = [task_status(cls, data_dir) for cls in data_install.select(args.tasks)]
    prompts = data_install.prompts_file()
    prompts_path = data_dir / prompts.relpath
    shared = {"file": prompts.relpath, "present": prompts_path.is_file()}
    if shared["present"]:
        shared["ok"] = cached_sha256(prompts_path) == prompts.sha256
    if args.json:
        ctx.emit_json({"data_dir": str(data_dir), "tasks": rows, "shared": [shared]})
        return 0
    table = Table(title=f"ftcot data ({data_dir})")
    for column in ("task", "data"):
        text_column(table, column)
    number_column(table, "files")
    text_column(table, "note")
    for r in rows:
        state = "ok" if r["ok"] and r["distillable"] else ("test only" if r["ok"] else
                                                          ("corrupt" if r["present"] else "missing"))
        if r["broken"]:
            state = "broken"
        have = sum(1 for f in r["files"] if f["present"])
        table.add_row(r["task"], state, f"{have}/{len(r['files'])}", r["note"])
    ctx.print_table(table)
    if not shared["present"]:
        ctx.console.print(f"{prompts.relpath} is missing (few-shot-CoT exemplars); fix: ftcot data fetch")
    elif not shared.get("ok"):
        ctx.console.print(f"{prompts.relpath}: checksum differs from the paper's file; fix: ftcot data fetch")
    return 0


# -- import / fetch -------------------------------------------------------------------------------


def _report(ctx: Context, args: argparse.Namespace, action: str, outcomes: list[data_install.Outcome]) -> int:
    if args.json:
        ctx.emit_json({"data_dir": str(ctx.settings.data_dir), "files": [o.as_dict() for o in outcomes]})
    else:
        table = Table(title=f"ftcot data {action} -> {ctx.settings.data_dir}")
        for column in ("file", "status", "detail"):
            text_column(table, column)
        for o in outcomes:
            table.add_row(o.relpath, o.status, o.detail)
        ctx.print_table(table)
    bad = [o for o in outcomes if o.status in ("mismatch", "failed")]
    if bad:
        raise UserError(f"{len(bad)} file(s) not installed, e.g. {bad[0].relpath}: {bad[0].detail}")
    return 0


def run_import(ctx: Context, args: argparse.Namespace) -> int:
    from pathlib import Path

    outcomes = data_install.import_mirror(Path(args.path), ctx.settings.data_dir,
                                           data_install.installable(data_install.select(args.tasks)))
    if all(o.status == "missing" for o in outcomes):
        raise UserError(f"no data file found under {args.path}; give a directory laid out like raw/<task>/<file>")
    return _report(ctx, args, "import", outcomes)


def run_fetch(ctx: Context, args: argparse.Namespace) -> int:
    tasks = data_install.installable(data_install.select(args.tasks))
    total = len(data_install.wanted_files(tasks))
    with Progress(TextColumn("fetch {task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=ctx.err, transient=True) as bar:
        job = bar.add_task("", total=total)

        def step(name: str) -> None:
            bar.update(job, description=name, advance=1)

        outcomes = data_install.fetch(ctx.settings.data_dir, tasks, base=args.base_url, progress=step)
    return _report(ctx, args, "fetch", outcomes)


# -- split / show ---------------------------------------------------------------------------------


def run_split(ctx: Context, args: argparse.Namespace) -> int:
    task = create_task(args.task, data_dir=ctx.settings.data_dir)
    indices = task.split_indices(args.split)
    result = {"task": task.key, "split": args.split, "train": indices["train"], "test": indices["test"]}
    if args.json:
        ctx.emit_json(result)
    else:
        ctx.console.print(f"{task.key} split {args.split!r}: {len(indices['train'])} train, "
                          f"{len(indices['test'])} test")
    return 0


def run_show(ctx: Context, args: argparse.Namespace) -> int:
    task = create_task(args.task, data_dir=ctx.settings.data_dir)
    ex = task.example(args.index)
    result: dict[str, Any] = {"task": task.key, "sample_index": ex.sample_index, "question": ex.question,
                              "answer": ex.answer}
    if ex.choices is not None:
        result["choices"] = ex.choices
    if ex.rationale:
        result["rationale"] = ex.rationale
    if args.json:
        ctx.emit_json(result)
        return 0
    ctx.console.print(f"[bold]{task.key} #{ex.sample_index}[/bold]", markup=True)
    ctx.console.print(ex.question, markup=False)
    ctx.console.print(f"answer: {ex.answer}", markup=False)
    return 0
