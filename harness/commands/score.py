"""``ftcot score TASK --mode MODE``: score model outputs read as JSON lines on stdin.

Each input line is ``{"sample_index": i, "text": "..."}``; with ``--json`` each is written back
(JSON lines on stdout) with ``prediction``, ``correct`` and ``scoring`` added; without it, the
accuracy is printed. ``--mode`` names the output format (``ftcot.scoring`` has the rules).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from ftcot.context import Context
from ftcot.errors import NothingDone, UserError
from ftcot.registry import create_task
from ftcot.scoring import MODES, RULE_SETS


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score model outputs (JSON lines on stdin) against a task's answers")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--mode", required=True, choices=list(MODES),
                   help="output format: direct (no prefix), cot ('Therefore, the answer is'), "
                        "fs-cot ('The answer is'), ft-cot ('-->')")
    p.add_argument("--scoring", dest="score_scoring", choices=RULE_SETS, default=None,
                   help="rule set (default: the global --scoring, else paper)")
    p.add_argument("--json", action="store_true", help="write each line back with prediction and correct")
    p.set_defaults(func=run)


def parse_output_line(line: str, lineno: int) -> dict[str, Any] | None:
    """One stdin line as a record with an integer ``sample_index`` and a string ``text``; None for
    a blank line; UserError naming the line otherwise."""
    if not line.strip():
        return None
    expected = f'stdin line {lineno}: expected {{"sample_index": INT, "text": STRING}}'
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or a number too long to read
        raise UserError(f"{expected}, got text that is not JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(record, dict) or "sample_index" not in record or "text" not in record:
        raise UserError(f"{expected}, got {type(record).__name__}" + (
            f" with keys {', '.join(sorted(record))[:120]}" if isinstance(record, dict) else ""))
    index, text = record["sample_index"], record["text"]
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(text, str):
        raise UserError(f"{expected}, got sample_index {type(index).__name__} and text {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800": no UTF-8 output could hold it
        raise UserError(f"stdin line {lineno}: text holds an escape that is not a Unicode character "
                        f"(a lone surrogate, e.g. \\ud800); give UTF-8 text") from None
    return record


def read_output_lines(stream: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The records of JSON-lines model outputs (``parse_output_line``), undecodable input as a UserError."""
    lineno = 0
    try:
        for lineno, line in enumerate(stream, 1):
            record = parse_output_line(line, lineno)
            if record is not None:
                yield record
    except UnicodeDecodeError:
        raise UserError(f"stdin line {lineno + 1} is not UTF-8 text: give JSON lines") from None


def run(ctx: Context, args: argparse.Namespace) -> int:
    rules = args.score_scoring or ctx.settings.scoring
    task = create_task(args.task, data_dir=ctx.settings.data_dir)
    total = right = 0
    for record in read_output_lines(sys.stdin):
        gold = task.example(record["sample_index"]).answer
        prediction = task.extract(record["text"], args.mode, rules)
        correct = task.is_correct(prediction, gold, rules)
        total += 1
        right += int(correct)
        if args.json:
            record.update(prediction=prediction, correct=correct, scoring=rules)
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    if not total:
        raise NothingDone('no model outputs on stdin: give JSON lines {"sample_index": INT, "text": STRING}')
    if args.json:
        sys.stdout.flush()
    else:
        ctx.console.print(f"{task.key}: {right}/{total} correct, accuracy {right / total:.4f} "
                          f"(mode {args.mode}, scoring {rules})")
    return 0
