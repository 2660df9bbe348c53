"""Known-answer tests of the signatures: RFC 8032 Ed25519 vectors and a tampered CoA.

The CoA check signs a small certificate with a throw-away key using the project's own signing
and verification functions, then changes one printed result: verification must refuse it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cytorelease.selftest.checks import Check, Status

__all__ = ["coa_tamper_check", "crypto_checks", "ed25519_check"]

_STAGE = "OQ"
# The throw-away registry of the tamper check holds synthetic people.
_EVIDENCE = "synthetic self-test identity: no person exists and no document was checked"

# RFC 8032 section 7.1, TEST 1-3: (secret key, public key, message, signature), hex.
RFC8032_VECTORS = (
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
)


def _verifies(public: Any, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def ed25519_check() -> Check:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    items = []
    for number, (secret, public_hex, message_hex, signature_hex) in enumerate(RFC8032_VECTORS, 1):
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        public = key.public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        message, expected = bytes.fromhex(message_hex), bytes.fromhex(signature_hex)
        signature = key.sign(message)
        flipped = bytes([expected[0] ^ 1]) + expected[1:]
        items.append(
            {"test": f"RFC 8032 7.1 TEST {number}", "public_key": raw.hex() == public_hex,
             "signature": signature == expected, "verifies": _verifies(public, expected, message),
             "flipped_bit_refused": not _verifies(public, flipped, message)}
        )  # fmt: skip
    bad = [str(i["test"]) for i in items if not all(v for k, v in i.items() if k != "test")]
    return Check(
        "oq.ed25519", _STAGE, "Ed25519 signing and verification, RFC 8032 test vectors",
        Status.PASS if not bad else Status.FAIL, expected={"failed": 0},
        observed={"vectors": len(items), "failed": len(bad)}, detail=", ".join(bad), items=items,
    )  # fmt: skip


def _record() -> dict[str, Any]:
    """A small result record as release writes one: one criterion, one input."""
    sha = hashlib.sha256(b"selftest input").hexdigest()
    criterion = {
        "id": "viability", "test": "Viability", "category": "strength",
        "attribute": "flow.viability_pct_of_cd45", "method": "selftest", "reported": "91.2",
        "limit": {"min": "80.0"}, "unit": "% of CD45+", "verdict": "PASS", "timing": "release",
    }  # fmt: skip
    return {
        "schema": "cytorelease.result/1",
        "lot": {"id": "SELFTEST-1", "product": "self-test certificate",
                "chain_of_identity": "COI-SELFTEST", "manufacturing_date": "2026-01-01"},
        "software": {"name": "cytorelease", "version": "selftest"},
        "inputs": [{"role": "selftest", "path": "selftest.fcs", "sha256": sha, "kind": "fcs"}],
        "methods": [], "measurements": [], "figures": [],
        "evaluation": {"spec": {"id": "selftest", "version": "1", "sha256": sha},
                       "criteria": [criterion], "disposition": "PASS", "alerts": []},
    }  # fmt: skip


def _signed_coa(moment: datetime) -> tuple[bytes, Any]:
    """The record rendered and signed (meaning performed) by a throw-away analyst key, in a
    throw-away signed registry; (the signed CoA, the registry)."""
    import secrets
    import tempfile

    from cytorelease.report.entry import Meaning
    from cytorelease.report.keys import load_private_key
    from cytorelease.report.registry import load_registry
    from cytorelease.report.registry_admin import enroll, init_registry
    from cytorelease.report.render import render_coa
    from cytorelease.report.sign import sign_bytes
    from cytorelease.signature_policy import Role

    passphrase = secrets.token_urlsafe(18)
    start = moment - timedelta(hours=1)
    with tempfile.TemporaryDirectory(prefix="cytorelease-selftest-") as folder:
        made = init_registry(
            folder, signer="Self Test Admin", user_id="selftest-admin",
            passphrase=passphrase, now=start, identity_evidence=_EVIDENCE,
        )  # fmt: skip
        admin = load_private_key(made.admin_key.key_path, passphrase)
        pair, _ = enroll(
            folder, admin_key=admin, signer="Self Test", user_id="selftest",
            roles=[Role.ANALYST], passphrase=passphrase, out_dir=folder, now=start,
            identity_evidence=_EVIDENCE,
        )  # fmt: skip
        key = load_private_key(pair.key_path, passphrase)
        registry = load_registry(folder)
    signer = registry.head.active_entry("selftest")
    assert signer is not None  # registered just above
    draft = render_coa(_record(), generated_at=moment).encode("utf-8")
    signed, _ = sign_bytes(
        draft, private_key=key, signer=signer, meaning=Meaning("performed"), now=moment
    )
    return signed, registry


def coa_tamper_check() -> Check:
    from cytorelease.report.verify import verify_bytes

    moment = datetime.now(UTC).replace(microsecond=0)
    signed, registry = _signed_coa(moment)
    untouched = verify_bytes(signed, registry=registry, now=moment)
    # the printed result 91.2 becomes 81.2: one byte of the visible certificate
    shown = b'<td class="reported">91.2 '
    tampered = signed.replace(shown, shown.replace(b"91.2", b"81.2"), 1) if shown in signed else b""
    refused = verify_bytes(tampered, registry=registry, now=moment) if tampered else None
    observed = {
        "untouched_verifies": untouched.ok,
        "result_found_in_page": bool(tampered),
        "tampered_refused": refused is not None and not refused.ok,
    }
    expected = {"untouched_verifies": True, "result_found_in_page": True, "tampered_refused": True}
    return Check(
        "oq.coa_tamper", _STAGE,
        "a signed CoA verifies; the same CoA with one printed result changed is refused",
        Status.PASS if observed == expected else Status.FAIL, expected=expected, observed=observed,
        detail=_tamper_detail(untouched, refused),
    )  # fmt: skip


def _tamper_detail(untouched: Any, refused: Any) -> str:
    if not untouched.ok:
        return "the untouched CoA failed: " + "; ".join(untouched.failures()[:2])
    if refused is None or refused.ok:
        return "the tampered CoA was not refused"
    return "tampered copy refused: " + refused.failures()[0][:160]


def crypto_checks() -> list[Check]:
    return [ed25519_check(), coa_tamper_check()]
