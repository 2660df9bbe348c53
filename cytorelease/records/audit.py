"""The hash-chained, append-only audit trail (21 CFR 11.10(e)).

Each row holds its sequence number, the UTC time with offset, the actor (an OS user, an
instrument's or the worker's service identity), the action, the object, the lot it concerns,
details (JSON), the previous row's hash and its own hash: sha256 over the canonical JSON of all
those fields. Rows are appended inside the caller's write transaction, so the action and its
audit row commit together or not at all. A correction is a new row that names the corrected
row's sequence and gives a reason; nothing earlier is ever changed.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.lot_id import lot_id_problem
from cytorelease.provenance import canonical_json
from cytorelease.records.store import Store

__all__ = [
    "GENESIS_HASH",
    "STORING_ACTIONS",
    "Action",
    "AuditEntry",
    "ChainCheck",
    "append",
    "check_data_chain",
    "correct",
    "entries",
    "entries_of",
    "first_statements",
    "os_user",
    "read_log",
    "record_verification_failure",
    "row_hash",
    "service_actor",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


class Action(StrEnum):
    INGEST = "ingest"
    DUPLICATE = "duplicate"
    QUARANTINE = "quarantine"
    REFUSE = "refuse"
    ANALYSE = "analyse"  # one raw file analysed (the worker)
    LOT_ANALYSIS = "lot-analysis"  # one analysis of a lot's release (flow, qpcr, potency...)
    ROUTE = "route"
    UNROUTED = "unrouted"
    LEASE_RECOVERED = "lease-recovered"
    ITEM_FAILED = "item-failed"
    ITEM_RETRIED = "item-retried"
    SPEC_LOAD = "spec-load"
    EVALUATE = "evaluate"
    RENDER = "render"
    SIGN = "sign"
    SIGN_SKIPPED = "sign-skipped"
    SIGN_FAILED = "sign-failed"  # a wrong passphrase (counted towards the lock-out)
    SIGN_REFUSED = "sign-refused"  # the policy, the registry or the report forbade it
    VERIFY = "verify"
    VERIFICATION_FAILED = "verification-failed"
    CORRECTION = "correction"
    EXPORT = "export"
    ARCHIVE_MISMATCH = "archive-mismatch"  # archived bytes no longer hash to their record
    NEW_CONTENT = "new-content"  # a name already received, arriving with other bytes
    ITEM_HELD = "item-held"  # the worker stopped an item for a person to decide
    ARCHIVE_VERIFY = "archive-verify"
    CHECKPOINT = "checkpoint"  # the chain head signed into D/checkpoints/ (report/checkpoint.py)
    CHECKPOINT_FAILED = "checkpoint-failed"  # the worker could not write a due checkpoint
    MANUAL_ENTER = "manual-enter"  # a manual result typed and signed (manual/<attribute>.json)
    MANUAL_VERIFY = "manual-verify"  # a second person typed the same value, blind, and signed
    MANUAL_MISMATCH = "manual-mismatch"  # the second entry differed: the lot's evaluation waits
    ADDENDUM = "addendum"  # a signed addendum issued to a CoA (cytorelease.addendum)
    REANALYSE = "reanalyse"  # an impact assessment run: what-if records under a proposed change
    LOTS_IMPORT = "lots-import"  # a release record's rows brought into the lots dataset
    TREND_FREEZE = "trend-freeze"  # a product's I-MR baseline frozen into the data folder


def os_user() -> str:
    """The operating-system account running this process (the actor of interactive commands)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def service_actor(name: str) -> str:
    """A service identity: ``service:<name>@<host>`` (run by the OS user in the details)."""
    return f"service:{name}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    sequence: int
    utc_time: str
    actor: str
    action: str
    object: str
    lot: str | None
    details: dict[str, Any]
    previous_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "utc_time": self.utc_time,
            "actor": self.actor,
            "action": self.action,
            "object": self.object,
            "lot": self.lot,
            "details": self.details,
            "previous_hash": self.previous_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.hashed_fields(), "hash": self.hash}


