"""Opening a person's signing key against the signed registry: the lock-out, the passphrase,
the registry holder and the site's trusted-time requirement, with every failure audited.

Every signature a person makes (a CoA signature, a manual entry, its second-person check, an
addendum) goes through :func:`unlock_signer`, so the safeguards of Part 11.300(d) apply to all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import SignatureError
from cytorelease.report.keys import WrongPassphrase, fingerprint, load_private_key
from cytorelease.report.registry import Registry, RegistryEntry, load_registry

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail

__all__ = ["Unlocked", "audit_signing", "raw_public_of", "unlock_signer"]


@dataclass(frozen=True, slots=True)
class Unlocked:
    private_key: Ed25519PrivateKey
    signer: RegistryEntry  # the key's holder in the registry's newest version
    registry: Registry
    tsa: str | None  # the TSA URL to stamp with, None when the site trusts none
    # What the lock-out counts the key under (lockout.key_identity); the rows about it name it.
    key_identity: str = ""


def raw_public_of(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def audit_signing(
    trail: Trail | None, target: str | Path, what: str, details: dict[str, Any]
) -> None:
    """One ``sign``, ``sign-failed`` or ``sign-refused`` row about ``target`` (with a trail)."""
    if trail is None:
        return
    from cytorelease.records.audit import Action

    action = {"sign": Action.SIGN, "sign-failed": Action.SIGN_FAILED,
              "sign-refused": Action.SIGN_REFUSED}[what]  # fmt: skip
    trail.record(action, str(Path(target).absolute()), details=details)


def unlock_signer(
    key_path: str | Path,
    passphrase: str,
    registry: str | Path,
    *,
    target: str | Path,
    purpose: str,
    trail: Trail | None = None,
    now: datetime | None = None,
    tsa: str | None = None,
) -> Unlocked:
    """Unlock ``key_path`` and find its holder in the signed ``registry`` (file or folder).

    A wrong passphrase is counted beside the registry (five in a row lock the key, see
    :mod:`~cytorelease.report.lockout`) and, with a ``trail``, audited against ``target``
    (what was to be signed), naming the key identity and the registry head, so the trail's own
    count locks the key whatever folder the registry was copied to; so is an attempt on a
    locked key. ``purpose`` (the meaning, or
    ``manual-entry`` ...) is the rows' ``meaning``. The TSA is ``tsa`` or ``CYTORELEASE_TSA``; a
    registry that trusts a TSA refuses to go on without one.
    """
    from cytorelease.report import lockout
    from cytorelease.report.tsa import tsa_url

    key_file = Path(key_path)
    loaded = load_registry(registry)
    assert loaded.path is not None
    folder = loaded.path.parent
    try:
        key_digest = lockout.key_identity(key_file.read_bytes())
    except FileNotFoundError:
        raise SignatureError("no such key file", path=key_file) from None
    claimed = key_file.stem
    key = {"key_identity": key_digest, "registry_head_sha256": loaded.head_sha256,
           "registry_version": loaded.head.version}  # fmt: skip
    run = lockout.trail_failures(trail, key_digest, loaded) if trail is not None else None
    try:
        lockout.check_not_locked(folder, key_digest, claimed, trail_run=run)
    except SignatureError as exc:  # an attempt on a locked key is reported too (11.300(d))
        audit_signing(trail, target, "sign-refused", {"key_file": str(key_file),
                      "user_id": claimed, "meaning": purpose, "problem": exc.problem,
                      **key})  # fmt: skip
        raise
    try:
        private_key = load_private_key(key_file, passphrase)
    except WrongPassphrase as exc:
        count = lockout.record_failure(folder, key_digest, claimed, now=now, trail_run=run)
        audit_signing(trail, target, "sign-failed", {"key_file": str(key_file),
                      "user_id": claimed, "meaning": purpose, "failures_in_a_row": count,
                      "problem": "wrong passphrase", **key})  # fmt: skip
        left = lockout.MAX_FAILURES - count
        raise SignatureError(
            f"{exc.problem} ({count} in a row; "
            + (f"{left} more lock the key)" if left > 0 else "the key is now locked)"),
            path=key_file,
        ) from None
    lockout.reset_failures(folder, key_digest)
    signer = loaded.head.entry(fingerprint(raw_public_of(private_key)))
    if signer is None:
        raise SignatureError(
            f"the key {key_file} is not registered in this registry",
            path=loaded.path,
            hint="an admin registers its .pub file with `cytorelease keys register`",
        )
    tsa = tsa if tsa is not None else tsa_url()
    if tsa is None and loaded.head.tsa_certificates:
        # the site trusts a TSA: a signature without its token would be judged on the signer's
        # clock alone (a revoked key could be dated back into its validity)
        problem = "the registry trusts a time-stamping authority, so every signature needs its "
        problem += "trusted time, and CYTORELEASE_TSA (the TSA's URL) is not set"
        audit_signing(trail, target, "sign-refused", {"meaning": purpose,
                      "user_id": signer.user_id, "problem": problem, "key_identity": key_digest,
                      "passphrase": "accepted"})  # fmt: skip
        raise SignatureError(problem, path=target, hint="set CYTORELEASE_TSA to the site's TSA")
    return Unlocked(private_key=private_key, signer=signer, registry=loaded, tsa=tsa,
                    key_identity=key_digest)  # fmt: skip
