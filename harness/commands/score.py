"""``ftcot score TASK --mode MODE``: score model outputs read as JSON lines on stdin.

Each input line is ``{"sample_index": i, "text": "..."}``; with ``--json`` each is written back
(JSON lines on stdout) with ``prediction``, ``correct`` and ``scoring`` added; without it, the
accuracy is printed. ``--mode`` names the output format (``ftcot.scoring`` has the rules).
"""

from __future__ import annotations

import argparse
import json
import sys

from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.registry import create
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


def run(ctx: Context, args: argparse.Namespace) -> int:
    rules = args.score_scoring or ctx.settings.scoring
    task = create("task", args.task, data_dir=ctx.settings.data_dir)
    total = right = 0
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            index = record["sample_index"]
            text = record["text"]
            if not isinstance(index, int) or not isinstance(text, str):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"stdin line {lineno}: expected {{\"sample_index\": INT, \"text\": STRING}}") from None
        gold = task.example(index).answer
        prediction = task.extract(text, args.mode, rules)
        correct = task.is_correct(prediction, gold, rules)
        total += 1
        right += int(correct)
        if args.json:
            record.update(prediction=prediction, correct=correct, scoring=rules)
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    if args.json:
        sys.stdout.flush()
    else:
        accuracy = f"{right / total:.4f}" if total else "n/a"
        ctx.console.print(f"{task.key}: {right}/{total} correct, accuracy {accuracy} "
                          f"(mode {args.mode}, scoring {rules})")
    return 0
