"""Where things live: the store file, the data directory and the scoring rule set.

Each comes from a command-line option, else an environment variable, else a default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

DEFAULT_STORE = Path("ftcot-runs") / "ftcot.db"
SCORING_RULES = ("paper", "strict")


def default_data_dir() -> Path:
    """``$FTCOT_DATA_DIR``, else a per-user cache directory."""
    env = os.environ.get("FTCOT_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("ftcot")) / "data"


def default_store_path() -> Path:
    """``$FTCOT_STORE``, else ``./ftcot-runs/ftcot.db``."""
    env = os.environ.get("FTCOT_STORE")
    return Path(env) if env else DEFAULT_STORE


def check_environment() -> None:
    """UserError for an ftcot environment variable that cannot be used (``FTCOT_THREADS=abc``),
    before a command does any work."""
    from ftcot.errors import UserError

    threads = os.environ.get("FTCOT_THREADS", "").strip()
    if threads and not (threads.isdigit() and int(threads) >= 1):
        raise UserError(f"FTCOT_THREADS must be an integer >= 1 (threads per training process), got {threads!r}: "
                        "fix or unset it")


@dataclass
class Settings:
    """What every command is given."""

    store_path: Path = field(default_factory=default_store_path)
    data_dir: Path = field(default_factory=default_data_dir)
    scoring: str = "paper"
    store_given: bool = False  # --store was on the command line: it wins over a matrix file's `store`
