"""``hook``: allow-list, stability, archive first, duplicates, quarantine; the CLI's exit codes."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.hook.hook import HookStatus, hook_file, wait_until_stable
from cytorelease.provenance import file_sha256
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import counts
from cytorelease.records.store import Store


def _tube(small_lots: dict[int, Path], tmp_path: Path, name: str = "tube1_stained.fcs") -> Path:
    target = tmp_path / "instrument" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(small_lots[11] / name, target)
    return target


def test_ingest_archives_records_audits_and_queues(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = _tube(small_lots, tmp_path)
    sha = file_sha256(source)
    outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.05)
    assert outcome.status is HookStatus.INGESTED and outcome.exit_code == 0
    assert outcome.sha256 == sha and outcome.archive_path is not None
    assert outcome.archive_path.read_bytes() == source.read_bytes()
    row = store.one("SELECT * FROM raw_files WHERE sha256 = ?", (sha,))
    assert row is not None and row["status"] == "valid" and row["kind"] == "fcs"
    meta = json.loads(row["meta"])
    assert meta["lot"] == "lot-CAR-0011" and meta["fil"] == "tube1_stained.fcs"
    assert meta["events"] == 4000
    (entry,) = audit.entries(store)
    assert (entry.action, entry.actor, entry.object, entry.lot) == (
        "ingest",
        "instrument:FACS-01",
        sha,
        "lot-CAR-0011",
    )
    assert counts(store)["pending"] == 1
    assert source.is_file() and file_sha256(source) == sha  # the instrument's file stays


def test_same_content_twice_is_a_no_op_that_says_so(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = _tube(small_lots, tmp_path)
    hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.05)
    renamed = tmp_path / "elsewhere" / "renamed.fcs"
    renamed.parent.mkdir()
    shutil.copyfile(source, renamed)
    outcome = hook_file(data, store, renamed, instrument="FACS-01", stable_seconds=0.05)
    assert outcome.status is HookStatus.DUPLICATE and outcome.exit_code == 0
    assert outcome.message.startswith(f"already archived (first received as {source} on ")
    assert outcome.message.endswith(", valid); nothing to do")
    assert counts(store)["pending"] == 1
    assert [e.action for e in audit.entries(store)] == ["ingest", "duplicate"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b"Sample,Value\nA,1\n",
            "not a valid FCS file or a known qPCR/dPCR or plate-reader export",
        ),
        (b"", "the file is empty"),
    ],
)
def test_invalid_file_is_quarantined_and_kept(
    data: DataDir, store: Store, tmp_path: Path, content: bytes, reason: str
) -> None:
    source = tmp_path / "weird.csv"
    source.write_bytes(content)
    outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.05)
    assert outcome.status is HookStatus.QUARANTINED and outcome.exit_code == 2
    assert outcome.message == f"quarantined: {reason}"
    assert outcome.archive_path is not None and outcome.archive_path.read_bytes() == content
    (entry,) = audit.entries(store)
    assert entry.action == "quarantine" and entry.details["reason"] == reason
    assert counts(store)["pending"] == 0


def test_truncated_fcs_is_quarantined_with_the_readers_reason(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    whole = (small_lots[11] / "tube1_stained.fcs").read_bytes()
    source = tmp_path / "cut.fcs"
    source.write_bytes(whole[: len(whole) // 2])
    outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.05)
    assert outcome.status is HookStatus.QUARANTINED
    row = store.one("SELECT kind, reason FROM raw_files")
    assert row is not None and row["kind"] == "fcs"
    assert row["reason"].startswith("DATA segment ends at byte ")
    assert "(truncated copy?)" in row["reason"]
    assert f"but the file has {len(whole) // 2:,} bytes" in row["reason"]


def test_a_file_of_the_wrong_kind_for_the_instrument_is_quarantined(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = _tube(small_lots, tmp_path)
    outcome = hook_file(data, store, source, instrument="QS-01", stable_seconds=0.05)
    assert outcome.status is HookStatus.QUARANTINED
    assert outcome.message == "quarantined: a fcs file does not come from a qpcr (QS-01)"


def test_unknown_instrument_is_refused_and_audited_without_archiving(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = _tube(small_lots, tmp_path)
    outcome = hook_file(data, store, source, instrument="ROGUE-7", stable_seconds=0.05)
    assert outcome.status is HookStatus.REFUSED and outcome.exit_code == 2
    assert outcome.message == (
        f"instrument 'ROGUE-7' is not in the allow-list {data.instruments_path}"
    )
    (entry,) = audit.entries(store)
    assert (entry.action, entry.actor) == ("refuse", "instrument:ROGUE-7")
    assert store.scalar("SELECT COUNT(*) FROM raw_files") == 0
    assert list(data.archive_dir.rglob("*")) == []


def test_missing_allow_list_refuses_with_a_hint(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    data.instruments_path.unlink()
    with pytest.raises(InputError, match="no instrument allow-list") as caught:
        hook_file(data, store, _tube(small_lots, tmp_path), instrument="FACS-01")
    assert caught.value.path == str(data.instruments_path)
    (entry,) = audit.entries(store)
    assert entry.action == "refuse"
    assert entry.details["reason"].startswith(f"{data.instruments_path}: no instrument allow-list")


def test_hook_waits_until_a_growing_file_is_stable(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    whole = (small_lots[11] / "tube1_stained.fcs").read_bytes()
    source = tmp_path / "slow.fcs"
    source.write_bytes(whole[:1000])

    def write_rest() -> None:
        with open(source, "ab") as handle:
            for start in range(1000, len(whole), len(whole) // 8):
                time.sleep(0.05)
                handle.write(whole[start : start + len(whole) // 8])
                handle.flush()

    writer = threading.Thread(target=write_rest)
    writer.start()
    outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.3)
    writer.join()
    assert outcome.status is HookStatus.INGESTED
    assert outcome.archive_path is not None and outcome.archive_path.read_bytes() == whole


def test_stability_timeout_is_one_line_error(tmp_path: Path) -> None:
    source = tmp_path / "busy.fcs"
    source.write_bytes(b"x")
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            with open(source, "ab") as handle:
                handle.write(b"x")
            time.sleep(0.01)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        with pytest.raises(InputError, match=r"the file kept changing for 0\.3 s"):
            wait_until_stable(source, stable_seconds=0.2, timeout=0.3)
    finally:
        stop.set()
        writer.join()


def test_cli_hook_exit_codes_and_messages(
    data: DataDir, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    source = _tube(small_lots, tmp_path)
    base = ["--data-dir", str(data.root), "--stable-seconds", "0.05"]
    first = runner.invoke(app, ["hook", str(source), "--instrument", "FACS-01", *base])
    assert first.exit_code == 0 and first.output.startswith(f"ok: {source}: archived as ")
    again = runner.invoke(app, ["hook", str(source), "--instrument", "FACS-01", "--json", *base])
    assert again.exit_code == 0 and json.loads(again.output)["status"] == "duplicate"
    bad = tmp_path / "bad.fcs"
    bad.write_bytes(b"FCS3.1    garbage")
    quarantined = runner.invoke(app, ["hook", str(bad), "--instrument", "FACS-01", *base])
    assert quarantined.exit_code == 2
    assert quarantined.output == (
        f"error: {bad}: quarantined: the file has 17 bytes: too short for the 58-byte FCS HEADER\n"
    )
    assert quarantined.output.count("\n") == 1
    refused = runner.invoke(app, ["hook", str(source), "--instrument", "NOPE", *base])
    assert refused.exit_code == 2
    assert refused.output == (
        f"error: {source}: instrument 'NOPE' is not in the allow-list {data.instruments_path}\n"
    )
    missing = runner.invoke(
        app, ["hook", str(tmp_path / "gone.fcs"), "--instrument", "FACS-01", *base]
    )
    assert missing.exit_code == 2
    assert missing.output == f"error: {tmp_path / 'gone.fcs'}: no such file\n"


def test_an_invalid_file_sent_again_still_fails_for_the_instrument(
    data: DataDir, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(data.root), "--stable-seconds", "0.05", "--instrument", "FACS-01"]
    bad = tmp_path / "bad.fcs"
    bad.write_bytes(b"FCS3.1    garbage")
    assert runner.invoke(app, ["hook", str(bad), *base]).exit_code == 2
    again = runner.invoke(app, ["hook", str(bad), "--json", *base])
    assert again.exit_code == 2
    assert json.loads(again.stdout)["status"] == "duplicate"
    assert (
        again.stderr.startswith(f"error: {bad}: already archived") and "quarantined" in again.stderr
    )
    folder = runner.invoke(app, ["hook", str(tmp_path), *base])
    assert folder.exit_code == 2
    assert folder.stderr.startswith(f"error: {tmp_path}: is a folder, not a file")


def test_audit_commands_refuse_a_folder_without_a_store(tmp_path: Path) -> None:
    runner = CliRunner()
    typo = tmp_path / "no-such-data"
    for command in (["audit", "log"], ["audit", "verify"]):
        result = runner.invoke(app, [*command, "--data-dir", str(typo)])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {typo}: no cytorelease record store here")
    assert not typo.exists(), "a read-only command must not create a data folder"
