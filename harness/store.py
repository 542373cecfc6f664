"""The store: one SQLite file in WAL mode that holds every result, keyed by content hashes.

Several processes may write at once (each write is a short ``BEGIN IMMEDIATE`` transaction
and waits for the lock); a process killed mid-write leaves the last committed state, since
SQLite's journal rolls back the unfinished transaction on the next open.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ftcot.errors import UserError
from ftcot.records import BATCH_ABANDONED, BatchRecord, CellResult, Completion, Prediction, Record

SCHEMA_VERSION = 2
R = TypeVar("R", bound=Record)

_BATCHES_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, teacher TEXT NOT NULL, task TEXT NOT NULL, step TEXT NOT NULL,
    status TEXT NOT NULL, requests INTEGER NOT NULL, collected INTEGER NOT NULL,
    created REAL NOT NULL, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS batches_open ON batches (teacher, collected);
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, sample_index INTEGER NOT NULL,
    teacher TEXT NOT NULL, idx INTEGER NOT NULL, failed INTEGER NOT NULL,
    data TEXT NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS completions_by_task ON completions (task, teacher);
CREATE TABLE IF NOT EXISTS predictions (
    run_key TEXT NOT NULL, sample_index INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_key, sample_index));
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, teacher TEXT NOT NULL, student TEXT NOT NULL,
    method TEXT NOT NULL, degree INTEGER NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL,
    data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
    kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (kind, key));
""" + _BATCHES_SCHEMA

# version -> SQL that brings a store at that version to the next one
_MIGRATIONS: dict[int, str] = {1: _BATCHES_SCHEMA}  # 2: provider batch jobs (``batches``)


def store_problem(path: Path, exc: sqlite3.DatabaseError) -> str:
    """What went wrong with the store, in one line: locked by another process, not writable,
    disk full (the data intact in each), or damaged."""
    text = str(exc).lower()
    intact = "the results already stored are intact"
    if "locked" in text or "busy" in text:
        return (f"the store {path} is locked by another process (waited 60 s): {intact}; run again when it "
                f"finishes, or pass another --store PATH")
    if "readonly" in text or "read-only" in text or "permission" in text:
        return f"the store {path} (or its folder) is not writable ({exc}): {intact}; fix its permissions or pass another --store PATH"
    if "disk" in text and "full" in text:
        return f"the disk holding the store {path} is full: {intact}; free some space and run again"
    if "unable to open" in text:
        return f"cannot open store {path} ({exc}): it is a folder, or its folder is missing or not writable; pass another --store PATH"
    return (f"cannot read store {path} ({exc}): it is damaged or not an ftcot store; restore it from a backup "
            f"or pass another --store PATH")


