"""The newest audit checkpoint is named in every CoA rendered after it (issue 14 item 4).

A checkpoint signs the trail's head outside the database; a CoA that names it (row, row hash,
file and its SHA-256, in the signed record and on the page) ties the signed release to that
head, so a trail rewritten afterwards contradicts a document the insider cannot re-sign.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.lot.release import release_lot
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_data
from cytorelease.records.trail import open_trail
from cytorelease.report.area import split_report
from cytorelease.report.checkpoint import write_checkpoint
from cytorelease.report.record import extract_record
from cytorelease.report.shown import check_shown
from cytorelease.synth import generate_lot


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_lot(tmp_path_factory.mktemp("lots"), seed=6).lot_dir


def shown_problem(page: bytes) -> str | None:
    return check_shown(split_report(page).content, extract_record(page))


def _release(lot: Path, tmp_path: Path, data_dir: Path, name: str) -> Path:
    copy = tmp_path / name / lot.name
    shutil.copytree(lot, copy)
    return release_lot(copy, out=tmp_path / name / "out", trail=open_trail(data_dir)).report_path


def test_a_coa_names_the_newest_checkpoint_of_its_trail(lot: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    before = _release(lot, tmp_path, data_dir, "first")  # the trail has rows, no checkpoint
    first = extract_record(before.read_bytes())
    assert "audit_checkpoint" not in first
    assert "Audit trail" not in before.read_text(encoding="utf-8")

    data, store = open_data(data_dir)
    with store:
        written = write_checkpoint(store, data, Ed25519PrivateKey.generate(), actor="qa")
    after = _release(lot, tmp_path, data_dir, "second")
    record = extract_record(after.read_bytes())
    named = record["audit_checkpoint"]
    checkpoint_file = Path(written["file"])
    assert named["sequence"] == written["sequence"] and named["row_hash"] == written["row_hash"]
    assert named["file"] == checkpoint_file.name
    assert named["sha256"] == hashlib.sha256(checkpoint_file.read_bytes()).hexdigest()
    page = after.read_text(encoding="utf-8")
    assert f"checkpoint at row {written['sequence']} (row hash {written['row_hash'][:16]}" in page
    assert checkpoint_file.name in page
    # the page shows what its record holds (sign and verify check this)
    assert shown_problem(after.read_bytes()) is None


def test_an_edited_checkpoint_line_on_the_page_is_caught(lot: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _release(lot, tmp_path, data_dir, "first")
    data, store = open_data(data_dir)
    with store:
        written = write_checkpoint(store, data, Ed25519PrivateKey.generate(), actor="qa")
    report = _release(lot, tmp_path, data_dir, "second")
    page = report.read_bytes()
    shown = f"checkpoint at row {written['sequence']} ".encode()
    edited = page.replace(shown, f"checkpoint at row {written['sequence'] + 7} ".encode())
    assert edited != page
    problem = shown_problem(edited)
    assert problem is not None and "does not show its record" in problem


def test_the_worker_release_names_the_data_folders_checkpoint(tmp_path: Path) -> None:
    from cytorelease.lot.release import _latest_checkpoint

    data = DataDir.open(tmp_path / "data")
    assert _latest_checkpoint(data.root) is None
    _, store = open_data(data.root)
    with store:
        from cytorelease.records import audit

        with store.write():
            audit.append(store, actor="t", action=audit.Action.INGEST, object="x", details={})
        written = write_checkpoint(store, data, Ed25519PrivateKey.generate(), actor="svc")
    named = _latest_checkpoint(data.root)
    assert named is not None and named["sequence"] == written["sequence"]
