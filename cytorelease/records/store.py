"""Schema and DB-API access for the record store: SQLite (WAL) by default, PostgreSQL by URL.

Every write runs in :meth:`Store.write`, one serialised transaction (SQLite ``BEGIN IMMEDIATE``;
on PostgreSQL an exclusive lock on the audit table), so two processes never interleave the audit
chain or claim the same queue item. Records are immutable: the database itself refuses UPDATE and
DELETE on them (SQLite triggers ``RAISE(ABORT)``, PostgreSQL triggers raising an exception); only
the work queue and the sightings of inbox files change state.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.records.datadir import DB_ENV, PRIVATE_FILE, DataDir

__all__ = ["IMMUTABLE_TABLES", "Dialect", "Store", "open_data", "open_store"]

SCHEMA_VERSION = 1
_LOCK_KEY = 0x43595452  # "CYTR": the advisory lock every PostgreSQL writer takes

# Tables whose rows are records: written once, never updated or deleted.
IMMUTABLE_TABLES = (
    "audit_log",
    "raw_files",
    "analyses",
    "lot_files",
    "releases",
    "signatures",
    "lot_results",
    "whatif_results",
)

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    sequence BIGINT PRIMARY KEY,
    utc_time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    lot TEXT,
    details TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_log_lot ON audit_log (lot);
CREATE TABLE IF NOT EXISTS instruments (
    id TEXT PRIMARY KEY, serial TEXT NOT NULL, kind TEXT NOT NULL, first_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_files (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    instrument TEXT NOT NULL,
    original_name TEXT NOT NULL,
    source_path TEXT NOT NULL,
    meta TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sightings (
    source_path TEXT NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    sha256 TEXT,
    outcome TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (source_path, size, mtime_ns)
);
CREATE TABLE IF NOT EXISTS queue (
    id {serial} PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS queue_state ON queue (state, id);
CREATE TABLE IF NOT EXISTS analyses (
    sha256 TEXT PRIMARY KEY REFERENCES raw_files (sha256),
    kind TEXT NOT NULL,
    lot TEXT,
    input_path TEXT,
    summary TEXT NOT NULL,
    analysed_at TEXT NOT NULL,
    worker TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lot_files (
    lot TEXT NOT NULL,
    input_path TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES raw_files (sha256),
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (lot, input_path, sha256)
);
CREATE TABLE IF NOT EXISTS releases (
    id {serial} PRIMARY KEY,
    lot TEXT NOT NULL,
    inputs_sha256 TEXT NOT NULL,
    record_sha256 TEXT NOT NULL,
    disposition TEXT NOT NULL,
    result_path TEXT NOT NULL,
    report_path TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (lot, inputs_sha256)
);
CREATE TABLE IF NOT EXISTS signatures (
    release_id BIGINT NOT NULL REFERENCES releases (id),
    user_id TEXT NOT NULL,
    signer TEXT NOT NULL,
    meaning TEXT NOT NULL,
    utc_time TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    PRIMARY KEY (release_id, user_id, meaning)
);
-- the lots dataset (records/lot_results.py). release_id names the worker's release row but is
-- no foreign key: the dataset is derived from records, and a release row gone from the store
-- is for audit verify to name, not for the dataset to hold in place
CREATE TABLE IF NOT EXISTS lot_results (
    record_sha256 TEXT NOT NULL,
    attribute TEXT NOT NULL,
    lot TEXT NOT NULL,
    product TEXT NOT NULL,
    site TEXT,
    date TEXT NOT NULL,
    date_kind TEXT NOT NULL,
    released_at TEXT NOT NULL,
    value TEXT NOT NULL,
    value_number DOUBLE PRECISION,
    value_source TEXT NOT NULL,
    reported TEXT,
    unit TEXT NOT NULL,
    verdict TEXT,
    criterion TEXT,
    spec_id TEXT,
    spec_version TEXT,
    spec_sha256 TEXT,
    lsl DOUBLE PRECISION,
    usl DOUBLE PRECISION,
    method_kind TEXT,
    method_id TEXT,
    method_version TEXT,
    method_sha256 TEXT,
    instrument TEXT,
    disposition TEXT NOT NULL,
    release_id BIGINT,
    origin TEXT NOT NULL,
    checked_against TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    PRIMARY KEY (record_sha256, attribute)
);
CREATE INDEX IF NOT EXISTS lot_results_lot ON lot_results (lot, released_at);
CREATE INDEX IF NOT EXISTS lot_results_product ON lot_results (product, attribute);
-- what-if re-analyses (records/whatif.py, `reanalyse`): never a release, one row per lot, its
-- inputs and the hash of the definitions it was re-analysed under
CREATE TABLE IF NOT EXISTS whatif_results (
    lot TEXT NOT NULL,
    inputs_sha256 TEXT NOT NULL,
    change_sha256 TEXT NOT NULL,
    release_id BIGINT NOT NULL,
    disposition TEXT NOT NULL,
    unlocked INTEGER NOT NULL,
    record TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    PRIMARY KEY (lot, inputs_sha256, change_sha256)
);
"""

_SQLITE_GUARD = """
CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END;
"""

