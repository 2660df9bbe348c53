"""Changing the signer registry: every change a new version, signed by an admin, appended.

Before a version is written the whole new chain is checked by the same rules the loader applies
(:mod:`cytorelease.report.registry_rules`), so the tool cannot write what it would refuse to
read. The file is replaced atomically; earlier versions are carried over byte for byte in their
parsed form, never re-signed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import SignatureError
from cytorelease.report.entry import format_utc
from cytorelease.report.keys import (
    KeyPair,
    atomic_write,
    fingerprint,
    generate_key,
    load_public_key_file,
    raw_public,
)
from cytorelease.report.registry import (
    IDENTITY_EVIDENCE_MAX,
    REGISTRY_FILE,
    REGISTRY_FORMAT,
    REGISTRY_SCHEMA,
    Registry,
    RegistryEntry,
    load_registry,
    registry_from_raw,
    registry_path,
    signed_bytes,
    version_sha256,
)
from cytorelease.signature_policy import Role

__all__ = [
    "InitResult",
    "add_tsa_certificate",
    "enroll",
    "identity_evidence_for",
    "init_registry",
    "register_key",
    "revoke_key",
    "unlock_key",
]

DEFAULT_VALID_DAYS = 730


@dataclass(frozen=True, slots=True)
class InitResult:
    registry: Registry
    admin_key: KeyPair


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def identity_evidence_for(
    evidence: str | None, *, user_id: str, roles: list[Role], where: str | Path | None = None
) -> str | None:
    """The evidence as recorded: whitespace runs made one space, trimmed; None if empty.

    Required (a :class:`SignatureError` otherwise) for a person, any role but service: 21 CFR
    11.100(b) asks the site to verify a person's identity before it gives them an electronic
    signature, and the registry is where that verification is recorded, under the admin's
    signature. A service key's evidence is optional (recorded if given).
    """
    text = " ".join((evidence or "").split()) or None
    if text is None and Role.SERVICE not in roles:
        raise SignatureError(
            f"{user_id} is a person (roles: {', '.join(roles)}): registering them needs the "
            "evidence of how their identity was verified (21 CFR 11.100(b))",
            path=where,
            hint='pass --identity-evidence TEXT, e.g. "badge 4411 and passport checked in '
            'person by aadmin, HR record 2026-118"',
        )
    if text is not None and len(text) > IDENTITY_EVIDENCE_MAX:
        raise SignatureError(
            f"the identity evidence for {user_id} has {len(text)} characters; at most "
            f"{IDENTITY_EVIDENCE_MAX} (name the documents checked and where they are kept)",
            path=where,
        )
    return text


def _entry_dict(
    *,
    user_id: str,
    name: str,
    roles: list[Role],
    public_key: str,
    start: datetime,
    days: int,
    identity_evidence: str | None,
) -> dict[str, Any]:
    if days < 1:
        raise SignatureError(f"--valid-days must be at least 1, not {days}")
    return {
        "user_id": user_id,
        "name": name,
        "roles": [str(r) for r in roles],
        "fingerprint": fingerprint(base64.b64decode(public_key)),
        "public_key": public_key,
        "valid_from": format_utc(start),
        "valid_until": format_utc(start + timedelta(days=days)),
        "status": "active",
        "revoked_at": None,
        "revoked_reason": None,
        "identity_evidence": identity_evidence,
    }


def _write(path: Path, raws: list[dict[str, Any]]) -> Registry:
    registry = registry_from_raw(raws, path=path)
    document = {"schema": REGISTRY_SCHEMA, "versions": raws}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode())
    return registry


def _signed_version(
    raw: dict[str, Any], admin_key: Ed25519PrivateKey, admin_user_id: str
) -> dict[str, Any]:
    raw = {
        **raw,
        "signed_by": admin_user_id,
        "signer_fingerprint": fingerprint(raw_public(admin_key)),
    }
    raw["signature"] = base64.b64encode(admin_key.sign(signed_bytes(raw))).decode("ascii")
    return raw


def init_registry(
    out_dir: str | Path,
    *,
    signer: str,
    user_id: str,
    passphrase: str,
    identity_evidence: str | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    now: datetime | None = None,
) -> InitResult:
    """Create ``OUT/registry.yaml`` holding one admin, and that admin's key pair in OUT.

    ``identity_evidence``: how the first admin's identity was verified (required).
    """
    out = Path(out_dir)
    path = out / REGISTRY_FILE
    if path.exists():
        raise SignatureError(
            "a registry already exists here; a registry is created once",
            path=path,
            hint="change it with `cytorelease keys register` or `keys revoke`",
        )
    evidence = identity_evidence_for(identity_evidence, user_id=user_id, roles=[Role.ADMIN])
    pair = generate_key(signer=signer, user_id=user_id, passphrase=passphrase, out_dir=out)
    from cytorelease.report.keys import load_private_key

    key = load_private_key(pair.key_path, passphrase)
    moment = _now(now)
    raw = {
        "version": 1,
        "format": REGISTRY_FORMAT,
        "created_at": format_utc(moment),
        "previous_sha256": None,
        "change": {"action": "init", "user_id": user_id, "detail": None},
        "entries": [
            _entry_dict(
                user_id=user_id,
                name=signer,
                roles=[Role.ADMIN],
                public_key=pair.public.public_key,
                start=moment,
                days=valid_days,
                identity_evidence=evidence,
            )
        ],
        "tsa_certificates": [],
    }
    registry = _write(path, [_signed_version(raw, key, user_id)])
    return InitResult(registry=registry, admin_key=pair)


def _admin_of(registry: Registry, admin_key: Ed25519PrivateKey, moment: datetime) -> str:
    entry = registry.head.entry(fingerprint(raw_public(admin_key)))
    if entry is None or entry.status != "active" or Role.ADMIN not in entry.roles:
        raise SignatureError(
            "the admin key is not an active admin's key in this registry",
            path=registry.path,
        )
    if not entry.valid_at(moment):
        raise SignatureError(f"{entry.user_id}'s admin key is not valid now", path=registry.path)
    return entry.user_id


def _append(
    location: str | Path,
    admin_key: Ed25519PrivateKey,
    change: dict[str, Any],
    edit: Any,
    now: datetime | None,
) -> Registry:
    path = registry_path(location)
    registry = load_registry(path)
    moment = _now(now)
    if moment < registry.head.created:
        raise SignatureError(
            f"the clock says {format_utc(moment)}, before the registry's last change "
            f"({registry.head.created_at}); check the system time",
            path=path,
        )
    admin = _admin_of(registry, admin_key, moment)
    head = registry.raw[-1]
    raw = {
        "version": len(registry.raw) + 1,
        "format": REGISTRY_FORMAT,
        "created_at": format_utc(moment),
        "previous_sha256": version_sha256(head),
        "change": {"user_id": None, "detail": None, **change},
        "entries": [dict(e) for e in head["entries"]],
        "tsa_certificates": list(head.get("tsa_certificates", [])),
    }
    edit(raw, moment)
    return _write(path, [*registry.raw, _signed_version(raw, admin_key, admin)])


def register_key(
    public_file: str | Path,
    *,
    roles: list[Role],
    registry: str | Path,
    admin_key: Ed25519PrivateKey,
    identity_evidence: str | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    now: datetime | None = None,
) -> Registry:
    """Enter the key of ``ID.pub`` with ``roles``, valid from now for ``valid_days``.

    ``identity_evidence``: how the holder's identity was verified before this registration;
    required for a person (any role but service), see :func:`identity_evidence_for`.
    """
    public = load_public_key_file(public_file)
    if not roles:
        raise SignatureError("name at least one --role", path=public_file)
    evidence = identity_evidence_for(
        identity_evidence, user_id=public.user_id, roles=roles, where=public_file
    )

    def edit(raw: dict[str, Any], moment: datetime) -> None:
        raw["entries"].append(
            _entry_dict(
                user_id=public.user_id,
                name=public.name,
                roles=roles,
                public_key=public.public_key,
                start=moment,
                days=valid_days,
                identity_evidence=evidence,
            )
        )

    return _append(
        registry, admin_key, {"action": "register", "user_id": public.user_id}, edit, now
    )


def revoke_key(
    user_id: str,
    *,
    reason: str,
    registry: str | Path,
    admin_key: Ed25519PrivateKey,
    now: datetime | None = None,
) -> Registry:
    """Revoke ``user_id``'s active key from now on (its earlier signatures stay valid)."""
    reason = " ".join(reason.split())
    if not reason:
        raise SignatureError("a revocation needs a --reason", path=registry)

    def edit(raw: dict[str, Any], moment: datetime) -> None:
        for entry in raw["entries"]:
            if entry["user_id"] == user_id and entry["status"] == "active":
                entry.update(status="revoked", revoked_at=format_utc(moment), revoked_reason=reason)
                return
        raise SignatureError(f"{user_id} has no active key to revoke", path=registry)

    return _append(
        registry, admin_key, {"action": "revoke", "user_id": user_id, "detail": reason}, edit, now
    )


