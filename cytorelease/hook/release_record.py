"""What a worker's release writes to the store: the release row, the pipeline's audit rows
completed with the release id, the service signature's row and the sign row (which records the
stored CoA's SHA-256, so audit verify can hold the file against it). All inside the worker's
one transaction for the release (records/lots.py holds the tables against these rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytorelease.lot.dataset import store_results
from cytorelease.provenance import file_sha256
from cytorelease.records import audit
from cytorelease.records.lots import ReleaseRow, SignatureRow, record_release, record_signature
from cytorelease.records.store import Store
from cytorelease.records.trail import PendingRows

__all__ = ["audit_release", "record_worker_release"]


def record_worker_release(
    store: Store,
    lot: str,
    inputs_sha: str,
    outcome: Any,
    result_path: Path,
    report_path: Path,
    *,
    created_at: str,
) -> int:
    """The release row of a worker's release; its id (inside the caller's transaction)."""
    release = ReleaseRow(
        lot=lot,
        inputs_sha256=inputs_sha,
        record_sha256=outcome.record_sha256,
        disposition=outcome.disposition,
        result_path=str(result_path),
        report_path=str(report_path),
        created_at=created_at,
    )
    release_id = record_release(store, release)
    # the lots dataset's rows of this record commit with the release row they belong to
    store_results(
        store, outcome.record, record_sha256=outcome.record_sha256, origin="worker",
        checked_against="worker", release_id=release_id,
    )  # fmt: skip
    return release_id


def audit_release(
    store: Store,
    actor: str,
    lot: str,
    steps: PendingRows,
    inputs: dict[str, str],
    acquisitions: dict[str, Any] | None,
    outcome: Any,
    report_path: Path,
    signed: Any,
    release_id: int,
) -> None:
    """The release's audit rows, its signature row and the sign row, in the caller's
    transaction: the pipeline's own rows completed with the release id, then the signature."""
    # check_release_rows holds the release row against these: its id, hash and disposition
    steps.append_to(
        store,
        actor=actor,
        extra={
            audit.Action.EVALUATE: {
                "release": release_id,
                "disposition": outcome.disposition,
                "record_sha256": outcome.record_sha256,
                "inputs": inputs,
                "acquisitions": acquisitions,
            },
            audit.Action.RENDER: {"release": release_id},
        },
        objects={audit.Action.RENDER: str(report_path)},  # renamed from the partial folder
    )
    if signed.entry is None:
        audit.append(
            store,
            actor=actor,
            action=audit.Action.SIGN_SKIPPED,
            object=str(report_path),
            lot=lot,
            # the CoA as stored: audit verify holds the file against it
            details={
                "release": release_id,
                "reason": signed.reason,
                "report_sha256": file_sha256(report_path),
            },
        )
        return
    entry = signed.entry
    record_signature(
        store,
        release_id,
        SignatureRow(
            user_id=entry.user_id,
            signer=entry.signer,
            meaning=entry.meaning,
            utc_time=entry.utc_time,
            key_fingerprint=entry.key_fingerprint,
        ),
    )
    audit.append(
        store,
        actor=actor,
        action=audit.Action.SIGN,
        object=str(report_path),
        lot=lot,
        details={
            "release": release_id,
            "meaning": entry.meaning,
            "user_id": entry.user_id,
            "key_fingerprint": entry.key_fingerprint,
            "report_sha256": file_sha256(report_path),  # the CoA as stored, signed
            # the registry head the service signed under (verify --data-dir holds registries
            # to every head the trail's sign rows recorded)
            **_anchor_of(entry),
        },
    )
    if signed.verification_problems:
        audit.append(
            store,
            actor=actor,
            action=audit.Action.VERIFICATION_FAILED,
            object=str(report_path),
            lot=lot,
            details={"failures": signed.verification_problems},
        )


def _anchor_of(entry: Any) -> dict[str, Any]:
    anchor = entry.registry_anchor
    if anchor is None:
        return {}
    return {"registry_version": anchor[0], "registry_head_sha256": anchor[1]}
