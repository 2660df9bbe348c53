"""A file the inbox cannot take is audited once per content and reason (issue 13 item 5).

``watch --once`` is run by cron or a timer, so the same refused files are seen by every run:
an unknown instrument's tube, a file loose in INBOX and a dot-file each get one ``refuse`` row,
however many runs see them and however often they are touched or rewritten with the same
bytes; every run still lists them as not taken and exits 1. The row names the content's
SHA-256, never its text. New bytes are a new refusal.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from typer.testing import CliRunner, Result

from cytorelease.cli.main import app
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store

SECRET = b"password=hunter2 (not an FCS file)\n"


def _inbox(tmp_path: Path, small_lots: dict[int, Path]) -> tuple[Path, list[Path]]:
    inbox = tmp_path / "inbox"
    (inbox / "ROGUE-7").mkdir(parents=True)
    (inbox / "FACS-01").mkdir()
    rogue = inbox / "ROGUE-7" / "run.fcs"
    shutil.copyfile(small_lots[11] / "tube2_fmo_car.fcs", rogue)
    loose = inbox / "loose.fcs"
    loose.write_bytes(SECRET)
    hidden = inbox / "FACS-01" / ".run.fcs"
    hidden.write_bytes(SECRET + b"hidden\n")
    return inbox, [rogue, loose, hidden]


def _watch_once(data: DataDir, inbox: Path) -> Result:
    args = ["watch", str(inbox), "--once", "--data-dir", str(data.root)]
    return CliRunner().invoke(app, [*args, "--stable-seconds", "0.05"])


def _refusals(data: DataDir, db_url: str) -> list[audit.AuditEntry]:
    with open_store(data, url=db_url) as store:
        return [e for e in audit.entries(store) if e.action == "refuse"]


def _touch(paths: list[Path], step: int) -> None:
    for path in paths:
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + step * 1_000_000_000))


def test_each_watch_once_run_lists_refused_files_but_audits_them_once(
    data: DataDir, db_url: str, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    inbox, files = _inbox(tmp_path, small_lots)
    for run in range(4):
        result = _watch_once(data, inbox)
        assert result.exit_code == 1, result.output  # left in the inbox, every run
        assert "3 files: 0 ingested, 0 duplicate, 0 quarantined, 3 refused" in result.output
        assert {f"not taken: {f}" in result.output for f in files} == {True}
        assert "hunter2" not in result.output  # the reason and the path, never the content
        if run >= 1:
            _touch(files, run)  # the same bytes with a new mtime (a copy tool, a backup...)
        if run == 2:
            # rewritten with the same bytes (a new inode, a new mtime)
            content = files[1].read_bytes()
            files[1].unlink()
            files[1].write_bytes(content)
    rows = _refusals(data, db_url)
    assert sorted(r.object for r in rows) == sorted(str(f) for f in files)
    for row in rows:
        content = Path(row.object).read_bytes()
        assert row.details["sha256"] == hashlib.sha256(content).hexdigest()
        assert "hunter2" not in str(row.details)
    assert [f.read_bytes()[:34] for f in files[1:]] == [SECRET[:34]] * 2  # only ever read


def test_new_bytes_under_a_refused_name_are_a_new_refusal(
    data: DataDir, db_url: str, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    inbox, files = _inbox(tmp_path, small_lots)
    assert _watch_once(data, inbox).exit_code == 1
    files[1].write_bytes(SECRET + b"second acquisition\n")
    _touch(files[1:2], 5)
    assert _watch_once(data, inbox).exit_code == 1
    assert _watch_once(data, inbox).exit_code == 1
    loose = [r for r in _refusals(data, db_url) if r.object == str(files[1])]
    assert len(loose) == 2
    assert loose[0].details["sha256"] == hashlib.sha256(SECRET).hexdigest()
    assert loose[1].details["sha256"] == hashlib.sha256(files[1].read_bytes()).hexdigest()


def test_a_refused_file_is_still_taken_once_the_cause_is_fixed(
    data: DataDir, db_url: str, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    inbox, files = _inbox(tmp_path, small_lots)
    assert _watch_once(data, inbox).exit_code == 1
    _touch(files[:1], 3)
    with open(data.instruments_path, "a", encoding="utf-8") as handle:
        handle.write("  - {id: ROGUE-7, serial: R7, kind: flow-cytometer}\n")
    taken = _watch_once(data, inbox)
    assert "1 ingested" in taken.output and f"not taken: {files[0]}" not in taken.output
    with open_store(data, url=db_url) as store:
        actions = [(e.action, e.object) for e in audit.entries(store)]
    assert actions.count(("refuse", str(files[0]))) == 1
    assert ("ingest", str(files[0])) not in actions  # ingest rows name the content
    assert [a for a, _ in actions].count("ingest") == 1
