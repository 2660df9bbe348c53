"""Fixtures for the record store: a fresh data folder and its store on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store
from tests.records.pg_backend import BACKENDS, backend_url


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.open(tmp_path / "data")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """ "" (SQLite in the data folder) or the URL of a fresh PostgreSQL database."""
    with backend_url(request.param, monkeypatch) as url:
        yield url


@pytest.fixture
def store(data: DataDir, db_url: str) -> Iterator[Store]:
    opened = open_store(data, url=db_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(data: DataDir, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """Tests of SQLite specifics (WAL, tampering with the file) use this one."""
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    opened = open_store(data, url="")
    yield opened
    opened.close()
