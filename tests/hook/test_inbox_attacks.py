"""The inbox and the archive attacked as issue 13 found them, through the real hook and watch."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.watch import scan_once
from cytorelease.records import audit
from cytorelease.records.archive import archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store
from tests.hook.conftest import INSTRUMENTS


def test_a_link_in_the_inbox_to_a_secret_is_refused_left_and_never_archived(
    data: DataDir, store: Store, tmp_path: Path
) -> None:
    # an insider drops a symbolic link to a 0640 file the service user can read
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n", encoding="utf-8")
    secret.chmod(0o640)
    inbox = tmp_path / "inbox"
    (inbox / "FACS-01").mkdir(parents=True)
    link = inbox / "FACS-01" / "run.fcs"
    link.symlink_to(secret)
    report = scan_once(data, store, inbox, stable_seconds=0.05)
    assert [o.status for o in report.outcomes] == ["refused"] and report.exit_code == 1
    assert "symbolic link" in report.outcomes[0].message
    assert link.is_symlink() and secret.read_text(encoding="utf-8") == "password=hunter2\n"
    assert [p for p in data.archive_dir.rglob("*") if p.is_file()] == []
    assert store.scalar("SELECT COUNT(*) FROM raw_files") == 0
    (entry,) = audit.entries(store)
    assert entry.action == "refuse" and entry.object == str(link)
    assert "hunter2" not in str(entry.details)


def test_resending_the_original_of_an_altered_archive_entry_is_no_duplicate(
    data: DataDir, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(data.root), "--stable-seconds", "0.05", "--instrument", "FACS-01"]
    source = tmp_path / "tube1_stained.fcs"
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    first = runner.invoke(app, ["hook", str(source), "--json", *base])
    assert first.exit_code == 0, first.output
    sha = json.loads(first.stdout)["sha256"]
    # altered in place, as an insider with write access to the archive would (same size)
    entry = archived_path(data.archive_dir, sha)
    entry.chmod(0o644)
    payload = bytearray(entry.read_bytes())
    payload[-10] ^= 0xFF
    entry.write_bytes(bytes(payload))
    again = runner.invoke(app, ["hook", str(source), *base])
    assert again.exit_code == 2
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith(f"error: {source}: already archived as {sha[:16]}")
    assert "archive entry was altered" in again.stderr and "duplicate" not in again.output
    assert source.is_file()
    log = runner.invoke(app, ["audit", "log", "--json", "--data-dir", str(data.root)])
    actions = [r["action"] for r in json.loads(log.stdout)["rows"]]
    assert actions == ["ingest", "archive-mismatch"]


def test_hook_refuses_a_data_folder_others_can_write(
    data: DataDir, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    data.root.chmod(0o777)
    source = tmp_path / "tube.fcs"
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    result = CliRunner().invoke(
        app, ["hook", str(source), "--instrument", "FACS-01", "--data-dir", str(data.root)]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {data.root}: writable by others (mode 0777): refused "
        f"(chmod go-w {data.root} (the data folder is the service user's alone))\n"
    )
    assert [p for p in data.archive_dir.rglob("*") if p.is_file()] == []


def test_a_new_data_folder_is_private(
    tmp_path: Path, small_lots: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # root can read anything, but the modes created are what they are: checked as created
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    root = tmp_path / "fresh"
    source = tmp_path / "tube.fcs"
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    old = os.umask(0o022)  # the usual service umask: must not widen what is created
    try:
        CliRunner().invoke(app, ["hook", str(source), "--instrument", "X", "--data-dir", str(root)])
    finally:
        os.umask(old)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "cytorelease.db").stat().st_mode) == 0o600


def _mount(target: Path, *options: str) -> bool:
    done = subprocess.run(["mount", *options, str(target)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_a_full_disk_during_the_hooks_commit_is_one_line_and_loses_nothing(
    tmp_path: Path, small_lots: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database (and its WAL) on a 1 MiB tmpfs filled to the last page, the archive on the
    # roomy disk (bind-mounted): the archive copy succeeds and the commit meets ENOSPC, which
    # SQLite reports as SQLITE_FULL, as on a real full disk.
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    root, roomy = tmp_path / "data", tmp_path / "roomy-archive"
    root.mkdir()
    roomy.mkdir()
    if not _mount(root, "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        (root / "archive").mkdir(mode=0o700)
        if not _mount(root / "archive", "--bind", str(roomy)):
            pytest.skip("cannot bind-mount the archive")
        try:
            data = DataDir.open(root)
            data.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
            open_store(data, url="").close()
            holder = sqlite3.connect(data.db_path)  # keeps -wal/-shm in place while full
            holder.execute("SELECT COUNT(*) FROM audit_log").fetchone()
            request_close = holder.close
            filler = root / "filler"
            descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(descriptor, b"\0" * 4096):
                    pass
            except OSError:
                pass  # ENOSPC: the filesystem is full
            finally:
                os.close(descriptor)
            source = tmp_path / "tube.fcs"
            shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
            argv = ["hook", str(source), "--instrument", "FACS-01", "--data-dir", str(root)]
            full = CliRunner().invoke(app, [*argv, "--stable-seconds", "0.05"])
            assert full.exit_code == 2, full.output
            assert full.stderr.count("\n") == 1 and "Traceback" not in full.stderr
            assert "the record store is full, nothing was recorded" in full.stderr
            assert source.is_file()
            assert [p for p in data.archive_dir.rglob("*") if p.is_file()] == []
            filler.unlink()
            room = CliRunner().invoke(app, [*argv, "--stable-seconds", "0.05"])
            assert room.exit_code == 0 and room.stdout.startswith(f"ok: {source}: archived")
        finally:
            with contextlib.suppress(NameError):
                request_close()
            subprocess.run(["umount", str(root / "archive")], check=False)
    finally:
        subprocess.run(["umount", str(root)], check=False)