def content_key(*parts: Any) -> str:
    """A stable sha256 hex digest of JSON-serialisable parts (dict keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Store:
    """A handle on one store file; safe to share between threads of one process."""

    def __init__(self, path: str | Path, create: bool = True):
        """Open the store at ``path``. ``create=False`` (read-only commands): a missing file is
        not created; the store then reads as empty, from memory."""
        self.path = Path(path)
        in_memory = not create and not self.path.exists()
        try:
            if not in_memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                ":memory:" if in_memory else self.path, timeout=60, isolation_level=None,
                check_same_thread=False,
            )
            self._refuse_foreign()
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except OSError as exc:
            raise UserError(f"cannot open store {self.path}: {exc}; pass another --store PATH") from None
        except sqlite3.OperationalError as exc:
            raise UserError(store_problem(self.path, exc)) from None
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise UserError(store_problem(self.path, exc)) from None
        self._lock = threading.RLock()
        try:
            self._prepare_schema()
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_conn"):
                self._conn.close()
            raise UserError(store_problem(self.path, exc)) from None

    # -- schema ---------------------------------------------------------------------------
    def _prepare_schema(self) -> None:
        with self.transaction() as db:
            has_meta = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
            ).fetchone()
            version = None
            if has_meta:
                row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = _schema_version(self.path, row[0]) if row else None
            if version is None:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                return
            if version > SCHEMA_VERSION:
                raise UserError(
                    f"store {self.path} has schema version {version}, newer than this ftcot's "
                    f"{SCHEMA_VERSION}: upgrade ftcot (pip install -U ftcot) or pass another --store"
                )
            while version < SCHEMA_VERSION:
                if version not in _MIGRATIONS:
                    raise UserError(
                        f"store {self.path} has schema version {version}, which this ftcot cannot "
                        f"migrate: pass a new --store path"
                    )
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                version += 1
                db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))

    def _refuse_foreign(self) -> None:
        """UserError for a SQLite database that holds tables but no ftcot ``meta``: ftcot leaves
        it exactly as it is (not even switching it to WAL)."""
        names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if names and "meta" not in names:
            self._conn.close()
            raise UserError(f"{self.path} is a SQLite database but not an ftcot store; ftcot leaves it "
                            f"alone: pass another --store PATH")

    @property
    def schema_version(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0])

    @property
    def directory(self) -> Path:
        """The folder beside the store file where large artifacts (trained models) live."""
        return self.path.parent

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- completions ----------------------------------------------------------------------
    def put_completions(self, items: Iterable[tuple[str, Completion]]) -> int:
        """Write (key, completion) pairs in one transaction; a stored success is never
        replaced by a failure. Returns how many rows were written."""
        now = time.time()
        rows = [
            (key, c.task, c.sample_index, c.teacher, c.index, int(c.failed), c.to_json(), now)
            for key, c in items
        ]
        if not rows:
            return 0
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO completions VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET "
                "data=excluded.data, failed=excluded.failed, updated=excluded.updated "
                "WHERE completions.failed=1 OR excluded.failed=0",
                rows,
            )
        return len(rows)

    def get_completions(self, keys: Iterable[str]) -> dict[str, Completion]:
        """Stored completions (successes and failures) for the given keys."""
        keys = list(keys)
        found: dict[str, Completion] = {}
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for key, data in self._read(f"SELECT key, data FROM completions WHERE key IN ({marks})", chunk):
                found[key] = self._decode(Completion, data, "completions")
        return found

    def completions(self, task: str | None = None, teacher: str | None = None) -> list[Completion]:
        """Every stored completion, optionally of one task and/or teacher, in a stable order."""
        where, params = _where(task=task, teacher=teacher)
        rows = self._read(f"SELECT data FROM completions{where} ORDER BY task, teacher, sample_index, idx", params)
        return [self._decode(Completion, r[0], "completions") for r in rows]

    def completion_cost(self, task: str, teacher: str) -> float:
        """Total USD of the stored completions of one task and teacher."""
        rows = self._read(
            "SELECT COALESCE(SUM(json_extract(data, '$.cost_usd')), 0) FROM completions "
            "WHERE task=? AND teacher=?", (task, teacher))
        return float(rows[0][0] or 0.0)

    def _decode(self, record: type[R] | None, data: str, table: str) -> Any:
        """A stored row's JSON as ``record`` (None: as is); a damaged row is a UserError naming it."""
        try:
            value = json.loads(data)
            if record is None:
                return value
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            return record.from_dict(value)
        except (ValueError, TypeError) as exc:
            raise UserError(
                f"the store {self.path} holds a damaged row in its {table} table ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:120]}); the other rows are intact: delete that row with the "
                f"sqlite3 tool, or restore the store from a backup") from None

    # -- predictions ----------------------------------------------------------------------
    def put_predictions(self, run_key: str, predictions: Iterable[Prediction]) -> None:
        rows = [(run_key, p.sample_index, p.to_json()) for p in predictions]
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO predictions VALUES (?,?,?)", rows)

    def predictions(self, run_key: str) -> list[Prediction]:
        rows = self._read("SELECT data FROM predictions WHERE run_key=? ORDER BY sample_index", (run_key,))
        return [self._decode(Prediction, r[0], "predictions") for r in rows]

    # -- cells ----------------------------------------------------------------------------
    def put_cell(self, key: str, cell: CellResult) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?)",
                (key, cell.task, cell.teacher, cell.student, cell.method, cell.degree, cell.seed,
                 cell.status, cell.to_json(), time.time()),
            )

    def get_cell(self, key: str) -> CellResult | None:
        rows = self._read("SELECT data FROM cells WHERE key=?", (key,))
        return self._decode(CellResult, rows[0][0], "cells") if rows else None

    def get_cells(self, keys: Iterable[str]) -> dict[str, CellResult]:
        keys = list(keys)
        found: dict[str, CellResult] = {}
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for key, data in self._read(f"SELECT key, data FROM cells WHERE key IN ({marks})", chunk):
                found[key] = self._decode(CellResult, data, "cells")
        return found

    def cells(self, **filters: Any) -> list[CellResult]:
        """Stored cells matching column filters (task, teacher, student, method, degree, seed, status)."""
        where, params = _where(**filters)
        rows = self._read(f"SELECT data FROM cells{where} ORDER BY task, student, method, degree, seed", params)
        return [self._decode(CellResult, r[0], "cells") for r in rows]

    # -- provider batch jobs --------------------------------------------------------------
    def put_batch(self, batch: BatchRecord, replaces: str | None = None) -> None:
        """Record a batch job, or its new state; ``replaces``: the id it was recorded under before
        (a submitting job, by its input file), removed in the same transaction."""
        with self.transaction() as db:
            if replaces is not None and replaces != batch.id:
                db.execute("DELETE FROM batches WHERE id=?", (replaces,))
            db.execute(
                "INSERT OR REPLACE INTO batches VALUES (?,?,?,?,?,?,?,?,?,?)",
                (batch.id, batch.teacher, batch.task, batch.step, batch.status, batch.requests,
                 int(batch.collected), batch.created, batch.to_json(), time.time()),
            )

    def batches(self, teacher: str | None = None, open_only: bool = False) -> list[BatchRecord]:
        """Recorded batch jobs, oldest first; ``open_only``: those with results not yet taken."""
        where, params = _where(teacher=teacher, collected=0 if open_only else None)
        rows = self._read(f"SELECT data FROM batches{where} ORDER BY created, id", params)
        return [self._decode(BatchRecord, r[0], "batches") for r in rows]

    def abandon_batch(self, batch_id: str) -> BatchRecord:
        """Give up a recorded batch (the provider lost it): nothing left to collect from it, so the
        completions it would have answered are missing again. UserError for an unknown id."""
        rows = self._read("SELECT data FROM batches WHERE id=?", (batch_id,))
        if not rows:
            raise UserError(f"no batch {batch_id!r} is recorded in the store {self.path}; `ftcot batches` lists them")
        batch: BatchRecord = self._decode(BatchRecord, rows[0][0], "batches")
        batch.status, batch.pending, batch.carried = BATCH_ABANDONED, [], {}
        self.put_batch(batch)
        return batch

    # -- artifacts: any other JSON document, by kind and key ------------------------------
    def put_artifact(self, kind: str, key: str, data: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?,?,?,?)",
                (kind, key, json.dumps(data, sort_keys=True, ensure_ascii=False), time.time()),
            )

    def get_artifact(self, kind: str, key: str) -> Any | None:
        rows = self._read("SELECT data FROM artifacts WHERE kind=? AND key=?", (kind, key))
        return self._decode(None, rows[0][0], "artifacts") if rows else None

    def artifacts(self, kind: str) -> dict[str, Any]:
        rows = self._read("SELECT key, data FROM artifacts WHERE kind=? ORDER BY key", (kind,))
        return {key: self._decode(None, data, "artifacts") for key, data in rows}


def _schema_version(path: Path, value: Any) -> int:
    """The stored schema version as an integer; UserError when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(f"store {path} has a schema version {value!r} that is not a number: it was not "
                        f"written by ftcot; pass another --store PATH") from None


def _where(**filters: Any) -> tuple[str, list[Any]]:
    pairs = [(k, v) for k, v in filters.items() if v is not None]
    if not pairs:
        return "", []
    return " WHERE " + " AND ".join(f"{k}=?" for k, _ in pairs), [v for _, v in pairs]
