"""The what-if table of ``reanalyse``: each lot's outcome under a proposed change, never a release.

A row is keyed by (lot, the SHA-256 of the lot's inputs, the SHA-256 of the definitions it was
re-analysed under), so a second run of the same change finds what is done and a killed run
resumes where it stopped. Rows are append-only (store.py guards the table): a what-if is a
record of what a proposed version would have said, and the release it is held against is never
touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cytorelease.records.store import Store

__all__ = ["done_keys", "record_whatif", "whatif_records"]


def done_keys(store: Store, change_sha256: str) -> set[tuple[str, str]]:
    """(lot, inputs SHA-256) of every lot already re-analysed under this change."""
    return {
        (str(lot), str(inputs))
        for lot, inputs in store.tuples(
            "SELECT lot, inputs_sha256 FROM whatif_results WHERE change_sha256 = ?",
            (change_sha256,),
        )
    }


def record_whatif(
    store: Store,
    *,
    lot: str,
    inputs_sha256: str,
    change_sha256: str,
    release_id: int,
    disposition: str,
    unlocked: bool,
    record: Mapping[str, Any],
    stored_at: str,
) -> bool:
    """Store one outcome; False when that key is already stored (a resumed or repeated run)."""
    written = store.execute(
        "INSERT INTO whatif_results (lot, inputs_sha256, change_sha256, release_id, disposition,"
        " unlocked, record, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (lot, inputs_sha256, change_sha256) DO NOTHING",
        (
            lot,
            inputs_sha256,
            change_sha256,
            release_id,
            disposition,
            int(unlocked),
            json.dumps(record, sort_keys=True),
            stored_at,
        ),
    )
    return written > 0


def whatif_records(
    store: Store, change_sha256: str, lots: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The stored records of a change (each as its JSON), in lot order."""
    wanted = None if lots is None else set(lots)
    return [
        json.loads(str(row["record"]))
        for row in store.rows(
            "SELECT lot, record FROM whatif_results WHERE change_sha256 = ? ORDER BY lot",
            (change_sha256,),
        )
        if wanted is None or row["lot"] in wanted
    ]
