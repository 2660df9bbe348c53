"""``manual enter`` and ``manual verify``: a person types a manual result, a second person types
it again without seeing the first, and each signs what they typed.

Both go through the same key safeguards as a CoA signature (:func:`report.unlock.unlock_signer`:
lock-out, audited failures, the site's trusted time); each event is checked, after signing, as
the release will check it (:func:`checking.authority_problem`), so nothing is written that the
release would not count.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import SignatureError
from cytorelease.manual.checking import (
    ENTER_ROLES,
    VERIFY_ROLES,
    ManualResult,
    authority_problem,
    check_record,
)
from cytorelease.manual.events import Action, ManualEvent, event_sha256, events_path, write_events
from cytorelease.manual.values import parse_value, values_match
from cytorelease.signature_policy import Role

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.unlock import Unlocked

__all__ = ["Entered", "LotIdentity", "enter_value", "verify_value"]

_MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class LotIdentity:
    """Which lot an entry belongs to (from its manifest): events name both, so an entry copied
    into another lot's folder is refused."""

    lot_id: str
    chain_of_identity: str


@dataclass(frozen=True, slots=True)
class Entered:
    event: ManualEvent
    path: Path
    matches: bool | None  # verify only

    def to_dict(self) -> dict[str, Any]:
        # a verification's output never shows the first entry's value (the check is blind)
        return {
            "lot": self.event.lot,
            "attribute": self.event.attribute,
            "action": self.event.action,
            "user_id": self.event.user_id,
            "signer": self.event.signer,
            "role": self.event.role,
            "utc_time": self.event.utc_time,
            "trusted_time": self.event.trusted_time is not None,
            "matches": self.matches,
            "record": str(self.path),
            "event_sha256": event_sha256(self.event),
        }


def _one_line(text: str | None, what: str, path: Path) -> str | None:
    if text is None or not text.strip():
        return None
    line = " ".join(text.split())
    if len(line) > _MAX_TEXT or not line.isprintable():
        raise SignatureError(f"the {what} must be at most {_MAX_TEXT} printable characters",
                             path=path)  # fmt: skip
    return line


def _refuse(trail: Trail | None, path: Path, lot: str, what: str, user_id: str, problem: str,
            hint: str | None = None) -> SignatureError:  # fmt: skip
    from cytorelease.report.unlock import audit_signing

    audit_signing(trail, path, "sign-refused", {"meaning": what, "user_id": user_id,
                  "lot": lot, "problem": problem})  # fmt: skip
    return SignatureError(problem, path=path, hint=hint)


def _sign_event(
    unlocked: Unlocked, fields: dict[str, Any], moment: datetime, path: Path
) -> ManualEvent:
    from cytorelease.report.entry import format_utc
    from cytorelease.report.trust import stamp_signature
    from cytorelease.report.unlock import raw_public_of

    signer = unlocked.signer
    unsigned = ManualEvent(
        **fields,
        signer=signer.name,
        user_id=signer.user_id,
        key_fingerprint=signer.fingerprint,
        public_key=base64.b64encode(raw_public_of(unlocked.private_key)).decode("ascii"),
        utc_time=format_utc(moment),
    )
    signature = unlocked.private_key.sign(unsigned.signed_bytes())
    token = stamp_signature(signature, moment, unlocked.registry, unlocked.tsa, str(path))
    return ManualEvent(**{**unsigned.to_dict(), "signature": base64.b64encode(signature).decode(),
                          "trusted_time": token})  # fmt: skip


def _write(
    trail: Trail | None,
    path: Path,
    existing: ManualResult | None,
    event: ManualEvent,
    allowed: frozenset[Role],
    unlocked: Unlocked,
) -> None:
    problem = authority_problem(event, unlocked.registry, allowed)
    if problem:
        raise _refuse(trail, path, event.lot, f"manual-{event.action}", event.user_id, problem)
    write_events(path, [*(existing.events if existing else ()), event])
    if trail is not None:
        from cytorelease.records.audit import Action as Audit

        action = {Action.ENTER: Audit.MANUAL_ENTER, Action.VERIFY: Audit.MANUAL_VERIFY}[
            Action(event.action)
        ]
        if event.matches is False:
            action = Audit.MANUAL_MISMATCH
        details = {
            "attribute": event.attribute,
            "user_id": event.user_id,
            "role": event.role,
            "utc_time": event.utc_time,
            "event_sha256": event_sha256(event),
            "trusted_time": event.trusted_time is not None,
            # a signing: it ends the key's run of failed passphrases, under this registry head
            "key_identity": unlocked.key_identity,
            "registry_head_sha256": unlocked.registry.head_sha256,
            "registry_version": unlocked.registry.head.version,
        }
        if event.reason:
            details["reason"] = event.reason
        trail.record(action, str(path.absolute()), lot=event.lot, details=details)


def _moment(now: datetime | None, existing: ManualResult | None, path: Path) -> datetime:
    from cytorelease.report.entry import format_utc, parse_utc

    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if existing and moment < parse_utc(existing.events[-1].utc_time):
        raise SignatureError(
            f"the clock says {format_utc(moment)}, before the record's last event "
            f"({existing.events[-1].utc_time}); check the system time",
            path=path,
        )
    return moment


