"""The ``ftcot`` command line. Each module in ``harness/commands`` adds its subcommands.

Exit status: 0 on success, 1 on a user error (one ``error:`` line on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

from ftcot import __version__, commands
from ftcot.context import Context
from ftcot.errors import UserError
from ftcot.settings import SCORING_RULES, Settings, default_data_dir, default_store_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftcot",
        description="Benchmark harness for chain-of-thought distillation (Fine-tune-CoT).",
    )
    parser.add_argument("--version", action="version", version=f"ftcot {__version__}")
    parser.add_argument("--store", type=Path, default=None, metavar="PATH",
                        help="SQLite store file (env FTCOT_STORE; default ./ftcot-runs/ftcot.db)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="dataset directory laid out as raw/, splits/ (env FTCOT_DATA_DIR)")
    parser.add_argument("--scoring", choices=SCORING_RULES, default="paper",
                        help="answer-scoring rule set (default: paper)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    settings = Settings(
        store_path=args.store or default_store_path(),
        data_dir=args.data_dir or default_data_dir(),
        scoring=args.scoring,
    )
    ctx = Context(settings, json_output=bool(getattr(args, "json", False)))
    try:
        result = args.func(ctx, args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a third-party plugin's bug: one line naming it, not a traceback
        from ftcot.registry import plugin_failure

        line = plugin_failure(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; work finished so far is in the store, run the command again to resume",
              file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
