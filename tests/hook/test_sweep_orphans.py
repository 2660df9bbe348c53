"""A hook killed between its archive copy and its record: the next watch start re-ingests it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook import watch
from cytorelease.hook.sweep import RECOVERED, sweep_orphans
from cytorelease.records import audit
from cytorelease.records.archive import archive_file
from cytorelease.records.archive_verify import verify_archive
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import counts
from cytorelease.records.store import Store


def _crashed_copy(data: DataDir, small_lots: dict[int, Path], tmp_path: Path) -> str:
    # the crash point: hook_file's archive_file() has linked the copy into the archive, and
    # the process dies before the transaction that records it (nothing in the store)
    source = tmp_path / "tube1_stained.fcs"
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    return archive_file(source, data.archive_dir, data.archive_tmp).sha256


def test_an_orphaned_archive_entry_is_re_ingested_and_audited(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    sha = _crashed_copy(data, small_lots, tmp_path)
    assert verify_archive(data, store).orphans == [f"{sha[:2]}/{sha}"]
    assert sweep_orphans(data, store, older_than=60) == []  # a live hook may still record it
    assert sweep_orphans(data, store, older_than=60, now=time.time() + 120) == [sha]
    row = store.one("SELECT * FROM raw_files WHERE sha256 = ?", (sha,))
    assert row is not None and row["source_path"] == RECOVERED and row["status"] == "valid"
    assert row["original_name"] == "tube1_stained.fcs" and counts(store)["pending"] == 1
    (entry,) = audit.entries(store)
    assert entry.action == "ingest" and entry.details["recovered"] is True
    assert entry.lot == "lot-CAR-0011"
    assert verify_archive(data, store).intact
    assert sweep_orphans(data, store, older_than=0) == []  # once


def test_watch_restart_recovers_the_orphan(
    data: DataDir,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sha = _crashed_copy(data, small_lots, tmp_path)
    monkeypatch.setattr(watch, "ORPHAN_AGE_SECONDS", 0.0)  # the copy is older than any hook
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    runner = CliRunner()
    args = ["--data-dir", str(data.root)]
    started = runner.invoke(app, ["watch", str(inbox), "--once", "--json", *args])
    assert started.exit_code == 0, started.output
    assert f"recovered: archive entry {sha[:16]}" in started.stderr
    log = json.loads(runner.invoke(app, ["audit", "log", "--json", *args]).stdout)["rows"]
    assert [(r["action"], r["object"]) for r in log] == [("ingest", sha)]
    checked = runner.invoke(app, ["audit", "archive-verify", "--json", *args])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["orphans"] == []