@dataclass(frozen=True, slots=True)
class _Opened:
    """One manual action under way: the value as typed, its record and the unlocked key."""

    path: Path
    lot: LotIdentity
    attribute: str
    typed: str
    unit: str | None
    existing: ManualResult | None
    unlocked: Unlocked

    @property
    def user(self) -> str:
        return self.unlocked.signer.user_id

    def role(self, allowed: frozenset[Role]) -> Role | None:
        return next((r for r in self.unlocked.signer.roles if r in allowed), None)


def _open(
    lot_dir: str | Path, lot: LotIdentity, attribute: str, value: str, unit: str | None,
    key_path: str | Path, passphrase: str, registry: str | Path, purpose: str,
    trail: Trail | None, now: datetime | None, tsa: str | None,
) -> _Opened:  # fmt: skip
    from cytorelease.report.registry import load_registry
    from cytorelease.report.unlock import unlock_signer

    typed, unit = parse_value(attribute, value, unit)
    path = events_path(Path(lot_dir), attribute)
    # the record as it stands must hold up before anything is appended to it
    existing = check_record(path, lot_id=lot.lot_id, chain_of_identity=lot.chain_of_identity,
                            attribute=attribute, registry=load_registry(registry))  # fmt: skip
    unlocked = unlock_signer(key_path, passphrase, registry, target=path, purpose=purpose,
                             trail=trail, now=now, tsa=tsa)  # fmt: skip
    return _Opened(path, lot, attribute, typed, unit, existing, unlocked)


def _record(
    opened: _Opened, trail: Trail | None, now: datetime | None, *, action: Action,
    role: Role, allowed: frozenset[Role], reason: str | None, comment: str | None,
    matches: bool | None,
) -> Entered:  # fmt: skip
    """Sign the event, check it as a release will, append it and audit it."""
    existing, path = opened.existing, opened.path
    event = _sign_event(
        opened.unlocked,
        {"lot": opened.lot.lot_id, "chain_of_identity": opened.lot.chain_of_identity,
         "attribute": opened.attribute, "action": str(action), "value": opened.typed,
         "unit": opened.unit, "reason": reason, "comment": _one_line(comment, "comment", path),
         "matches": matches, "role": str(role),
         "previous": event_sha256(existing.events[-1]) if existing else None},
        _moment(now, existing, path),
        path,
    )  # fmt: skip
    _write(trail, path, existing, event, allowed, opened.unlocked)
    return Entered(event=event, path=path, matches=matches)


def enter_value(
    lot_dir: str | Path,
    lot: LotIdentity,
    *,
    attribute: str,
    value: str,
    key_path: str | Path,
    passphrase: str,
    registry: str | Path,
    unit: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
    trail: Trail | None = None,
    now: datetime | None = None,
    tsa: str | None = None,
) -> Entered:
    """Record the first entry of a manual result (a correction when one exists: ``reason``)."""
    opened = _open(lot_dir, lot, attribute, value, unit, key_path, passphrase, registry,
                   "manual-enter", trail, now, tsa)  # fmt: skip
    path, user, existing = opened.path, opened.user, opened.existing
    role = opened.role(ENTER_ROLES)
    if role is None:
        raise _refuse(trail, path, lot.lot_id, "manual-enter", user,
                      f"{user} holds no role that may enter a manual result (analyst)")  # fmt: skip
    reason = _one_line(reason, "reason", path)
    if existing is not None and reason is None:
        raise _refuse(
            trail, path, lot.lot_id, "manual-enter", user,
            f"{attribute} was already entered by {existing.entered.user_id} at "
            f"{existing.entered.utc_time}; a correction needs a reason",
            hint="enter it again with --reason TEXT (the value then needs a new verification)",
        )  # fmt: skip
    return _record(opened, trail, now, action=Action.ENTER, role=role, allowed=ENTER_ROLES,
                   reason=reason, comment=comment, matches=None)  # fmt: skip


def verify_value(
    lot_dir: str | Path,
    lot: LotIdentity,
    *,
    attribute: str,
    value: str,
    key_path: str | Path,
    passphrase: str,
    registry: str | Path,
    unit: str | None = None,
    comment: str | None = None,
    trail: Trail | None = None,
    now: datetime | None = None,
    tsa: str | None = None,
) -> Entered:
    """Record a second person's blind re-entry; ``matches`` says whether it equals the first.

    A mismatch is recorded (signed and audited) and blocks the lot's evaluation until the value
    is entered again with a reason.
    """
    opened = _open(lot_dir, lot, attribute, value, unit, key_path, passphrase, registry,
                   "manual-verify", trail, now, tsa)  # fmt: skip
    path, user, existing = opened.path, opened.user, opened.existing
    if existing is None:
        raise _refuse(trail, path, lot.lot_id, "manual-verify", user,
                      f"{attribute} has not been entered for lot {lot.lot_id}",
                      hint="the first person enters it with `cytorelease manual enter`")  # fmt: skip
    if existing.entered.user_id == user:
        raise _refuse(trail, path, lot.lot_id, "manual-verify", user,
                      f"{user} entered {attribute}; a second person must verify it")  # fmt: skip
    role = opened.role(VERIFY_ROLES)
    if role is None:
        raise _refuse(trail, path, lot.lot_id, "manual-verify", user,
                      f"{user} holds no role that may verify a manual result "
                      "(analyst, reviewer or qa-approver)")  # fmt: skip
    matches = values_match(existing.entered.value, existing.entered.unit, opened.typed,
                           opened.unit)  # fmt: skip
    return _record(opened, trail, now, action=Action.VERIFY, role=role, allowed=VERIFY_ROLES,
                   reason=None, comment=comment, matches=matches)  # fmt: skip
