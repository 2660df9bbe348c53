"""An altered archive entry is audited in one form, whoever finds it.

The hook (the original re-sent) and the worker (about to analyse it) both write one
``archive-mismatch`` row: the recorded hash as its object, the hash the bytes have now and the
problem, plus where it was found (the inbox file, or the queue item and its lot).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from cytorelease.hook.hook import hook_file
from cytorelease.hook.integrity import hold_for_archive
from cytorelease.records import audit
from cytorelease.records.archive import ArchiveMismatch, archived_path, check_archived
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import claim
from cytorelease.records.store import Store


def _alter(data: DataDir, sha: str) -> str:
    """Flip one byte of the archived copy in place (same size); the hash it has now."""
    entry = archived_path(data.archive_dir, sha)
    entry.chmod(0o644)
    payload = bytearray(entry.read_bytes())
    payload[-10] ^= 0xFF
    entry.write_bytes(bytes(payload))
    return hashlib.sha256(payload).hexdigest()


def test_the_hook_and_the_worker_audit_an_altered_entry_alike(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = tmp_path / "tube1_stained.fcs"
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    sha = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.0).sha256
    assert sha is not None
    actual = _alter(data, sha)

    with pytest.raises(ArchiveMismatch, match="archive entry was altered") as resent:
        hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.0)
    assert (resent.value.sha256, resent.value.actual) == (sha, actual)

    item = claim(store, owner="test", actor="service:worker@test", lease_seconds=60)
    assert item is not None and item.key == f"file:{sha}"
    with pytest.raises(ArchiveMismatch) as found:
        check_archived(data.archive_dir, sha)
    hold_for_archive(store, "service:worker@test", item, found.value)

    rows = [e for e in audit.entries(store) if e.action == "archive-mismatch"]
    hook_row, worker_row = rows
    assert [r.actor for r in rows] == ["instrument:FACS-01", "service:worker@test"]
    assert hook_row.object == worker_row.object == sha
    problem = found.value.problem  # what check_archived says of the entry
    assert "now hashes to" in problem
    assert hook_row.details == {"file": str(source), "archive_hash": actual, "problem": problem}
    assert worker_row.details == {"item": item.id, "archive_hash": actual, "problem": problem}
    (ingested,) = [e for e in audit.entries(store) if e.action == "ingest"]
    assert hook_row.lot is None and worker_row.lot == ingested.lot is not None
