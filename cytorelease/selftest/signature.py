"""A detached Ed25519 signature over the self-test report's two files.

``selftest.sig.json`` names each file's SHA-256, the key (fingerprint and public key) and the
signing time; the signature covers the canonical JSON of all of that. A report is a result of
qualification, not a CoA, so it does not go through the CoA signature area.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json, file_sha256
from cytorelease.selftest.document import HTML_NAME, JSON_NAME

__all__ = ["SIGNATURE_NAME", "SIGNATURE_SCHEMA", "sign_selftest", "verify_selftest"]

SIGNATURE_NAME = "selftest.sig.json"
SIGNATURE_SCHEMA = "cytorelease.selftest-signature/1"


def _unsigned(out: Path, raw_public: bytes, moment: datetime) -> dict[str, Any]:
    from cytorelease.report.keys import fingerprint

    return {
        "schema": SIGNATURE_SCHEMA,
        "files": {name: file_sha256(out / name) for name in (JSON_NAME, HTML_NAME)},
        "key_fingerprint": fingerprint(raw_public),
        "public_key": base64.b64encode(raw_public).decode("ascii"),
        "utc_time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def sign_selftest(out: Path, private_key: Any, *, now: datetime | None = None) -> Path:
    """Sign the report in ``out`` with an unlocked Ed25519 key; returns the signature file."""
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    document = _unsigned(out, raw, now or datetime.now(UTC))
    signature = private_key.sign(canonical_json(document).encode("utf-8"))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    path = out / SIGNATURE_NAME
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def verify_selftest(out: Path, *, fingerprint: str | None = None) -> list[str]:
    """Problems with the report's signature (empty: intact, signed by the key it names).

    ``fingerprint``, when given, is the key the signature must be from (the registry's entry).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from cytorelease.report.keys import fingerprint as key_fingerprint

    path = out / SIGNATURE_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(document.pop("signature"), validate=True)
        raw = base64.b64decode(document["public_key"], validate=True)
    except FileNotFoundError:
        raise InputError("no self-test signature here", path=path) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        return [f"{SIGNATURE_NAME} is not a self-test signature document"]
    problems = []
    if document.get("schema") != SIGNATURE_SCHEMA:
        problems.append(f"{SIGNATURE_NAME}: schema is not {SIGNATURE_SCHEMA}")
    if key_fingerprint(raw) != document.get("key_fingerprint"):
        problems.append("the public key does not have the fingerprint the signature names")
    if fingerprint is not None and document.get("key_fingerprint") != fingerprint:
        problems.append("signed by another key than the one expected")
    for name in (JSON_NAME, HTML_NAME):
        target = out / name
        want = (document.get("files") or {}).get(name)
        if not target.is_file():
            problems.append(f"{name} is missing")
        elif hashlib.sha256(target.read_bytes()).hexdigest() != want:
            problems.append(f"{name} changed after signing (SHA-256 differs)")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            signature, canonical_json(document).encode("utf-8")
        )
    except (InvalidSignature, ValueError):
        problems.append("the signature does not verify")
    return problems
