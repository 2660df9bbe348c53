"""The signed record of a lot's manual results: ``LOT_DIR/manual/<attribute>.json``.

Each manual attribute (sterility, endotoxin, ...) has one file holding the chain of its events:
an ``enter`` (the first person types the value) and ``verify`` events (a second person types it
again, blind; ``matches`` says whether the two agreed). A correction is a new ``enter`` with a
reason; it needs its own verification. Every event is signed with its author's registered key
over its fields and the SHA-256 of the event before it, and names the lot and its chain of
identity, so an event cannot be edited, reordered or copied into another lot's folder unseen.
Deleting the newest events can only be seen against the audit trail, which records every event
(see :mod:`~cytorelease.manual.checking`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError

__all__ = [
    "EVENT_SCHEMA",
    "MANUAL_DIR",
    "Action",
    "ManualEvent",
    "event_sha256",
    "events_path",
    "parse_events",
    "read_events",
    "read_record_bytes",
    "write_events",
]

EVENT_SCHEMA = "cytorelease.manual-event/1"
MANUAL_DIR = "manual"
# A manual record is a few signed lines; anything larger is not one (and is never parsed).
_MAX_BYTES = 1 << 20
_MAX_EVENTS = 1000


class Action(StrEnum):
    ENTER = "enter"
    VERIFY = "verify"


@dataclass(frozen=True, slots=True)
class ManualEvent:
    lot: str
    chain_of_identity: str
    attribute: str
    action: str
    value: str  # as typed (whitespace collapsed)
    unit: str | None
    reason: str | None  # why an entry replaces an earlier one (required then)
    comment: str | None
    matches: bool | None  # verify only: the second entry equals the first
    signer: str
    user_id: str
    role: str
    key_fingerprint: str
    public_key: str  # base64 raw Ed25519
    utc_time: str
    previous: str | None  # SHA-256 of the event before it in this file
    signature: str = ""
    trusted_time: str | None = None  # base64 RFC 3161 token over sha256(signature)
    schema: str = EVENT_SCHEMA

    def signed_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["signature"], fields["trusted_time"]
        return fields

    def signed_bytes(self) -> bytes:
        return json.dumps(self.signed_fields(), sort_keys=True, separators=(",", ":")).encode()

    def signature_bytes(self) -> bytes:
        return base64.b64decode(self.signature, validate=True)

    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)

    def token_bytes(self) -> bytes | None:
        return base64.b64decode(self.trusted_time, validate=True) if self.trusted_time else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, *, path: Path, index: int) -> ManualEvent:
        where = f"events[{index}]"
        if not isinstance(data, dict):
            raise InputError(f"{where}: not an object", path=path)
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{where}: unknown field {unknown[0]!r}", path=path)
        missing = sorted(n for n in names - set(data) if n not in {"trusted_time"})
        if missing:
            raise InputError(f"{where}: missing field {missing[0]!r}", path=path)
        text_fields = ("lot", "chain_of_identity", "attribute", "action", "value", "signer",
                       "user_id", "role", "key_fingerprint", "public_key", "utc_time",
                       "signature", "schema")  # fmt: skip
        for name in text_fields:
            if not isinstance(data[name], str):
                raise InputError(f"{where}.{name}: not a string", path=path)
        for name in ("unit", "reason", "comment", "previous", "trusted_time"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise InputError(f"{where}.{name}: not a string", path=path)
        if data["matches"] is not None and not isinstance(data["matches"], bool):
            raise InputError(f"{where}.matches: not true, false or null", path=path)
        if data["schema"] != EVENT_SCHEMA:
            raise InputError(f"{where}.schema: {data['schema']!r} is not {EVENT_SCHEMA}", path=path)
        if data["action"] not in {a.value for a in Action}:
            raise InputError(
                f"{where}.action: {data['action']!r} is not enter or verify", path=path
            )
        event = cls(**data)
        try:
            event.signature_bytes(), event.public_key_bytes(), event.token_bytes()
        except (binascii.Error, ValueError):
            raise InputError(
                f"{where}: a signature, key or token is not base64", path=path
            ) from None
        return event


def event_sha256(event: ManualEvent) -> str:
    """What the next event's ``previous`` names: the SHA-256 of the signed event (its fields
    and signature; the token is over the signature, so it is covered too)."""
    data = json.dumps(
        {**event.signed_fields(), "signature": event.signature},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(data.encode()).hexdigest()


def events_path(lot_dir: Path, attribute: str) -> Path:
    return lot_dir / MANUAL_DIR / f"{attribute}.json"


def read_events(path: Path) -> tuple[list[ManualEvent], str]:
    """The events of one attribute's file, structurally checked (signatures are checked by
    :mod:`~cytorelease.manual.checking`), and the SHA-256 of the bytes read; an absent file
    has none (and an empty hash)."""
    data = read_record_bytes(path)
    return parse_events(data, path=path) if data is not None else ([], "")


def read_record_bytes(path: Path) -> bytes | None:
    """The bytes of one attribute's file (None when there is none), read at most one byte past
    what a record may hold, so :func:`parse_events` refuses a larger one."""
    try:
        with path.open("rb") as handle:
            return handle.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InputError("is a folder, not a manual record", path=path) from None


def parse_events(data: bytes, *, path: Path) -> tuple[list[ManualEvent], str]:
    """The events of a manual record given as its bytes (a file's, or the copy an addendum
    carries), structurally checked, and the SHA-256 of those bytes."""
    if len(data) > _MAX_BYTES:
        raise InputError(f"larger than {_MAX_BYTES} bytes: not a manual record", path=path)
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a manual record (invalid JSON: {exc.__class__.__name__})",
                         path=path) from None  # fmt: skip
    if not isinstance(document, dict) or set(document) != {"events"}:
        raise InputError("not a manual record (expected an object with 'events')", path=path)
    raw = document["events"]
    if not isinstance(raw, list) or not raw or len(raw) > _MAX_EVENTS:
        raise InputError(f"'events' must list 1 to {_MAX_EVENTS} events", path=path)
    events = [ManualEvent.from_dict(item, path=path, index=i) for i, item in enumerate(raw)]
    return events, hashlib.sha256(data).hexdigest()


def write_events(path: Path, events: list[ManualEvent]) -> None:
    """Rewrite the file atomically with ``events`` (the old ones and the new one)."""
    from cytorelease.report.keys import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"events": [e.to_dict() for e in events]}, indent=2, sort_keys=True)
    atomic_write(path, (text + "\n").encode(), mode=0o644)
