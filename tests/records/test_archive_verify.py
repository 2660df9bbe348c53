"""``audit archive-verify``: every archived file re-hashed against the store, on both backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.hook import hook_file
from cytorelease.records import audit
from cytorelease.records.archive import archived_path
from cytorelease.records.archive_verify import verify_archive
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

INSTRUMENTS = """\
schema: cytorelease.instruments/1
instruments:
  - {id: FACS-01, serial: V657338, kind: flow-cytometer}
"""


def _hooked(data: DataDir, store: Store, tmp_path: Path, n: int) -> list[str]:
    from tests.cli_contract import SAMPLE_LOT

    data.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
    shas = []
    for name in sorted(p.name for p in SAMPLE_LOT.glob("*.fcs"))[:n]:
        source = tmp_path / name
        shutil.copyfile(SAMPLE_LOT / name, source)
        outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.0)
        assert outcome.sha256 is not None
        shas.append(outcome.sha256)
    return shas


def test_altered_missing_and_orphan_entries_are_found(
    data: DataDir, store: Store, db_url: str, tmp_path: Path
) -> None:
    altered, missing, intact = _hooked(data, store, tmp_path, 3)
    assert verify_archive(data, store).intact
    # an insider edits one entry in place (same size), removes another, drops a third file
    entry = archived_path(data.archive_dir, altered)
    entry.chmod(0o644)
    payload = bytearray(entry.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    entry.write_bytes(bytes(payload))
    archived_path(data.archive_dir, missing).unlink()
    stray = data.archive_dir / "ab" / ("ab" + "0" * 62)
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"not recorded")
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "archive-verify", "--json", "--data-dir", str(data.root)])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["intact"] is False and document["ok"] == 1
    assert document["altered"] == [altered] and document["missing"] == [missing]
    assert document["orphans"] == [f"ab/{stray.name}"]
    assert result.stderr == (
        f"error: {data.archive_dir}: archive not intact: 3 recorded: 1 ok, 1 altered, "
        "1 missing; 1 orphan(s)\n"
    )
    (row,) = [e for e in audit.entries(store) if e.action == "archive-verify"]
    assert row.details["altered"] == [altered] and row.details["intact"] is False
    assert intact not in row.details["altered"]


def test_an_intact_archive_verifies(data: DataDir, store: Store, tmp_path: Path) -> None:
    _hooked(data, store, tmp_path, 2)
    result = CliRunner().invoke(app, ["audit", "archive-verify", "--data-dir", str(data.root)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "archive: 2 recorded: 2 ok, 0 altered, 0 missing; 0 orphan(s)\n"
    assert [e.action for e in audit.entries(store)][-1] == "archive-verify"