def unlock_key(
    user_id: str,
    *,
    registry: str | Path,
    admin_key: Ed25519PrivateKey,
    now: datetime | None = None,
) -> Registry:
    """Record (as a signed version) that an admin lifted ``user_id``'s lock-out, and lift it."""
    from cytorelease.report.lockout import clear_failures

    def edit(raw: dict[str, Any], moment: datetime) -> None:
        if not any(e["user_id"] == user_id for e in raw["entries"]):
            raise SignatureError(f"{user_id} is not registered", path=registry)

    updated = _append(registry, admin_key, {"action": "unlock", "user_id": user_id}, edit, now)
    clear_failures(registry_path(registry).parent, user_id)
    return updated


def add_tsa_certificate(
    certificate: bytes,
    *,
    registry: str | Path,
    admin_key: Ed25519PrivateKey,
    now: datetime | None = None,
    source: str | Path | None = None,
) -> Registry:
    """Trust a time-stamping authority's certificate (PEM or DER) for signatures' trusted time.

    ``source``: the file the bytes came from, named when they are no certificate.
    """
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(certificate)
    except ValueError:
        try:
            cert = x509.load_der_x509_certificate(certificate)
        except ValueError:
            raise SignatureError(
                "not a PEM or DER X.509 certificate", path=source or registry
            ) from None
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = cert.public_bytes(Encoding.PEM).decode("ascii")

    def edit(raw: dict[str, Any], moment: datetime) -> None:
        if pem in raw["tsa_certificates"]:
            raise SignatureError("this TSA certificate is already trusted", path=registry)
        raw["tsa_certificates"].append(pem)

    subject = cert.subject.rfc4514_string()
    return _append(registry, admin_key, {"action": "add-tsa", "detail": subject}, edit, now)


def entry_for(registry: Registry, user_id: str) -> RegistryEntry | None:
    """The user's active entry now."""
    return registry.head.active_entry(user_id)


def enroll(
    registry: str | Path,
    *,
    admin_key: Ed25519PrivateKey,
    signer: str,
    user_id: str,
    roles: list[Role],
    passphrase: str,
    out_dir: str | Path,
    identity_evidence: str | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    now: datetime | None = None,
) -> tuple[KeyPair, Registry]:
    """``keys generate`` then ``keys register`` in one step (the demo and set-up scripts)."""
    identity_evidence_for(identity_evidence, user_id=user_id, roles=roles)  # before any key
    pair = generate_key(signer=signer, user_id=user_id, passphrase=passphrase, out_dir=out_dir)
    updated = register_key(
        pair.public_path,
        roles=roles,
        registry=registry,
        admin_key=admin_key,
        identity_evidence=identity_evidence,
        valid_days=valid_days,
        now=now,
    )
    return pair, updated
