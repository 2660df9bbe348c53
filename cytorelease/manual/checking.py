"""A lot's manual results, each checked before it is judged: its chain, every signature, and
(with the site's registry) every author's authority at the event's trusted time.

A value becomes a verified result only when a second person, registered in a role that may
verify and not the person who entered it, typed the same value (:mod:`values`). Anything less
is ``unverified`` (the spec then judges its criterion ``unverified`` and the lot cannot pass);
a mismatch blocks the lot's evaluation until the value is entered again; a broken chain, a
signature that does not verify or an event copied from another lot is refused outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cytorelease.errors import InputError
from cytorelease.manual.events import (
    Action,
    ManualEvent,
    event_sha256,
    parse_events,
    read_record_bytes,
)
from cytorelease.manual.values import values_match
from cytorelease.signature_policy import Role

if TYPE_CHECKING:
    from cytorelease.report.registry import Registry

__all__ = [
    "ENTER_ROLES",
    "VERIFY_ROLES",
    "ManualResult",
    "State",
    "authority_problem",
    "check_events",
    "check_record",
    "event_moment",
]

# Who may type a manual result first, and who may check it by typing it again.
ENTER_ROLES = frozenset({Role.ANALYST})
VERIFY_ROLES = frozenset({Role.ANALYST, Role.REVIEWER, Role.QA_APPROVER})


class State(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class ManualResult:
    attribute: str
    value: str
    unit: str | None
    state: State
    note: str | None  # why it is not verified
    entered: ManualEvent
    verified: ManualEvent | None
    path: Path
    file_sha256: str
    events: tuple[ManualEvent, ...]
    text: str = ""  # the record's bytes as read (UTF-8 JSON), so a document can carry it

    def details(self) -> dict[str, Any]:
        """What the measurement records: who entered and verified it, when, and the record."""
        out: dict[str, Any] = {
            "entered_by": self.entered.user_id,
            "entered_at": self.entered.utc_time,
            "verification": str(self.state),
            "manual_record_sha256": self.file_sha256,
            "manual_events": [event_sha256(e) for e in self.events],
        }
        if self.verified is not None:
            out["verified_by"] = self.verified.user_id
            out["verified_at"] = self.verified.utc_time
        if self.note:
            out["verification_note"] = self.note
        if self.entered.comment:
            out["comment"] = self.entered.comment
        if self.entered.reason:
            out["correction_reason"] = self.entered.reason
        return out


def event_moment(event: ManualEvent, registry: Registry | None) -> tuple[datetime, str | None]:
    """(the time the event is judged at, a problem with its trusted time or None)."""
    from cytorelease.report.entry import parse_utc
    from cytorelease.report.trust import token_moment

    claimed = parse_utc(event.utc_time)
    if registry is None:
        return claimed, None
    moment, problem = token_moment(
        event.token_bytes(), event.signature_bytes(), claimed, registry.tsa_certificates()
    )
    return moment or claimed, problem


def authority_problem(
    event: ManualEvent, registry: Registry, allowed: frozenset[Role]
) -> str | None:
    """What is wrong with the author's authority at the event's time, or None."""
    moment, problem = event_moment(event, registry)
    if problem:
        return problem
    stamp = f"{moment:%Y-%m-%dT%H:%M:%SZ}"
    version = registry.in_force(moment)
    if version is None:
        return f"it is dated {stamp}, before the signer registry was created"
    if version.tsa_certificates and event.trusted_time is None:
        return f"the registry in force at {stamp} trusts a TSA, and the event has no trusted time"
    known = version.entry(event.key_fingerprint)
    if known is None:
        return f"key {event.key_fingerprint[:16]}… was not registered at {stamp}"
    if (known.name, known.user_id) != (event.signer, event.user_id):
        return f"the registry lists the key for {known.name} ({known.user_id}), not {event.user_id}"
    if known.status != "active":
        return f"the key was revoked at {known.revoked_at} ({known.revoked_reason})"
    if not known.valid_at(moment):
        return f"the key was not valid at {stamp} ({known.valid_from} to {known.valid_until})"
    roles = set(known.roles) & allowed
    if not roles or event.role not in {str(r) for r in roles}:
        held = ", ".join(str(r) for r in known.roles)
        may = " or ".join(sorted(str(r) for r in allowed))
        return f"{known.user_id} holds {held}; a manual {event.action} needs {may}"
    return None


def _signature_ok(event: ManualEvent) -> bool:
    from cytorelease.report.keys import fingerprint

    raw = event.public_key_bytes()
    if fingerprint(raw) != event.key_fingerprint or len(raw) != 32:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            event.signature_bytes(), event.signed_bytes()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def check_record(
    path: Path,
    *,
    lot_id: str,
    chain_of_identity: str,
    attribute: str,
    registry: Registry | None,
) -> ManualResult | None:
    """The attribute's manual result from its record at ``path`` (None when there is none).

    Raises ``InputError`` naming the event for a record that is not what the tool wrote: a
    broken chain, a bad signature, another lot's event, a verification by the person who
    entered the value or one whose ``matches`` contradicts the two values.
    """
    data = read_record_bytes(path)
    if data is None:
        return None
    events, file_sha256 = parse_events(data, path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not a manual record (not UTF-8)", path=path) from None
    return check_events(
        events,
        file_sha256,
        text=text,
        path=path,
        lot_id=lot_id,
        chain_of_identity=chain_of_identity,
        attribute=attribute,
        registry=registry,
    )


def check_events(
    events: list[ManualEvent],
    file_sha256: str,
    *,
    path: Path,
    lot_id: str,
    chain_of_identity: str,
    attribute: str,
    registry: Registry | None,
    text: str = "",
) -> ManualResult:
    """The result a non-empty record's ``events`` give (see :func:`check_record`); ``path``
    names the record in errors (a file, or the copy an addendum carries)."""
    from cytorelease.report.entry import parse_utc

    previous: ManualEvent | None = None
    entered: ManualEvent | None = None
    verified: ManualEvent | None = None
    mismatch: ManualEvent | None = None
    for index, event in enumerate(events):
        where = f"events[{index}] ({event.action} by {event.user_id})"
        if (event.lot, event.chain_of_identity) != (lot_id, chain_of_identity):
            raise InputError(
                f"{where} belongs to lot {event.lot} ({event.chain_of_identity}), not "
                f"{lot_id} ({chain_of_identity}): a manual record copied from another lot",
                path=path,
            )
        if event.attribute != attribute:
            raise InputError(f"{where} is for {event.attribute}, not {attribute}", path=path)
        expected = event_sha256(previous) if previous else None
        if event.previous != expected:
            raise InputError(
                f"{where}: the chain is broken (an event before it was removed, reordered "
                "or edited)",
                path=path,
            )
        if not _signature_ok(event):
            raise InputError(f"{where}: the signature does not verify (edited after signing)",
                             path=path)  # fmt: skip
        try:
            moment = parse_utc(event.utc_time)
        except ValueError:
            raise InputError(f"{where}: utc_time is not a UTC time", path=path) from None
        if previous is not None and moment < parse_utc(previous.utc_time):
            raise InputError(f"{where} is dated before the event it follows", path=path)
        if event.action == Action.ENTER:
            if entered is not None and not event.reason:
                raise InputError(f"{where} replaces an entry without a reason", path=path)
            entered, verified, mismatch = event, None, None
        else:
            if entered is None:
                raise InputError(f"{where} verifies before any value was entered", path=path)
            if event.user_id == entered.user_id:
                raise InputError(f"{where}: verified by the person who entered it", path=path)
            agree = values_match(entered.value, entered.unit, event.value, event.unit)
            if event.matches is not agree:
                raise InputError(
                    f"{where} says the entries {'match' if event.matches else 'differ'}, "
                    f"but they {'match' if agree else 'differ'}",
                    path=path,
                )
            if agree:
                verified = verified or event
            else:
                mismatch = event
        previous = event
    assert entered is not None  # the first event of a non-empty record is an enter or refused
    state = State.UNVERIFIED
    note: str | None = "no second person has verified it"
    if mismatch is not None:
        state = State.MISMATCH
        note = f"the second entry by {mismatch.user_id} does not match the first"
    elif verified is not None:
        state, note = State.VERIFIED, None
        if registry is None:
            state = State.UNVERIFIED
            note = "no signer registry was given, so its signers' authority was not checked"
        else:
            for event, allowed in ((entered, ENTER_ROLES), (verified, VERIFY_ROLES)):
                problem = authority_problem(event, registry, allowed)
                if problem:
                    state = State.UNVERIFIED
                    note = f"the {event.action} by {event.user_id} does not count: {problem}"
                    break
    return ManualResult(
        attribute=attribute,
        value=entered.value,
        unit=entered.unit,
        state=state,
        note=note,
        entered=entered,
        verified=verified if state is State.VERIFIED else None,
        path=path,
        file_sha256=file_sha256,
        events=tuple(events),
        text=text,
    )