def row_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def _now_text(now: datetime | None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="microseconds")  # 2026-11-21T05:40:00.123456+00:00


def append(
    store: Store,
    *,
    actor: str,
    action: Action,
    object: str,
    details: dict[str, Any] | None = None,
    lot: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one row; call inside ``store.write()`` (the write lock orders the chain)."""
    last = store.one("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
    sequence = 1 if last is None else int(last["sequence"]) + 1
    previous = GENESIS_HASH if last is None else str(last["hash"])
    details = json.loads(canonical_json(details or {}))
    fields: dict[str, Any] = {
        "sequence": sequence,
        "utc_time": _now_text(now),
        "actor": actor,
        "action": str(Action(action)),
        "object": object,
        "lot": lot,
        "details": details,
        "previous_hash": previous,
    }
    entry = AuditEntry(**fields, hash=row_hash(fields))
    store.execute(
        "INSERT INTO audit_log (sequence, utc_time, actor, action, object, lot, details,"
        " previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.sequence,
            entry.utc_time,
            entry.actor,
            entry.action,
            entry.object,
            entry.lot,
            canonical_json(entry.details),
            entry.previous_hash,
            entry.hash,
        ),
    )
    return entry


def correct(
    store: Store, *, sequence: int, reason: str, actor: str, details: dict[str, Any] | None = None
) -> AuditEntry:
    """A correction row that references row ``sequence`` with a reason (the old row stays)."""
    from cytorelease.errors import InputError

    if not reason.strip():
        raise InputError("a correction needs a reason", path=store.location)
    with store.write():
        old = store.one("SELECT object, lot FROM audit_log WHERE sequence = ?", (sequence,))
        if old is None:
            raise InputError(f"no audit row {sequence} to correct", path=store.location)
        return append(
            store,
            actor=actor,
            action=Action.CORRECTION,
            object=str(old["object"]),
            lot=old["lot"],
            details={"corrects": sequence, "reason": reason.strip(), **(details or {})},
        )


def entry_from_row(row: dict[str, Any]) -> AuditEntry:
    """An ``audit_log`` row as an :class:`AuditEntry`."""
    return AuditEntry(
        sequence=int(row["sequence"]),
        utc_time=str(row["utc_time"]),
        actor=str(row["actor"]),
        action=str(row["action"]),
        object=str(row["object"]),
        lot=row["lot"],
        details=json.loads(row["details"]),
        previous_hash=str(row["previous_hash"]),
        hash=str(row["hash"]),
    )


def entries(store: Store, *, lot: str | None = None) -> list[AuditEntry]:
    """Every row in sequence order, or only those concerning ``lot``."""
    if lot is None:
        rows = store.rows("SELECT * FROM audit_log ORDER BY sequence")
    else:
        rows = store.rows("SELECT * FROM audit_log WHERE lot = ? ORDER BY sequence", (lot,))
    return [entry_from_row(r) for r in rows]


def entries_of(store: Store, *actions: Action, object: str | None = None) -> list[AuditEntry]:
    """The rows of these actions (and of ``object`` when given), in sequence order."""
    marks = ", ".join("?" for _ in actions)
    sql = f"SELECT * FROM audit_log WHERE action IN ({marks})"
    params: list[str] = [str(a) for a in actions]
    if object is not None:
        sql += " AND object = ?"
        params.append(object)
    return [entry_from_row(r) for r in store.rows(sql + " ORDER BY sequence", params)]


# The rows each path that writes the lots dataset appends in the same transaction, naming the
# record's SHA-256 (``record_sha256``): the worker's evaluate and render rows, a person's render
# row (``release --data-dir``), ``lots import``'s lots-import row.
STORING_ACTIONS = (Action.EVALUATE, Action.RENDER, Action.LOTS_IMPORT)


def first_statements(store: Store, lots: Sequence[str]) -> dict[str, int]:
    """Record SHA-256 -> the sequence of the first row of :data:`STORING_ACTIONS` that names
    it, for the records of ``lots`` (one indexed read by lot for up to 900 lots at a time): the
    place in the trail where the lots dataset got that record, whatever the hosts' clocks."""
    wanted = sorted(set(lots))
    found: dict[str, int] = {}
    actions = [str(a) for a in STORING_ACTIONS]
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        rows = store.tuples(
            f"SELECT sequence, details FROM audit_log WHERE lot IN ({', '.join('?' for _ in chunk)})"
            f" AND action IN ({', '.join('?' for _ in actions)})",
            [*chunk, *actions],
        )
        for sequence, details in rows:
            sha = json.loads(details).get("record_sha256")
            if isinstance(sha, str) and (sha not in found or int(sequence) < found[sha]):
                found[sha] = int(sequence)
    return found


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The outcome of recomputing the chain: ``broken_at`` names the first bad row."""

    rows: int
    last_hash: str
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "last_hash": self.last_hash,
            "broken_at": self.broken_at,
            "problem": self.problem,
        }


def verify_chain(store: Store) -> ChainCheck:
    """Recompute every row's hash and link; stops at the first row that does not hold."""
    previous, expected_sequence, count = GENESIS_HASH, 1, 0
    for row in store.rows("SELECT * FROM audit_log ORDER BY sequence"):
        sequence = int(row["sequence"])
        try:
            entry = entry_from_row(row)
        except (ValueError, TypeError) as exc:
            return ChainCheck(count, previous, sequence, f"row {sequence}: unreadable ({exc})")
        if sequence != expected_sequence:
            return ChainCheck(
                count,
                previous,
                sequence,
                f"row {sequence}: expected sequence {expected_sequence} (rows removed?)",
            )
        if entry.previous_hash != previous:
            return ChainCheck(
                count,
                previous,
                sequence,
                f"row {sequence}: previous hash does not match row {sequence - 1}",
            )
        if row_hash(entry.hashed_fields()) != entry.hash:
            return ChainCheck(
                count,
                previous,
                sequence,
                f"row {sequence}: content does not match its hash (altered after it was written)",
            )
        previous, expected_sequence, count = entry.hash, sequence + 1, count + 1
    return ChainCheck(count, previous)


def read_log(data_dir: str | Path | None, *, lot: str | None = None) -> list[AuditEntry]:
    """The audit rows of the data folder's store (the ``audit log`` command)."""
    from cytorelease.records.store import open_data

    if lot is not None and (problem := lot_id_problem(lot)) is not None:
        # before the store is opened; the value is not quoted (it may hold a line break)
        raise InputError(f"not a lot id: {problem}", path="--lot")
    _, store = open_data(data_dir, existing=True)
    with store:
        return entries(store, lot=lot)


def correct_in_data(data_dir: str | Path | None, *, sequence: int, reason: str) -> AuditEntry:
    """Append a correction of row ``sequence`` by the OS user (the ``audit correct`` command)."""
    from cytorelease.records.store import open_data

    _, store = open_data(data_dir, existing=True)
    with store:
        return correct(store, sequence=sequence, reason=reason, actor=os_user())


def record_verification_failure(store: Store, object: str, details: dict[str, Any]) -> None:
    """A failed check of ``object`` (the chain, the checkpoints, the release rows) as its own
    row, by the OS user running the check."""
    with store.write():
        append(
            store,
            actor=os_user(),
            action=Action.VERIFICATION_FAILED,
            object=object,
            details=details,
        )


def check_data_chain(data_dir: str | Path | None) -> ChainCheck:
    """Verify the chain of the data folder's store (the ``audit verify`` command).

    A break is itself audited (as a new row, by the OS user) and raised as a
    :class:`VerificationError` naming the first broken row.
    """
    from cytorelease.errors import VerificationError
    from cytorelease.records.store import open_data

    _, store = open_data(data_dir, existing=True)
    with store:
        check = verify_chain(store)
        if check.ok:
            return check
        record_verification_failure(
            store, "audit_log", {"broken_at": check.broken_at, "problem": check.problem}
        )
        raise VerificationError(
            f"audit trail broken at row {check.broken_at}: {check.problem}",
            path=store.location,
            hint=f"{check.rows} rows before it verified",
        )
