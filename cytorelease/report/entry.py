"""One electronic signature: its meaning, its signed fields and the bytes Ed25519 signs.

A :class:`SignatureEntry` is the machine half of a signature in a CoA. Every field except
``signature`` is signed: the Ed25519 signature is taken over the canonical JSON of the others,
so the printed name, the UTC time, the meaning and the comment are part of what is signed
(21 CFR 11.50), and so are the content, record, spec and input hashes (11.70) and the hash of
the previous entry (signatures chain). An entry signed since the registry anchor also signs the
registry version it was made under (its number and SHA-256), so a verifier given a registry cut
short before that version refuses it; an older entry carries no anchor.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cytorelease.provenance import canonical_json

__all__ = [
    "SIGNATURE_SCHEMA",
    "Meaning",
    "SignatureEntry",
    "entry_sha256",
    "format_utc",
    "parse_utc",
]

SIGNATURE_SCHEMA = "cytorelease.signature/1"
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_UTC_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Meaning(StrEnum):
    """What a signature means (21 CFR 11.50(a)(3))."""

    PERFORMED = "performed"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    APPROVED_WITH_DEVIATION = "approved-with-deviation"
    REJECTED = "rejected"
    # Applied only by an unattended service key, never by a person, never through `sign`.
    COMPUTER_GENERATED = "computer-generated-evaluation"

    @property
    def label(self) -> str:
        """The wording printed in the report."""
        return _LABELS[self]

    @property
    def is_human(self) -> bool:
        return self is not Meaning.COMPUTER_GENERATED


_LABELS = {
    Meaning.PERFORMED: "Performed by",
    Meaning.REVIEWED: "Reviewed by",
    Meaning.APPROVED: "Approved for release by",
    Meaning.APPROVED_WITH_DEVIATION: "Approved for release under a deviation by",
    Meaning.REJECTED: "Rejected (not for release) by",
    Meaning.COMPUTER_GENERATED: "Computer-generated evaluation by",
}


class _Absent:
    """The marker of a field an older entry does not have (distinct from null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
_OPTIONAL = frozenset({"deviation", "trusted_time", "registry_version", "registry_sha256"})


def format_utc(moment: datetime) -> str:
    """``2026-11-21T05:10:03Z``: UTC, whole seconds (the signed and displayed precision)."""
    if moment.tzinfo is None:
        raise ValueError("a signature time must be timezone-aware")
    return moment.astimezone(UTC).strftime(_UTC_FORMAT)


def parse_utc(text: str) -> datetime:
    """The inverse of :func:`format_utc`; ``ValueError`` for any other spelling."""
    if not isinstance(text, str) or not _UTC_PATTERN.match(text):
        raise ValueError(f"not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ: {text!r}")
    return datetime.strptime(text, _UTC_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SignatureEntry:
    """The signed fields of one signature and the Ed25519 signature over them."""

    signer: str
    user_id: str
    role: str
    key_fingerprint: str
    public_key: str  # base64 of the 32 raw bytes; its sha256 is key_fingerprint
    meaning: str
    utc_time: str
    comment: str | None
    content_sha256: str
    record_sha256: str
    spec_sha256: str | None
    input_sha256s: tuple[str, ...]
    previous_signature: str | None  # entry_sha256 of the entry before, None for the first
    signature: str  # base64 Ed25519 signature over signed_bytes()
    schema: str = SIGNATURE_SCHEMA
    # Fields added after the first signed reports; absent from an entry that predates them, so
    # those entries keep their exact bytes. ``deviation`` is signed, the RFC 3161 token (over
    # the signature's bytes, obtained after signing) is not. ``trusted_time`` is ABSENT on an
    # old entry and None on one signed without a TSA.
    deviation: str | None = None
    trusted_time: str | _Absent | None = field(default_factory=lambda: ABSENT)
    # The registry head the signer signed under (signed, both or neither): ABSENT on an entry
    # that predates the anchor or was signed without a registry.
    registry_version: int | _Absent = field(default_factory=lambda: ABSENT)
    registry_sha256: str | _Absent = field(default_factory=lambda: ABSENT)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["input_sha256s"] = list(self.input_sha256s)
        if self.deviation is None:
            del data["deviation"]
        for name in ("trusted_time", "registry_version", "registry_sha256"):
            if isinstance(data[name], _Absent):
                del data[name]
        return data

    def signed_fields(self) -> dict[str, Any]:
        data = self.to_dict()
        del data["signature"]
        data.pop("trusted_time", None)
        return data

    @property
    def registry_anchor(self) -> tuple[int, str] | None:
        """(version, SHA-256) of the registry head it was signed under; None without one."""
        if isinstance(self.registry_version, int) and isinstance(self.registry_sha256, str):
            return self.registry_version, self.registry_sha256
        return None

    @property
    def has_trusted_time_field(self) -> bool:
        return not isinstance(self.trusted_time, _Absent)

    def token_bytes(self) -> bytes | None:
        if isinstance(self.trusted_time, str):
            return base64.b64decode(self.trusted_time, validate=True)
        return None

    def signed_bytes(self) -> bytes:
        """What Ed25519 signs: the canonical JSON of every field but ``signature``."""
        return canonical_json(self.signed_fields()).encode("utf-8")

    def signature_bytes(self) -> bytes:
        return base64.b64decode(self.signature, validate=True)

    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)

    @property
    def meaning_enum(self) -> Meaning:
        return Meaning(self.meaning)

    @classmethod
    def from_dict(cls, data: Any) -> SignatureEntry:
        """Strict: exactly the known fields, of the right types; ``ValueError`` says which."""
        if not isinstance(data, dict):
            raise ValueError("a signature entry must be a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(names - set(data) - _OPTIONAL)
        if unknown or missing:
            raise ValueError(f"unknown fields {unknown} / missing fields {missing}")
        if data["schema"] != SIGNATURE_SCHEMA:
            raise ValueError(f"schema {data['schema']!r} is not {SIGNATURE_SCHEMA}")
        for name in ("signer", "user_id", "role", "key_fingerprint", "public_key", "meaning"):
            if not isinstance(data[name], str) or not data[name]:
                raise ValueError(f"{name} must be a non-empty string")
        for name in ("utc_time", "content_sha256", "record_sha256", "signature"):
            if not isinstance(data[name], str):
                raise ValueError(f"{name} must be a string")
        for name in ("comment", "spec_sha256", "previous_signature"):
            if data[name] is not None and not isinstance(data[name], str):
                raise ValueError(f"{name} must be a string or null")
        hashes = data["input_sha256s"]
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ValueError("input_sha256s must be a list of strings")
        for name in ("key_fingerprint", "content_sha256", "record_sha256"):
            if not _HEX64.match(data[name]):
                raise ValueError(f"{name} must be 64 lowercase hex digits")
        for name, size in (("public_key", 32), ("signature", 64)):
            # Only the canonical spelling: base64 has spare bits that would let a byte change
            # without changing the decoded value.
            try:
                raw = base64.b64decode(data[name], validate=True)
            except ValueError:
                raise ValueError(f"{name} is not base64") from None
            if len(raw) != size or base64.b64encode(raw).decode("ascii") != data[name]:
                raise ValueError(f"{name} is not the canonical base64 of {size} bytes")
        if "deviation" in data and (
            not isinstance(data["deviation"], str) or not data["deviation"]
        ):
            raise ValueError("deviation must be a non-empty string when present")
        token = data.get("trusted_time")
        if token is not None:
            try:
                base64.b64decode(token, validate=True)
            except (ValueError, TypeError):
                raise ValueError("trusted_time must be a base64 RFC 3161 token or null") from None
        _check_anchor(data)
        Meaning(data["meaning"])  # ValueError names the unknown meaning
        parse_utc(data["utc_time"])
        return cls(**{**data, "input_sha256s": tuple(hashes)})


def _check_anchor(data: dict[str, Any]) -> None:
    present = [name in data for name in ("registry_version", "registry_sha256")]
    if not any(present):
        return
    if not all(present):
        raise ValueError("registry_version and registry_sha256 go together (the registry anchor)")
    version = data["registry_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("registry_version must be a version number (an integer from 1)")
    if not isinstance(data["registry_sha256"], str) or not _HEX64.match(data["registry_sha256"]):
        raise ValueError("registry_sha256 must be 64 lowercase hex digits")


def entry_sha256(entry: SignatureEntry) -> str:
    """The hash the next signature names as ``previous_signature``: the whole entry, signed."""
    return hashlib.sha256(canonical_json(entry.to_dict()).encode("utf-8")).hexdigest()
