"""Appending an electronic signature to a CoA.

Signing never touches the content: it checks the report verifies as it stands, builds the new
entry over the content, record, spec and input hashes and the previous entry, and rewrites only
the signature area (atomically, so a crash leaves the old file).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import InputError, SignatureError
from cytorelease.report.area import render_area, split_report
from cytorelease.report.entry import Meaning, SignatureEntry, entry_sha256, format_utc, parse_utc
from cytorelease.report.keys import fingerprint
from cytorelease.report.policy import (
    DECIDING,
    authorizing_role,
    disposition_problem,
    policy_of,
    policy_problem,
)
from cytorelease.report.record import extract_record, record_digests
from cytorelease.report.registry import Registry, RegistryEntry
from cytorelease.report.trust import stamp_signature
from cytorelease.report.unlock import audit_signing, unlock_signer
from cytorelease.report.verify import ContentCheck, ensure_signable, record_created_at
from cytorelease.signature_policy import Role

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail

__all__ = [
    "MAX_COMMENT_LENGTH",
    "PERSON_ONLY",
    "sign_bytes",
    "sign_report",
    "sign_with_key_file",
    "signed_details",
]

# Meanings a script may never apply: the passphrase must be typed by the person.
PERSON_ONLY = frozenset(
    {Meaning.REVIEWED, Meaning.APPROVED, Meaning.APPROVED_WITH_DEVIATION, Meaning.REJECTED}
)

MAX_COMMENT_LENGTH = 500


def _clean_comment(comment: str | None, path: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    text = " ".join(comment.split())
    if len(text) > MAX_COMMENT_LENGTH:
        raise SignatureError(
            f"the comment has {len(text)} characters; at most {MAX_COMMENT_LENGTH} are allowed",
            path=path,
        )
    return text


def _check_meaning(
    meaning: Meaning, signer: RegistryEntry, allow_computer_generated: bool, path: str | None
) -> None:
    if meaning is Meaning.COMPUTER_GENERATED and not allow_computer_generated:
        raise SignatureError(
            f"the meaning '{meaning}' is reserved for the unattended evaluation service",
            path=path,
            hint="sign as performed, reviewed, approved or rejected",
        )
    if meaning.is_human and Role.SERVICE in signer.roles:
        raise SignatureError(
            f"{signer.user_id} holds a service key, which may not apply the human meaning "
            f"'{meaning}'",
            path=path,
        )


def _clean_deviation(deviation: str | None, path: str | None) -> str | None:
    if deviation is None:
        return None
    text = deviation.strip()
    if not text or len(text) > 64 or any(c.isspace() or not c.isprintable() for c in text):
        raise SignatureError(
            "a deviation id is one word of at most 64 printable characters", path=path
        )
    return text


def sign_bytes(
    data: bytes,
    *,
    private_key: Ed25519PrivateKey,
    signer: RegistryEntry,
    meaning: Meaning,
    comment: str | None = None,
    deviation: str | None = None,
    now: datetime | None = None,
    allow_computer_generated: bool = False,
    path: str | None = None,
    registry: Registry | None = None,
    tsa: str | None = None,
    content_check: ContentCheck | None = None,
) -> tuple[bytes, SignatureEntry]:
    """The report with one more signature, and that signature's entry.

    ``tsa``: the time-stamping authority's URL; the token it returns is checked against the
    ``registry``'s TSA certificates before it is kept. Without one the signature says it has
    no trusted time.

    With a ``registry`` the entry signs its head (version and SHA-256) as its registry anchor,
    and a registry that lacks the head an earlier signature was made under is refused.
    """
    meaning = Meaning(meaning)
    _check_meaning(meaning, signer, allow_computer_generated, path)
    raw_public = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    if fingerprint(raw_public) != signer.fingerprint:
        raise SignatureError(
            f"the private key does not belong to {signer.name} ({signer.user_id}) in the registry",
            path=path,
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if signer.status != "active":
        raise SignatureError(
            f"the key of {signer.user_id} was revoked at {signer.revoked_at} "
            f"({signer.revoked_reason})",
            path=path,
        )
    if not signer.valid_at(moment):
        raise SignatureError(
            f"the key of {signer.user_id} is valid from {signer.valid_from} to "
            f"{signer.valid_until}, not at {format_utc(moment)}",
            path=path,
            hint="an admin registers a new key with `cytorelease keys register`",
        )
    checked = ensure_signable(data, path=path, content_check=content_check)
    existing = [c.entry for c in checked.signatures if c.entry]
    _refuse_cut_registry(existing, registry, path)
    if existing and moment < parse_utc(existing[-1].utc_time):
        raise SignatureError(
            f"the clock says {format_utc(moment)}, before the last signature "
            f"({existing[-1].utc_time}); check the system time",
            path=path,
        )
    parts = split_report(data)
    record = extract_record(parts.content, path=path)
    created = record_created_at(record)
    if created is not None and moment < created:
        # The reported attack: an expired key's clock set back into its validity.
        raise SignatureError(
            f"the clock says {format_utc(moment)}, before the result record was created "
            f"({created:%Y-%m-%dT%H:%M:%SZ}); a signature cannot predate what it signs",
            path=path,
        )
    _refuse_unlocked_approval(record, meaning, path)
    deviation = _clean_deviation(deviation, path)
    policy, trouble = policy_of(record)
    trouble = trouble or disposition_problem(record)
    if trouble:
        raise SignatureError(trouble, path=path)
    problem = policy_problem(
        existing,
        user_id=signer.user_id,
        roles=signer.roles,
        meaning=meaning,
        disposition=checked.disposition,
        policy=policy,
        deviation=deviation,
    )
    if problem:
        raise SignatureError(f"refused by the signature policy: {problem}", path=path)
    role = authorizing_role(policy, meaning, signer.roles)
    assert role is not None  # policy_problem refuses a meaning no role of the signer allows
    digests = record_digests(record)
    unsigned = SignatureEntry(
        signer=signer.name,
        user_id=signer.user_id,
        role=str(role),
        key_fingerprint=signer.fingerprint,
        public_key=base64.b64encode(raw_public).decode("ascii"),
        meaning=meaning.value,
        utc_time=format_utc(moment),
        comment=_clean_comment(comment, path),
        content_sha256=hashlib.sha256(parts.content).hexdigest(),
        record_sha256=digests.record_sha256,
        spec_sha256=digests.spec_sha256,
        input_sha256s=digests.input_sha256s,
        previous_signature=entry_sha256(existing[-1]) if existing else None,
        signature="",
        deviation=deviation,
        trusted_time=None,
        **_anchor_fields(registry),
    )
    signature = private_key.sign(unsigned.signed_bytes())
    token = stamp_signature(signature, moment, registry, tsa, path)
    entry = SignatureEntry(
        **{
            **unsigned.to_dict(),
            "input_sha256s": unsigned.input_sha256s,
            "signature": base64.b64encode(signature).decode("ascii"),
            "trusted_time": token,
        }
    )
    return parts.with_area(render_area([*existing, entry])), entry


def _anchor_fields(registry: Registry | None) -> dict[str, Any]:
    if registry is None:
        return {}
    return {"registry_version": registry.head.version, "registry_sha256": registry.head_sha256}


def _refuse_cut_registry(
    existing: list[SignatureEntry], registry: Registry | None, path: str | None
) -> None:
    """Signing under a registry older than an earlier signature's would judge the signer by a
    registry that may lack a revocation."""
    from cytorelease.report.anchor import anchor_problem

    if registry is None:
        return
    for number, earlier in enumerate(existing, start=1):
        problem = anchor_problem(earlier, number, registry)
        if problem:
            raise SignatureError(
                problem, path=path, hint="sign with the site's current registry.yaml"
            )


def _refuse_unlocked_approval(record: Any, meaning: Meaning, path: str | None) -> None:
    """A release judged against an unlocked definition is a what-if: it is never approved."""
    from cytorelease.lot.definitions import not_for_release_lines

    if meaning not in DECIDING or meaning is Meaning.REJECTED:
        return
    definitions = record.get("definitions") if isinstance(record, dict) else None
    lines = not_for_release_lines(d for d in definitions or [] if isinstance(d, dict))
    if lines:
        raise SignatureError(
            f"{lines[0]}; a CoA judged against it cannot be approved",
            path=path,
            hint="release the lot against the library's locked definitions",
        )


def sign_report(
    report: str | Path,
    *,
    private_key: Ed25519PrivateKey,
    signer: RegistryEntry,
    meaning: Meaning,
    comment: str | None = None,
    deviation: str | None = None,
    now: datetime | None = None,
    allow_computer_generated: bool = False,
    registry: Registry | None = None,
    tsa: str | None = None,
    content_check: ContentCheck | None = None,
) -> SignatureEntry:
    """Append a signature to the CoA file at ``report`` (rewritten atomically)."""
    path = Path(report)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such report", path=path) from None
    signed, entry = sign_bytes(
        data,
        private_key=private_key,
        signer=signer,
        meaning=meaning,
        comment=comment,
        deviation=deviation,
        now=now,
        allow_computer_generated=allow_computer_generated,
        path=str(path),
        registry=registry,
        tsa=tsa,
        content_check=content_check,
    )
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(signed)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return entry


def sign_with_key_file(
    report: str | Path,
    *,
    key_path: str | Path,
    passphrase: str,
    meaning: Meaning,
    registry: str | Path,
    comment: str | None = None,
    deviation: str | None = None,
    now: datetime | None = None,
    allow_computer_generated: bool = False,
    trail: Trail | None = None,
    tsa: str | None = None,
    content_check: ContentCheck | None = None,
) -> SignatureEntry:
    """Unlock ``key_path`` with ``passphrase``, find its holder in the signed ``registry`` (the
    file or its folder) and sign; the TSA is ``tsa`` or ``CYTORELEASE_TSA`` when set.

    A wrong passphrase is counted beside the registry and, with a ``trail``, in the trail too
    (five in a row lock the key, see :mod:`~cytorelease.report.lockout`); so are refusals.
    """
    unlocked = unlock_signer(
        key_path, passphrase, registry, target=report, purpose=str(meaning), trail=trail,
        now=now, tsa=tsa,
    )  # fmt: skip
    signer, loaded = unlocked.signer, unlocked.registry
    try:
        entry = sign_report(
            report,
            private_key=unlocked.private_key,
            signer=signer,
            meaning=meaning,
            comment=comment,
            deviation=deviation,
            now=now,
            allow_computer_generated=allow_computer_generated,
            registry=loaded,
            tsa=unlocked.tsa,
            content_check=content_check,
        )
    except SignatureError as exc:
        audit_signing(trail, report, "sign-refused", {"meaning": str(meaning),
               "user_id": signer.user_id, "problem": exc.problem,
               "key_identity": unlocked.key_identity, "passphrase": "accepted"})  # fmt: skip
        raise
    audit_signing(trail, report, "sign", signed_details(entry, loaded, unlocked.key_identity))
    return entry


def signed_details(entry: SignatureEntry, registry: Registry, key_identity: str) -> dict[str, Any]:
    """What a ``sign`` audit row states of a signature: who, as what, when, under which
    registry head (``audit verify`` and ``verify --data-dir`` hold registries to these heads)
    and the key identity (a signature ends a run of failed passphrases)."""
    return {
        "meaning": str(entry.meaning),
        "user_id": entry.user_id,
        "signer": entry.signer,
        "role": entry.role,
        "key_fingerprint": entry.key_fingerprint,
        "utc_time": entry.utc_time,
        "deviation": entry.deviation,
        "trusted_time": entry.trusted_time is not None,
        "registry_head_sha256": registry.head_sha256,
        "registry_version": registry.head.version,
        "registry_genesis_sha256": registry.genesis_sha256,
        "key_identity": key_identity,
    }
