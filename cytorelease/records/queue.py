"""The durable work queue: items with leases, so a killed worker's item is taken up again.

An item is claimed in one serialised write transaction (a pending item, or a leased one whose
lease has expired), so two workers never hold the same item. The worker finishes an item in the
same transaction that writes its results and audit rows (:func:`finish`), and only while it
still holds the lease; a worker that lost its lease rolls back and its work is discarded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.provenance import canonical_json
from cytorelease.records import audit
from cytorelease.records.store import Store

__all__ = [
    "MAX_ATTEMPTS",
    "ItemKind",
    "ItemState",
    "LeaseLost",
    "QueueItem",
    "QueueRow",
    "claim",
    "counts",
    "enqueue",
    "finish",
    "list_in_data",
    "list_items",
    "retry",
    "retry_in_data",
]

MAX_ATTEMPTS = 10  # an item that kills its worker this often is failed, not retried forever


class ItemKind(StrEnum):
    FILE = "file"
    RELEASE = "release"


class ItemState(StrEnum):
    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"
    FAILED = "failed"
    HELD = "held"  # stopped for a person: the archive disagrees with a record, or a lot's
    # input has two different files; retried (audited) once the cause is dealt with


class LeaseLost(RuntimeError):
    """The lease expired and another worker took the item; this worker's work is discarded."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    key: str
    kind: ItemKind
    payload: dict[str, Any]
    owner: str
    attempts: int


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def enqueue(
    store: Store,
    *,
    key: str,
    kind: ItemKind,
    payload: dict[str, Any],
    held: str | None = None,
) -> bool:
    """Add an item (inside a write transaction); False when the key is already queued.

    ``held``: the item is queued held, with this reason as its outcome (no worker takes it
    until a person retries it).
    """
    state = ItemState.PENDING if held is None else ItemState.HELD
    changed = store.execute(
        "INSERT INTO queue (key, kind, payload, state, attempts, created_at, outcome)"
        " VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, str(kind), canonical_json(payload), str(state), _utc(), held),
    )
    return changed > 0