_POSTGRES_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION cytorelease_refuse_change() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END;
$$ LANGUAGE plpgsql;
"""

_POSTGRES_GUARD = """
DROP TRIGGER IF EXISTS {table}_no_change ON {table};
CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION cytorelease_refuse_change();
"""


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class Store:
    """One connection to the record store; create with :func:`open_store`."""

    def __init__(self, connection: Any, dialect: Dialect, *, location: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.location = location

    # -- transactions -------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Store]:
        """One serialised write transaction; commits on success, rolls back on any error."""
        if self.dialect is Dialect.SQLITE:
            self._sqlite_begin_immediate()
        else:
            self.connection.execute("BEGIN")
            # Serialise writers the way BEGIN IMMEDIATE does on SQLite (a transaction-scoped
            # advisory lock: it needs no table, so it also guards creating the schema).
            self._run("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
        try:
            yield self
            self.connection.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if self._is_full(exc):
                raise InputError(
                    f"the record store is full, nothing was recorded ({_first_line(exc)})",
                    path=self.location,
                    hint="free space for the database, then send the file again",
                ) from None
            raise

    def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (SQLITE_FULL can)
        with suppress(self.database_error):
            self.connection.execute("ROLLBACK")

    def _is_full(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the database saying it has no room (disk or size limit)."""
        if self.dialect is Dialect.SQLITE:
            return isinstance(exc, sqlite3.OperationalError) and (
                getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "database or disk is full" in str(exc)
            )
        import psycopg

        # SQLSTATE class 53: insufficient resources (53100 disk full, 53200 out of memory)
        return isinstance(exc, psycopg.Error) and str(exc.sqlstate or "").startswith("53")

    def _sqlite_begin_immediate(self) -> None:
        # busy_timeout covers most contention; retry a few times for the rest.
        for attempt in range(200):
            try:
                self.connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(min(0.05 * (attempt + 1), 0.5))
        raise InputError("the record store stayed locked for too long", path=self.location)

    # -- statements ---------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        if self.dialect is Dialect.SQLITE:
            return self.connection.execute(sql, tuple(params))
        # psycopg parses placeholders only when given parameters (a literal % stays literal).
        return self.connection.execute(sql.replace("?", "%s"), tuple(params) if params else None)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        cursor = self._run(sql, params)
        return int(cursor.rowcount or 0)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._run(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows as tuples, in the statement's column order (large reads: no dict per row)."""
        return [tuple(row) for row in self._run(sql, params).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else next(iter(row.values()))

    @property
    def database_error(self) -> type[Exception]:
        """The driver's base error class (what a refused UPDATE or DELETE raises)."""
        if self.dialect is Dialect.SQLITE:
            return sqlite3.DatabaseError
        import psycopg

        return psycopg.Error

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------
    def create_schema(self) -> None:
        serial = "INTEGER" if self.dialect is Dialect.SQLITE else "BIGSERIAL"
        with self.write():
            for statement in _statements(_TABLES.replace("{serial}", serial)):
                self.execute(statement)
            if self.dialect is Dialect.SQLITE:
                for table in IMMUTABLE_TABLES:
                    for verb in ("UPDATE", "DELETE"):
                        self.execute(_SQLITE_GUARD.format(table=table, verb=verb))
            else:
                self.execute(_POSTGRES_GUARD_FUNCTION)
                for table in IMMUTABLE_TABLES:
                    for statement in _statements(_POSTGRES_GUARD.format(table=table)):
                        self.execute(statement)
            if self.scalar("SELECT value FROM meta WHERE key = 'schema'") is None:
                self.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def open_store(data: DataDir, *, url: str | None = None) -> Store:
    """The store of ``data``: ``CYTORELEASE_DB`` (a ``postgresql://`` URL) or SQLite in it."""
    url = url if url is not None else os.environ.get(DB_ENV)
    store = _open_postgres(url) if url else _open_sqlite(data.db_path)
    store.create_schema()
    return store


def _open_sqlite(path: Path) -> Store:
    try:
        # Created private (0600) before SQLite opens it; its WAL files take the same mode.
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE_FILE))
    except OSError as exc:
        raise InputError(
            f"cannot open the database: {(exc.strerror or str(exc)).lower()}", path=path
        ) from None
    try:
        connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 30000")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"not a usable cytorelease database ({exc})",
            path=path,
            hint="point --data-dir at a cytorelease data folder",
        ) from None
    if str(mode).lower() != "wal":
        raise InputError(f"the database refused WAL mode (got {mode})", path=path)
    return Store(connection, Dialect.SQLITE, location=str(path))


def _open_postgres(url: str) -> Store:
    try:
        import psycopg
    except ImportError:
        raise InputError(
            "CYTORELEASE_DB names a PostgreSQL server but psycopg is not installed",
            path=url,
            hint="pip install 'psycopg[binary]'",
        ) from None
    try:
        connection = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise InputError(f"cannot connect to PostgreSQL: {exc}".strip(), path=url) from None
    return Store(connection, Dialect.POSTGRES, location=url)


def open_data(root: str | Path | None = None, *, existing: bool = False) -> tuple[DataDir, Store]:
    """The data folder (``--data-dir`` / ``CYTORELEASE_DATA`` / per-user default) and its store.

    ``existing``: for commands that only read (``audit log``, ``audit verify``): a folder with
    no store is an error, and nothing is created (a mistyped --data-dir must not look like an
    empty, intact trail).
    """
    data = DataDir.open(root, create=not existing)
    if existing and not os.environ.get(DB_ENV) and not data.db_path.is_file():
        raise InputError(
            "no cytorelease record store here (no cytorelease.db)",
            path=data.root,
            hint="check --data-dir or CYTORELEASE_DATA",
        )
    if existing and not os.environ.get(DB_ENV) and data.db_path.stat().st_size == 0:
        # SQLite would take an empty file for a new database and create the tables in it
        raise InputError(
            "the record store is an empty file (0 bytes), not a cytorelease database",
            path=data.db_path,
            hint="restore it from a backup; nothing was written",
        )
    return data, open_store(data)
