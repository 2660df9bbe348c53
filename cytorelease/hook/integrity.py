"""What the worker reads from the archive, checked against what the records say it is.

The archive is the only source of a release: every analysis by the worker uses bytes whose
SHA-256 it has just computed and compared with the recorded one. An FCS file is hashed while it
is parsed and a release hashes every input it parses, so the check costs no second read of a
big file; other files are re-hashed. A mismatch is never analysed on: the item is held
(``queue list`` shows it, the audit trail says why, with the lot) until a person restores the
archived file and retries it.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from cytorelease.errors import CytoreleaseError
from cytorelease.hook.identify import FileKind
from cytorelease.records import audit
from cytorelease.records.archive import ArchiveMismatch, archived_path, check_archived, hash_file
from cytorelease.records.ingest import raw_file
from cytorelease.records.queue import ItemState, QueueItem, finish
from cytorelease.records.store import Store

__all__ = ["analysed_file", "audit_mismatch", "check_analysed_inputs", "hold_for_archive"]


def hold_for_archive(store: Store, actor: str, item: QueueItem, exc: ArchiveMismatch) -> None:
    """Hold ``item`` (audited, with its lot): bytes that disagree with their record are never
    used, and the worker does not retry them on its own."""
    lot = item.payload.get("lot") or _lot_of_file(store, exc.sha256)
    reason = f"held: {exc.problem}"
    with store.write():
        finish(store, item, state=ItemState.HELD, outcome=reason)
        audit_mismatch(store, actor, exc, lot=lot, details={"item": item.id})
        audit.append(
            store,
            actor=actor,
            action=audit.Action.ITEM_HELD,
            object=item.key,
            lot=lot,
            details={"item": item.id, "reason": reason},
        )


def audit_mismatch(
    store: Store,
    actor: str,
    exc: ArchiveMismatch,
    *,
    lot: str | None = None,
    details: dict[str, Any],
) -> None:
    """The audit row of archived bytes that do not hash to their record (the hook re-sent the
    original of an altered entry, or the worker found it altered); in the caller's transaction.
    """
    audit.append(
        store,
        actor=actor,
        action=audit.Action.ARCHIVE_MISMATCH,
        object=exc.sha256,
        lot=lot,
        details={**details, "archive_hash": exc.actual, "problem": exc.problem},
    )


def _lot_of_file(store: Store, sha: str) -> str | None:
    row = raw_file(store, sha)
    lot = json.loads(row["meta"]).get("lot") if row else None
    return lot if isinstance(lot, str) else None


def _mismatch(sha: str, actual: str, path: Path) -> ArchiveMismatch:
    return ArchiveMismatch(
        f"archive entry {sha[:16]}… was analysed as {actual[:16]}…: the archived file was "
        "altered (nothing from it is recorded)",
        sha256=sha,
        actual=actual,
        path=path,
    )


def analysed_file(kind: FileKind, path: Path, sha: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Analyse the archived copy, checking that the bytes analysed are the recorded ones.

    An FCS file is hashed as it is parsed (one read); other kinds are re-hashed (small).
    """
    if kind is not FileKind.FCS:
        check_archived(path.parent.parent, sha)
        return _analyse(kind, path, meta)
    try:
        summary = _analyse(kind, path, meta)
    except CytoreleaseError:
        check_archived(path.parent.parent, sha)  # unreadable because it was altered?
        raise
    if summary["sha256"] != sha:
        raise _mismatch(sha, str(summary["sha256"]), path)
    return summary


def _analyse(kind: FileKind, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What the worker reads from the archived copy itself (the hook only skimmed it)."""
    if kind is FileKind.FCS:
        from cytorelease.flow.fcs import read_fcs

        sample = read_fcs(path)
        return {
            "events": int(sample.events.shape[0]),
            "channels": [c.name for c in sample.channels],
            "fcs_version": sample.fcs_version,
            "sha256": sample.sha256,
        }
    return {k: v for k, v in meta.items() if k in ("format", "samples", "rows")}


def check_analysed_inputs(
    archive_dir: Path, work: Path, inputs: dict[str, str], record: dict[str, Any]
) -> None:
    """Every input's analysed bytes must be the archived content the lot names, before the
    result is signed or recorded. The release hashes what it parsed (one read per file); an
    input no analysis read is re-hashed here."""
    analysed = {str(i["path"]): str(i["sha256"]) for i in record.get("inputs", [])}
    for relative, sha in inputs.items():
        actual = analysed.get(PurePosixPath(relative).as_posix())
        if actual is None:
            actual, _ = hash_file(work / relative)
        if actual != sha:
            raise _mismatch(sha, actual, archived_path(archive_dir, sha))
