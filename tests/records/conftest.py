"""Fixtures for the record store: a fresh data folder and its SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.open(tmp_path / "data")


@pytest.fixture
def store(data: DataDir) -> Iterator[Store]:
    opened = open_store(data, url="")
    yield opened
    opened.close()
