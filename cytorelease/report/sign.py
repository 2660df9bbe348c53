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
from cytorelease.report.keys import (
    SignerEntry,
    SignerRole,
    find_signer,
    fingerprint,
    load_private_key,
    load_registry,
)
from cytorelease.report.record import extract_record, record_digests
from cytorelease.report.verify import ensure_signable, record_created_at

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail

__all__ = ["MAX_COMMENT_LENGTH", "sign_bytes", "sign_report", "sign_with_key_file"]

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
    meaning: Meaning, signer: SignerEntry, allow_computer_generated: bool, path: str | None
) -> None:
    if meaning is Meaning.COMPUTER_GENERATED and not allow_computer_generated:
        raise SignatureError(
            f"the meaning '{meaning}' is reserved for the unattended evaluation service",
            path=path,
            hint="sign as performed, reviewed or approved",
        )
    if meaning.is_human and signer.role is SignerRole.SERVICE:
        raise SignatureError(
            f"{signer.user_id} holds a service key, which may not apply the human meaning "
            f"'{meaning}'",
            path=path,
        )
    if not meaning.is_human and signer.role is not SignerRole.SERVICE:
        raise SignatureError(
            f"'{meaning}' is applied only by a service key, not by {signer.role} {signer.user_id}",
            path=path,
        )


def sign_bytes(
    data: bytes,
    *,
    private_key: Ed25519PrivateKey,
    signer: SignerEntry,
    meaning: Meaning,
    comment: str | None = None,
    now: datetime | None = None,
    allow_computer_generated: bool = False,
    path: str | None = None,
) -> tuple[bytes, SignatureEntry]:
    """The report with one more signature, and that signature's entry."""
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
    if not signer.valid_at(moment):
        raise SignatureError(
            f"the key of {signer.user_id} is valid from {signer.valid_from:%Y-%m-%d %H:%M} to "
            f"{signer.valid_until:%Y-%m-%d %H:%M} UTC, not at {moment:%Y-%m-%d %H:%M} UTC",
            path=path,
            hint="generate a new key with `cytorelease keys generate`",
        )
    existing = [c.entry for c in ensure_signable(data, path=path).signatures if c.entry]
    _check_duties(existing, signer, meaning, path)
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
    digests = record_digests(record)
    unsigned = SignatureEntry(
        signer=signer.name,
        user_id=signer.user_id,
        role=signer.role.value,
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
    )
    signature = private_key.sign(unsigned.signed_bytes())
    entry = SignatureEntry(
        **{
            **unsigned.to_dict(),
            "input_sha256s": unsigned.input_sha256s,
            "signature": base64.b64encode(signature).decode("ascii"),
        }
    )
    return parts.with_area(render_area([*existing, entry])), entry


def _refuse_unlocked_approval(record: Any, meaning: Meaning, path: str | None) -> None:
    """A release judged against an unlocked definition is a what-if: it is never approved."""
    from cytorelease.lot.definitions import not_for_release_lines

    if meaning is not Meaning.APPROVED:
        return
    definitions = record.get("definitions") if isinstance(record, dict) else None
    lines = not_for_release_lines(d for d in definitions or [] if isinstance(d, dict))
    if lines:
        raise SignatureError(
            f"{lines[0]}; a CoA judged against it cannot be approved",
            path=path,
            hint="release the lot against the library's locked definitions",
        )


def _check_duties(
    existing: list[SignatureEntry], signer: SignerEntry, meaning: Meaning, path: str | None
) -> None:
    for entry in existing:
        if entry.user_id == signer.user_id and entry.meaning == meaning:
            raise SignatureError(
                f"{signer.user_id} has already signed this report as {meaning}", path=path
            )
        if (
            meaning is Meaning.APPROVED
            and entry.meaning == Meaning.PERFORMED
            and entry.user_id == signer.user_id
        ):
            raise SignatureError(
                f"{signer.user_id} performed this analysis and may not also approve it "
                "(segregation of duties)",
                path=path,
                hint="approval needs a second person",
            )


def sign_report(
    report: str | Path,
    *,
    private_key: Ed25519PrivateKey,
    signer: SignerEntry,
    meaning: Meaning,
    comment: str | None = None,
    now: datetime | None = None,
    allow_computer_generated: bool = False,
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
        now=now,
        allow_computer_generated=allow_computer_generated,
        path=str(path),
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
    signers_path: str | Path | None = None,
    comment: str | None = None,
    now: datetime | None = None,
    allow_computer_generated: bool = False,
    trail: Trail | None = None,
) -> SignatureEntry:
    """Unlock ``key_path`` with ``passphrase``, find its holder in the registry, and sign.

    With a ``trail``, the signature (who, meaning, key) is appended to the audit trail.

    The registry defaults to ``signers.yaml`` beside the key file.
    """
    key_file = Path(key_path)
    registry_path = Path(signers_path) if signers_path else key_file.parent / "signers.yaml"
    private_key = load_private_key(key_file, passphrase)
    registry = load_registry(registry_path)
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    signer = find_signer(registry, fingerprint(raw))
    if signer is None:
        raise SignatureError(
            f"the key {key_file} is not registered here",
            path=registry_path,
            hint="pass the registry that `keys generate` wrote with --signers",
        )
    entry = sign_report(
        report,
        private_key=private_key,
        signer=signer,
        meaning=meaning,
        comment=comment,
        now=now,
        allow_computer_generated=allow_computer_generated,
    )
    if trail is not None:
        from cytorelease.records.audit import Action

        trail.record(
            Action.SIGN,
            str(Path(report).absolute()),
            details={
                "meaning": str(entry.meaning),
                "user_id": entry.user_id,
                "signer": entry.signer,
                "key_fingerprint": entry.key_fingerprint,
                "utc_time": entry.utc_time,
            },
        )
    return entry
