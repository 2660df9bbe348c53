"""The rules between two versions of the signer registry (Part 11.300 identification codes).

Checked on every load, for every version, so a registry written by hand or by an older tool
obeys them as much as one written by ``cytorelease keys``: entries are never removed or edited,
only revoked; a user id always names the same person; a person has one active key at a time; a
key's validity does not start before the version that registers it (no backdating a key into a
signature); at least one active admin remains. A version's ``format`` never goes back, and a
format-2 version that adds a person (any role but service) names how that person's identity was
verified (``identity_evidence``, 11.100(b)). Versions written before format 2 carry no evidence
and stay valid: the rule binds only what the versions claiming format 2 add.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cytorelease.report.keys import fingerprint
from cytorelease.signature_policy import Role

if TYPE_CHECKING:
    from cytorelease.report.registry import RegistryEntry, RegistryVersion

__all__ = ["check_transition"]


def check_transition(previous: RegistryVersion | None, version: RegistryVersion) -> str | None:
    """The first rule ``version`` breaks coming after ``previous``, or None."""
    problem = _check_entries(version)
    if problem:
        return problem
    if previous is None:
        return _check_init(version) or _check_evidence(version, version.entries)
    if version.format < previous.format:
        return (
            f"written in format {version.format} after a format {previous.format} version "
            "(a registry's format never goes back)"
        )
    if version.created < previous.created:
        return f"created {version.created_at}, before version {previous.version}"
    old = {e.fingerprint: e for e in previous.entries}
    new = {e.fingerprint: e for e in version.entries}
    missing = [e.user_id for f, e in old.items() if f not in new]
    if missing:
        return f"the entry of {missing[0]} was removed (entries are only ever revoked)"
    changed = [new[f] for f, e in old.items() if new[f] != e]
    added = [e for f, e in new.items() if f not in old]
    action = version.change.action
    if action != "add-tsa" and version.tsa_certificates != previous.tsa_certificates:
        return "the TSA certificates changed outside an add-tsa change"
    if action == "register":
        return _check_register(previous, version, changed, added) or _check_evidence(version, added)
    if action == "revoke":
        return _check_revoke(version, changed, added, old)
    if changed or added:
        return f"an {action} change may not add or alter entries"
    if action == "unlock":
        if version.change.user_id not in {e.user_id for e in version.entries}:
            return f"unlock names {version.change.user_id}, who is not registered"
        return None
    if action == "add-tsa":
        before = previous.tsa_certificates
        if (
            version.tsa_certificates[: len(before)] != before
            or len(version.tsa_certificates) != len(before) + 1
        ):
            return "an add-tsa change appends exactly one certificate"
        return None
    return f"a registry is created once; '{action}' cannot follow version {previous.version}"


def _check_entries(version: RegistryVersion) -> str | None:
    seen: set[str] = set()
    names: dict[str, str] = {}
    active: set[str] = set()
    for entry in version.entries:
        try:
            raw = base64.b64decode(entry.public_key, validate=True)
        except ValueError:
            return f"{entry.user_id}: public_key is not base64"
        if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != entry.public_key:
            return f"{entry.user_id}: public_key is not the canonical base64 of 32 bytes"
        if fingerprint(raw) != entry.fingerprint:
            return f"{entry.user_id}: the fingerprint is not the key's"
        if entry.fingerprint in seen:
            return f"{entry.user_id}: the key {entry.fingerprint[:16]}… is listed twice"
        seen.add(entry.fingerprint)
        if names.setdefault(entry.user_id, entry.name) != entry.name:
            return (
                f"the user id {entry.user_id} names both {names[entry.user_id]!r} and "
                f"{entry.name!r}: a user id is never reassigned"
            )
        if entry.valid_until_at <= entry.valid_from_at:
            return f"{entry.user_id}: valid_until is not after valid_from"
        if (entry.status == "revoked") != (entry.revoked_at is not None):
            return f"{entry.user_id}: revoked_at is set exactly when the status is revoked"
        if entry.status == "revoked" and not entry.revoked_reason:
            return f"{entry.user_id}: a revocation names its reason"
        if entry.status == "active":
            if entry.user_id in active:
                return f"{entry.user_id} has two active keys (one active key per person)"
            active.add(entry.user_id)
    return None


def _check_evidence(version: RegistryVersion, added: Iterable[RegistryEntry]) -> str | None:
    if version.format < 2:
        return None
    for entry in added:
        if Role.SERVICE not in entry.roles and entry.identity_evidence is None:
            return (
                f"{entry.user_id} is a person registered without identity_evidence (how their "
                "identity was verified, 21 CFR 11.100(b))"
            )
    return None


def _check_init(version: RegistryVersion) -> str | None:
    if version.change.action != "init":
        return "the first version must be an init"
    if len(version.entries) != 1:
        return "the first version holds exactly the first admin"
    (admin,) = version.entries
    if Role.ADMIN not in admin.roles or admin.status != "active":
        return "the first entry must be an active admin"
    if admin.user_id != version.change.user_id or admin.valid_from_at < version.created:
        return "the first admin must be the one the init names, valid from the init"
    return None


def _check_register(
    previous: RegistryVersion,
    version: RegistryVersion,
    changed: list[RegistryEntry],
    added: list[RegistryEntry],
) -> str | None:
    if changed or len(added) != 1:
        return "a register change adds exactly one entry and alters none"
    (entry,) = added
    if entry.user_id != version.change.user_id:
        return f"the change names {version.change.user_id} but adds {entry.user_id}"
    if entry.status != "active":
        return "a key is registered active"
    if entry.valid_from_at < version.created:
        return (
            f"{entry.user_id}'s key is valid from {entry.valid_from}, before it was registered "
            f"({version.created_at}): a key's validity cannot be backdated"
        )
    if previous.active_entry(entry.user_id) is not None:
        return f"{entry.user_id} already has an active key; revoke it first"
    return None


def _check_revoke(
    version: RegistryVersion,
    changed: list[RegistryEntry],
    added: list[RegistryEntry],
    old: dict[str, RegistryEntry],
) -> str | None:
    if added or len(changed) != 1:
        return "a revoke change revokes exactly one key and adds none"
    (entry,) = changed
    if entry.user_id != version.change.user_id or entry.status != "revoked":
        return f"the change names {version.change.user_id} but alters {entry.user_id}"
    before = old[entry.fingerprint]
    revoked_only = before.model_copy(
        update={"status": "revoked", "revoked_at": entry.revoked_at,
                "revoked_reason": entry.revoked_reason}
    )  # fmt: skip
    if before.status != "active" or revoked_only != entry:
        return f"a revocation changes only {entry.user_id}'s status, not the rest of the entry"
    if entry.revoked_at != version.created_at:
        return "a key is revoked at the time of the version that revokes it"
    if not any(e.status == "active" and Role.ADMIN in e.roles for e in version.entries):
        return "this would revoke the last active admin (nobody could change the registry)"
    return None
