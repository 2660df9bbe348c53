"""The backends the store tests run on: SQLite always, PostgreSQL when a server can be had.

``CYTORELEASE_DB`` names a server to use; otherwise ``scripts/ensure-postgres`` installs and
starts a local one (socket only). Each test gets a fresh database on it, dropped afterwards.
Without a server the PostgreSQL variants skip, saying why.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("sqlite", "postgres")


@cache
def server_url() -> tuple[str | None, str]:
    """(a server URL or None, why not)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install 'psycopg[binary]')"
    configured = os.environ.get("CYTORELEASE_DB")
    if configured:
        return configured, ""
    script = PROJECT_ROOT / "scripts" / "ensure-postgres"
    try:
        done = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/ensure-postgres could not run: {exc}"
    if done.returncode != 0:
        return None, f"no PostgreSQL server: {done.stderr.strip()}"
    return done.stdout.strip().splitlines()[-1], ""


def _with_database(url: str, name: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=name)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the server; skips the test when there is no server."""
    import psycopg

    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    name = f"cytorelease_test_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def backend_url(backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """ "" for SQLite, or a fresh PostgreSQL database; CYTORELEASE_DB is set to match."""
    if backend == "sqlite":
        monkeypatch.delenv("CYTORELEASE_DB", raising=False)
        yield ""
        return
    with fresh_database() as url:
        monkeypatch.setenv("CYTORELEASE_DB", url)
        yield url
