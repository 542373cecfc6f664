"""The ``ftcot`` command line. Each module in ``harness/commands`` adds its subcommands.

Exit status: the constants in ``ftcot.errors`` (the README's exit-status table). Every error,
expected or not, is one ``error:`` line on stderr, never a traceback (``FTCOT_DEBUG=1`` re-raises
unexpected ones).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sqlite3
import sys
from pathlib import Path

from ftcot import __version__, commands
from ftcot.context import Context
from ftcot.errors import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, UserError
from ftcot.settings import SCORING_RULES, Settings, check_environment, default_data_dir, default_store_path


class _Parser(argparse.ArgumentParser):
    """argparse, with secrets removed from the usage errors it echoes (an address with a key)."""

    def error(self, message: str):
        from ftcot.secrets import Redactor

        super().error(Redactor()(message))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    for stream in (sys.stdout, sys.stderr):  # an ASCII terminal (PYTHONIOENCODING=ascii) gets "?" for "…"
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    settings = Settings(
        store_path=args.store or default_store_path(),
        data_dir=args.data_dir or default_data_dir(),
        scoring=args.scoring,
        store_given=args.store is not None,
    )
    ctx = Context(settings, json_output=bool(getattr(args, "json", False)))
    try:
        check_environment()
        result = args.func(ctx, args)
    except UserError as exc:
        return _fail(str(exc), exc.exit_status)
    except KeyboardInterrupt:
        return _fail("interrupted; work finished so far is in the store, run the command again to resume",
                     EXIT_INTERRUPTED)
    except sqlite3.DatabaseError as exc:
        from ftcot.store import store_problem

        return _fail(store_problem(settings.store_path, exc), EXIT_ERROR)
    except MemoryError:
        return _fail("out of memory: ask for fewer examples or a smaller model", EXIT_ERROR)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}: check the path and its permissions", EXIT_ERROR)
    except Exception as exc:
        from ftcot.registry import plugin_failure

        line = plugin_failure(exc)  # a third-party plugin's bug: one line naming it, not a traceback
        if line is not None:
            return _fail(line, EXIT_ERROR)
        if os.environ.get("FTCOT_DEBUG"):
            raise
        message = " ".join(str(exc).split())[:300]
        return _fail(f"internal error ({type(exc).__name__}: {message}); this is a bug in ftcot: please "
                     f"report it with the command line (FTCOT_DEBUG=1 shows the traceback)", EXIT_INTERNAL)
    finally:
        ctx.close()
    return int(result or 0)


def _fail(message: str, status: int) -> int:
    """Print one ``error:`` line (later lines of ``message`` indented under it), secrets removed."""
    from ftcot.secrets import Redactor

    print(f"error: {Redactor()(message)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