def claim(
    store: Store,
    *,
    owner: str,
    actor: str,
    lease_seconds: float,
    now: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> QueueItem | None:
    """Take the oldest pending item, or one whose lease expired; None when there is none."""
    moment = time.time() if now is None else now
    with store.write():
        while True:
            row = store.one(
                "SELECT * FROM queue WHERE state = ? OR (state = ? AND lease_until < ?)"
                " ORDER BY id LIMIT 1",
                (str(ItemState.PENDING), str(ItemState.LEASED), moment),
            )
            if row is None:
                return None
            if row["state"] == ItemState.LEASED:
                audit.append(
                    store,
                    actor=actor,
                    action=audit.Action.LEASE_RECOVERED,
                    object=str(row["key"]),
                    details={"item": row["id"], "previous_owner": row["owner"]},
                )
            if int(row["attempts"]) >= max_attempts:
                _fail(store, row, actor, f"gave up after {row['attempts']} attempts")
                continue
            store.execute(
                "UPDATE queue SET state = ?, owner = ?, lease_until = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (str(ItemState.LEASED), owner, moment + lease_seconds, row["id"]),
            )
            return QueueItem(
                id=int(row["id"]),
                key=str(row["key"]),
                kind=ItemKind(row["kind"]),
                payload=json.loads(row["payload"]),
                owner=owner,
                attempts=int(row["attempts"]) + 1,
            )


def _fail(store: Store, row: dict[str, Any], actor: str, reason: str) -> None:
    store.execute(
        "UPDATE queue SET state = ?, owner = NULL, finished_at = ?, outcome = ? WHERE id = ?",
        (str(ItemState.FAILED), _utc(), reason, row["id"]),
    )
    audit.append(
        store,
        actor=actor,
        action=audit.Action.ITEM_FAILED,
        object=str(row["key"]),
        details={"item": row["id"], "reason": reason},
    )


def finish(store: Store, item: QueueItem, *, state: ItemState, outcome: str) -> None:
    """Close ``item`` (inside the write transaction holding its results); LeaseLost if taken."""
    changed = store.execute(
        "UPDATE queue SET state = ?, finished_at = ?, outcome = ?"
        " WHERE id = ? AND owner = ? AND state = ?",
        (str(state), _utc(), outcome, item.id, item.owner, str(ItemState.LEASED)),
    )
    if changed != 1:
        raise LeaseLost(f"queue item {item.id} ({item.key}) is no longer held by {item.owner}")


def counts(store: Store) -> dict[str, int]:
    """Items per state (every state named, zeros included)."""
    found = {str(s): 0 for s in ItemState}
    for row in store.rows("SELECT state, COUNT(*) AS n FROM queue GROUP BY state"):
        found[str(row["state"])] = int(row["n"])
    return found


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue item as an operator sees it (``queue list``)."""

    id: int
    key: str
    kind: str
    state: str
    attempts: int
    created_at: str
    finished_at: str | None
    outcome: str | None
    lot: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "state": self.state,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "lot": self.lot,
        }


def _row(row: dict[str, Any]) -> QueueRow:
    payload = json.loads(row["payload"])
    return QueueRow(
        id=int(row["id"]),
        key=str(row["key"]),
        kind=str(row["kind"]),
        state=str(row["state"]),
        attempts=int(row["attempts"]),
        created_at=str(row["created_at"]),
        finished_at=row["finished_at"],
        outcome=row["outcome"],
        lot=payload.get("lot"),
    )


def list_items(store: Store, *, state: ItemState | None = None) -> list[QueueRow]:
    """Queue items in the order they were queued, optionally of one state only."""
    if state is None:
        rows = store.rows("SELECT * FROM queue ORDER BY id")
    else:
        rows = store.rows("SELECT * FROM queue WHERE state = ? ORDER BY id", (str(state),))
    return [_row(r) for r in rows]


def retry(store: Store, item_ids: list[int], *, actor: str, reason: str) -> list[QueueRow]:
    """Put failed items back in the queue, attempts reset, once the cause is fixed.

    Only a failed or held item can be retried (a pending or leased one is still under way, a
    done one has its results). One transaction: a bad id changes no item. Each item's audit row names
    who retried it, why, and the failure it had, which the item's own row then forgets.
    """
    from cytorelease.errors import InputError

    if not reason.strip():
        raise InputError("a retry needs a reason (--reason)", path=store.location)
    retried = []
    with store.write():
        for item_id in item_ids:
            row = store.one("SELECT * FROM queue WHERE id = ?", (item_id,))
            if row is None:
                raise InputError(f"no queue item {item_id}", path=store.location)
            if row["state"] not in (ItemState.FAILED, ItemState.HELD):
                raise InputError(
                    f"queue item {item_id} ({row['key']}) is {row['state']}, not failed: only "
                    "a failed or held item can be retried",
                    path=store.location,
                )
            store.execute(
                "UPDATE queue SET state = ?, owner = NULL, lease_until = NULL, attempts = 0,"
                " finished_at = NULL, outcome = NULL WHERE id = ?",
                (str(ItemState.PENDING), item_id),
            )
            audit.append(
                store,
                actor=actor,
                action=audit.Action.ITEM_RETRIED,
                object=str(row["key"]),
                lot=json.loads(row["payload"]).get("lot"),
                details={
                    "item": item_id,
                    "reason": reason.strip(),
                    "previous_outcome": row["outcome"],
                    "previous_attempts": int(row["attempts"]),
                },
            )
            updated = store.one("SELECT * FROM queue WHERE id = ?", (item_id,))
            assert updated is not None
            retried.append(_row(updated))
    return retried


def list_in_data(
    data_dir: str | Path | None, *, state: ItemState | str | None = None
) -> list[QueueRow]:
    """The queue of the data folder's store (the ``queue list`` command)."""
    from cytorelease.errors import InputError
    from cytorelease.records.store import open_data

    try:
        chosen = None if state is None else ItemState(state)
    except ValueError:
        raise InputError(f"unknown queue state {state!r}: one of {', '.join(ItemState)}") from None
    _, store = open_data(data_dir, existing=True)
    with store:
        return list_items(store, state=chosen)


def retry_in_data(
    data_dir: str | Path | None, item_ids: list[int], *, reason: str
) -> list[QueueRow]:
    """Retry failed items as the OS user (the ``queue retry`` command)."""
    from cytorelease.records.store import open_data

    _, store = open_data(data_dir, existing=True)
    with store:
        return retry(store, item_ids, actor=audit.os_user(), reason=reason)
