"""``watch``: one pass over an inbox tree, and following new files with watchdog."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.watch import scan_once, watch_inbox
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store


def _inbox(tmp_path: Path, small_lots: dict[int, Path]) -> Path:
    inbox = tmp_path / "inbox"
    (inbox / "FACS-01" / "day1").mkdir(parents=True)
    (inbox / "ROGUE-7").mkdir()
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", inbox / "FACS-01" / "day1" / "a.fcs")
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", inbox / "FACS-01" / "a-copy.fcs")
    shutil.copyfile(small_lots[11] / "tube2_fmo_car.fcs", inbox / "ROGUE-7" / "b.fcs")
    shutil.copyfile(small_lots[11] / "tube2_fmo_car.fcs", inbox / "loose.fcs")
    (inbox / "FACS-01" / ".partial.fcs").write_bytes(b"FCS3.1 still being written")
    return inbox


def test_scan_once_hooks_each_file_once(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    inbox = _inbox(tmp_path, small_lots)
    report = scan_once(data, store, inbox, stable_seconds=0.05)
    assert report.counts() == {"ingested": 1, "duplicate": 1, "quarantined": 0, "refused": 3}
    refusals = {Path(e.object).name: e for e in audit.entries(store) if e.action == "refuse"}
    # every file left in the inbox is audited: unknown instrument, loose in INBOX, dot-file
    assert set(refusals) == {"b.fcs", "loose.fcs", ".partial.fcs"}
    assert refusals["b.fcs"].details["instrument"] == "ROGUE-7"
    assert refusals["loose.fcs"].actor.startswith("service:watch@")
    audited = len(audit.entries(store))
    again = scan_once(data, store, inbox, stable_seconds=0.05)
    # what was taken is not hooked again; what was refused stays in place and is listed again,
    # but its refusal is not audited again while its cause is the same
    assert again.counts() == {"ingested": 0, "duplicate": 0, "quarantined": 0, "refused": 3}
    assert len(audit.entries(store)) == audited


def test_refused_file_is_taken_once_the_allow_list_is_fixed(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    # an instrument missing from instruments.yaml drops a tube: left, reported, audited once
    inbox = tmp_path / "inbox"
    (inbox / "FACS-02").mkdir(parents=True)
    tube = inbox / "FACS-02" / "run.fcs"
    shutil.copyfile(small_lots[12] / "tube1_stained.fcs", tube)
    for _ in range(2):
        report = scan_once(data, store, inbox, stable_seconds=0.05)
        assert [o.status for o in report.outcomes] == ["refused"] and report.exit_code == 1
    assert [e.action for e in audit.entries(store)] == ["refuse"]
    with open(data.instruments_path, "a", encoding="utf-8") as handle:
        handle.write("  - {id: FACS-02, serial: V000002, kind: flow-cytometer}\n")
    taken = scan_once(data, store, inbox, stable_seconds=0.05)
    assert [o.status for o in taken.outcomes] == ["ingested"] and taken.exit_code == 0
    assert tube.is_file()  # the instrument's file is only read
    assert scan_once(data, store, inbox, stable_seconds=0.05).outcomes == []  # taken: skipped
    assert [e.action for e in audit.entries(store)] == ["refuse", "ingest"]


def test_cli_watch_once(data: DataDir, small_lots: dict[int, Path], tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, small_lots)
    result = CliRunner().invoke(
        app,
        ["watch", str(inbox), "--once", "--data-dir", str(data.root), "--stable-seconds", "0.05"],
    )
    assert result.exit_code == 1, result.output  # files were left in the inbox
    assert "5 files: 1 ingested, 1 duplicate, 0 quarantined, 3 refused" in result.output
    assert result.output.count("not taken: ") == 3


def test_cli_watch_missing_inbox(data: DataDir, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["watch", str(tmp_path / "nope"), "--once", "--data-dir", str(data.root)]
    )
    assert result.exit_code == 2
    assert result.output == (
        f"error: {tmp_path / 'nope'}: the inbox is not a folder (pass an existing folder)\n"
    )


def test_watch_follows_new_files(
    data: DataDir, store: Store, db_url: str, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "FACS-01").mkdir(parents=True)
    stop = threading.Event()
    results = []

    def run() -> None:
        with open_store(data, url=db_url) as own:  # a SQLite connection belongs to its thread
            results.append(watch_inbox(data, own, inbox, stable_seconds=0.1, poll=0.05, stop=stop))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        time.sleep(0.3)
        shutil.copyfile(small_lots[12] / "tube1_stained.fcs", inbox / "FACS-01" / "new.fcs")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            e.action == "ingest" for e in audit.entries(store)
        ):
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=20)
    (report,) = results
    assert [o.path.name for o in report.outcomes] == ["new.fcs"]
    assert report.counts()["ingested"] == 1
