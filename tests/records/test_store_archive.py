"""The store opens in WAL mode and refuses a non-database; the archive is content-addressed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.records import audit
from cytorelease.records.archive import archive_file, archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_data, open_store


def test_sqlite_store_is_in_wal_mode(sqlite_store: Store) -> None:
    assert sqlite_store.scalar("PRAGMA journal_mode") == "wal"


def test_opening_twice_keeps_the_schema(data: DataDir, store: Store, db_url: str) -> None:
    assert store.scalar("SELECT value FROM meta WHERE key = 'schema'") == "1"
    with store.write():
        audit.append(store, actor="a", action=audit.Action.INGEST, object="x")
    again = open_store(data, url=db_url)
    try:
        assert again.scalar("SELECT COUNT(*) FROM audit_log") == 1
        assert audit.verify_chain(again).ok
    finally:
        again.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    data = DataDir.open(tmp_path / "d")
    data.db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a usable cytorelease database") as caught:
        open_store(data, url="")
    assert caught.value.path == str(data.db_path)


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="the data folder is a file"):
        open_data(tmp_path / "f")


def test_data_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYTORELEASE_DATA", str(tmp_path / "env-data"))
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    data, store = open_data(None)
    store.close()
    assert data.root == tmp_path / "env-data" and data.db_path.is_file()


def test_postgres_url_without_driver_or_server_is_one_line_error(data: DataDir) -> None:
    with pytest.raises(InputError) as caught:
        open_store(data, url="postgresql:///nonexistent?host=/nonexistent-socket-dir")
    assert caught.value.path == "postgresql:///nonexistent?host=/nonexistent-socket-dir"
    assert "psycopg is not installed" in caught.value.problem or "cannot connect" in (
        caught.value.problem
    )


def test_archive_copies_by_content_read_only(data: DataDir, tmp_path: Path) -> None:
    source = tmp_path / "run.fcs"
    payload = os.urandom(300_000)
    source.write_bytes(payload)
    before = source.stat()
    stored = archive_file(source, data.archive_dir, data.archive_tmp)
    sha = hashlib.sha256(payload).hexdigest()
    assert stored.sha256 == sha and stored.size == 300_000 and stored.newly_stored
    assert stored.path == archived_path(data.archive_dir, sha) == data.archive_dir / sha[:2] / sha
    assert stored.path.read_bytes() == payload
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o444
    # the instrument's file is untouched and still where it was
    after = source.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    copy = tmp_path / "copy-of-run.fcs"
    copy.write_bytes(payload)
    again = archive_file(copy, data.archive_dir, data.archive_tmp)
    assert again.sha256 == sha and not again.newly_stored
    assert list(data.archive_tmp.iterdir()) == []  # no temporary copy left behind


@pytest.mark.parametrize("size", [0, 2, 3, 8192, 8193, 4 * 1024 * 1024 + 1])
def test_the_head_handed_over_is_the_files_start_and_the_copy_is_whole(
    data: DataDir, tmp_path: Path, size: int
) -> None:
    source = tmp_path / f"run-{size}.fcs"
    payload = (b"FCS3.1" + os.urandom(size))[:size]
    source.write_bytes(payload)
    heads: list[bytes] = []
    stored = archive_file(source, data.archive_dir, data.archive_tmp, on_head=heads.append)
    (head,) = heads  # once, before the copy
    assert payload.startswith(head) and len(head) >= min(size, 3)
    assert stored.sha256 == hashlib.sha256(payload).hexdigest() and stored.size == size
    assert stored.path.read_bytes() == payload  # peeking took nothing from the copy


def test_archive_of_missing_file_is_one_line_error(data: DataDir, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the file: no such file") as caught:
        archive_file(tmp_path / "gone.fcs", data.archive_dir, data.archive_tmp)
    assert caught.value.path == str(tmp_path / "gone.fcs")
