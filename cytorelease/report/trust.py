"""Who signed, with what authority, and when: each signature against the registry and policy.

A signature's moment is its RFC 3161 token's time when it carries one that verifies with a TSA
certificate the registry trusts (and the claimed time must lie within five minutes of it);
otherwise the signer's own clock, which the CoA then says. At that moment the registry version
in force must hold the key, active (not revoked), valid, for the same person, in the role the
signature claims; and the spec's signature policy must allow the meaning after the signatures
before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cytorelease.report.entry import Meaning, SignatureEntry, parse_utc
from cytorelease.report.policy import policy_problem
from cytorelease.signature_policy import Role, SignaturePolicy

if TYPE_CHECKING:
    from cytorelease.report.registry import Registry

__all__ = [
    "MAX_TIME_DIFFERENCE",
    "check_policy",
    "check_trust",
    "signature_moment",
    "stamp_signature",
    "token_moment",
]

MAX_TIME_DIFFERENCE = timedelta(minutes=5)


def token_digest(entry: SignatureEntry) -> bytes:
    """What a signature's token time-stamps: the SHA-256 of the Ed25519 signature bytes."""
    return hashlib.sha256(entry.signature_bytes()).digest()


def trusted_moment(
    entry: SignatureEntry, certificates: Sequence[bytes]
) -> tuple[datetime | None, str | None]:
    """(the token's verified time, None) or (None, the problem); (None, None) without token."""
    return token_moment(
        entry.token_bytes(), entry.signature_bytes(), parse_utc(entry.utc_time), certificates
    )


def token_moment(
    token: bytes | None, signature: bytes, claimed: datetime, certificates: Sequence[bytes]
) -> tuple[datetime | None, str | None]:
    """:func:`trusted_moment` for any signature: its ``token`` over the SHA-256 of the
    ``signature`` bytes, checked against the ``claimed`` time."""
    from cytorelease.report.tsa import TimestampError, verify_timestamp

    if token is None:
        return None, None
    if not certificates:
        return None, "it carries a trusted-time token but the registry trusts no TSA certificate"
    last = "no certificate"
    digest = hashlib.sha256(signature).digest()
    for certificate in certificates:
        try:
            moment = verify_timestamp(token, digest, certificate)
        except TimestampError as exc:
            last = str(exc.problem if hasattr(exc, "problem") else exc)
            continue
        if abs(moment - claimed) > MAX_TIME_DIFFERENCE:
            return None, (
                f"it claims {claimed:%Y-%m-%dT%H:%M:%SZ} but its trusted time is "
                f"{moment:%Y-%m-%dT%H:%M:%SZ} (more than 5 minutes apart)"
            )
        return moment, None
    return None, f"its trusted-time token does not verify ({last})"


def stamp_signature(
    signature: bytes,
    moment: datetime,
    registry: Registry | None,
    tsa: str | None,
    path: str | None,
) -> str | None:
    """The TSA's token over ``signature`` (base64), checked as ``verify`` will check it;
    None without a TSA."""
    if tsa is None:
        return None
    import base64

    from cytorelease.errors import SignatureError
    from cytorelease.report.entry import format_utc
    from cytorelease.report.tsa import TimestampError, request_timestamp, verify_timestamp

    certificates = registry.tsa_certificates() if registry is not None else ()
    if not certificates:
        raise SignatureError(
            "a TSA is configured but the registry trusts no TSA certificate, so its token "
            "could never be verified",
            path=path,
            hint="an admin adds the TSA's certificate with `cytorelease keys add-tsa`",
        )
    digest = hashlib.sha256(signature).digest()
    token = request_timestamp(digest, tsa)
    problems = []
    for certificate in certificates:
        try:
            stamped = verify_timestamp(token.token, digest, certificate, nonce=token.nonce)
        except TimestampError as exc:
            problems.append(str(exc))
            continue
        if abs(stamped - moment) > MAX_TIME_DIFFERENCE:
            raise SignatureError(
                f"the clock says {format_utc(moment)} but the TSA says "
                f"{format_utc(stamped)}: more than 5 minutes apart; check the system time",
                path=path,
            )
        return base64.b64encode(token.token).decode("ascii")
    raise SignatureError(
        f"the TSA's token does not verify with the registry's certificates ({problems[-1]})",
        path=path,
    )


def signature_moment(entry: SignatureEntry, registry: Registry | None) -> datetime:
    """The time a signature is judged at (see the module docstring)."""
    if registry is not None:
        moment, _ = trusted_moment(entry, registry.tsa_certificates())
        if moment is not None:
            return moment
    return parse_utc(entry.utc_time)


def check_trust(entry: SignatureEntry, registry: Registry, problems: list[str]) -> None:
    """Append what is wrong with ``entry``'s authority under ``registry``."""
    moment, problem = trusted_moment(entry, registry.tsa_certificates())
    if problem:
        problems.append(problem)
    at = moment or parse_utc(entry.utc_time)
    stamp = f"{at:%Y-%m-%dT%H:%M:%SZ}"
    version = registry.in_force(at)
    if version is None:
        problems.append(f"it is dated {stamp}, before the signer registry was created")
        return
    known = version.entry(entry.key_fingerprint)
    if known is None:
        later = registry.holder(entry.key_fingerprint)
        problems.append(
            f"key {entry.key_fingerprint[:16]}… was not in the registry in force at {stamp} "
            f"(version {version.version})"
            + (f"; it was registered later, for {later.user_id}" if later else "")
        )
        return
    if (known.name, known.user_id) != (entry.signer, entry.user_id):
        problems.append(
            f"the registry lists this key for {known.name} ({known.user_id}), not "
            f"{entry.signer} ({entry.user_id})"
        )
    if known.status == "revoked":
        problems.append(
            f"the key was revoked at {known.revoked_at} ({known.revoked_reason}), before {stamp}"
        )
    try:
        claimed = Role(entry.role)
    except ValueError:
        problems.append(f"the role '{entry.role}' is not a registry role")
        return
    if claimed not in known.roles:
        held = ", ".join(str(r) for r in known.roles)
        problems.append(f"{known.user_id} held the roles {held} at {stamp}, not {claimed}")
    if not known.valid_at(at):
        problems.append(
            f"the key was not valid at {stamp} (valid {known.valid_from} to "
            f"{known.valid_until}: expired or not yet valid)"
        )


def check_policy(
    entries: Sequence[SignatureEntry | None],
    problems: Sequence[list[str]],
    *,
    policy: SignaturePolicy,
    disposition: str | None,
) -> None:
    """Re-apply the policy to each signature after the ones before it, as ``sign`` did."""
    for index, entry in enumerate(entries):
        if entry is None:
            continue
        earlier = [e for e in entries[:index] if e is not None]
        try:
            roles: tuple[Role, ...] = (Role(entry.role),)
        except ValueError:
            roles = ()
        meaning = Meaning(entry.meaning)
        problem = policy_problem(
            earlier,
            user_id=entry.user_id,
            roles=roles,
            meaning=meaning,
            disposition=disposition,
            policy=policy,
            deviation=entry.deviation,
        )
        if problem:
            problems[index].append(f"signature policy: {problem}")
