"""``ftcot demo``: the offline demo matrix (``examples/demo.toml``), its leaderboard in the
terminal, an HTML report on disk and which of the paper's claims the run shows. Nothing to
download; about 6 minutes on 2 idle CPU cores."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from importlib import resources
from pathlib import Path

from ftcot.claims import check as check_claims
from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.fileio import check_output, write_output

DEFAULT_OUTPUT = Path("ftcot-demo")
# sha256 of the demo configs earlier versions wrote: their demo folders are reused as they are
EARLIER_DEMO_CONFIGS = frozenset({
    "10d968a609c9e0a38d0d31e54c32a004d918fa2a6a4ee90e883104138f41cb2e",
    "3caad2df4dc356ee7bb5dad9356294d6f92f4df80e49ece1561e81944e7a7086",
    "65519a0f3e49327bee2d50736ce966c13520bdc2ad03f9ba186988e8c3d0d47d",
    "99b815a86ee04be722746ecd598cc93ce6e866dab6f477fb2b162c1e740a1d78",
    "bfe3d6e437066f8b1b80423afcfb776898d0514fc60d808afe4b22d9927ad71f",
    "cc82a6b4bf9222eb979649a6a83b446e427d0836bbfca945e1dcd98be6d6e42c",
})
DEMO_TITLE = "ftcot demo: Fine-tune-CoT vs fine-tuning, two tiny-llama sizes, a teacher that is 30% wrong"


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the offline demo matrix (about 6 minutes on 2 idle CPU cores)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR",
                   help=f"folder for the demo's store, models and report (default: {DEFAULT_OUTPUT})")
    p.add_argument("--only", action="append", metavar="FIELD=VALUE,...",
                   help="run part of the demo, e.g. task=coin_flip (as `ftcot matrix run --only`)")
    p.add_argument("--json", action="store_true", help="print the leaderboard as JSON at the end")
    p.set_defaults(func=run)


def demo_config_text() -> str:
    """The packaged demo config (identical to ``examples/demo.toml``)."""
    return resources.files("ftcot.matrix").joinpath("demo.toml").read_text(encoding="utf-8")


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ftcot.matrix import Matrix
    from ftcot.matrix.config import parse_config
    from ftcot.registry import create_reporter

    started = time.monotonic()
    output: Path = args.output
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file: give a folder for the demo's store and report")
    text = demo_config_text()
    report = output / "leaderboard.html"
    check_output(report, "HTML report", output / "ftcot.db", owned=_is_html_report)
    config = parse_config(text, output / "demo.toml")
    write_output(output / "demo.toml", text, "demo config", output / "ftcot.db",
                 owned=_is_demo_config)
    matrix = Matrix.open(config, store_path=output / "ftcot.db", data_dir=ctx.settings.data_dir,
                         scoring=ctx.settings.scoring)
    from ftcot.matrix.plan import parse_only

    cells = matrix.cells(parse_only(args.only))
    ctx.console.print(f"ftcot demo: {len(cells)} cells, {config.parallel} at a time, results in {output}/")
    results = matrix.run(cells, ctx.console)
    board = matrix.leaderboard(title=DEMO_TITLE)
    write_output(report, create_reporter("html").render(board), "HTML report", output / "ftcot.db",
                 owned=_is_html_report)
    verdicts = check_claims(board)
    write_output(output / "claims.json", json.dumps([c.to_dict() for c in verdicts], indent=1) + "\n",
                 "claims", output / "ftcot.db", owned=lambda content: b'"statement"' in content)
    failed = [r for r in results.values() if r.status != "done"]
    if args.json:
        ctx.emit_json(board.to_json())
    else:
        ctx.print_table(create_reporter("table").renderable(board))
        ctx.console.print("[bold]The paper's claims in this run[/bold]")
        for claim in verdicts:
            mark = "[green]shown[/]" if claim.shown else "[yellow]not shown[/]"
            ctx.console.print(f"  {mark}  {claim.statement}: {claim.evidence}")
    ctx.console.print(f"HTML report: {report} · store: {output / 'ftcot.db'} · "
                      f"{time.monotonic() - started:.0f} s")
    for result in failed:
        ctx.console.print(f"[red]failed[/] {result.task} {result.method} D={result.degree}: {result.error}")
    return 1 if failed else 0


def _is_demo_config(content: bytes) -> bool:
    """Whether a file is, byte for byte, a demo config that ftcot wrote: this version's or an
    earlier release's (an edited one is the user's, never replaced)."""
    digest = hashlib.sha256(content).hexdigest()
    return digest in EARLIER_DEMO_CONFIGS or digest == hashlib.sha256(demo_config_text().encode()).hexdigest()


def _is_html_report(content: bytes) -> bool:
    """Whether a file is an HTML leaderboard of an earlier demo, which a new run may replace."""
    return content.startswith(b"<!DOCTYPE html>") and b"ftcot demo" in content
