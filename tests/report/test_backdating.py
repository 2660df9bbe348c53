"""The reported backdating attack (issue 14): a signature dated before its record was created.

Without trusted time (report/tsa.py is the hook for that) a signer's clock can be set back into
an expired key's validity; what can be checked offline is that no signature predates the result
record's ``created_at``, which the release writes when it evaluates the lot.
"""

from __future__ import annotations

from typing import Any

import pytest

from cytorelease.errors import SignatureError
from cytorelease.report import sign as sign_module
from cytorelease.report.entry import Meaning
from cytorelease.report.keys import load_registry
from cytorelease.report.render import render_coa, stamp_rendering
from cytorelease.report.sign import sign_bytes
from cytorelease.report.verify import verify_bytes
from tests.report.conftest import RENDERED_AT, Signer, at, unstamped_record


def _draft_created_at(created_at: str) -> bytes:
    record: dict[str, Any] = unstamped_record()
    record["created_at"] = created_at  # as lot/record.py writes it
    stamped = stamp_rendering(record, generated_at=RENDERED_AT)
    return render_coa(stamped, generated_at=RENDERED_AT).encode("utf-8")


def test_sign_refuses_a_clock_before_the_record(signers: dict[str, Signer]) -> None:
    draft = _draft_created_at("2026-11-20T10:30:00Z")
    analyst = signers["analyst"]
    with pytest.raises(SignatureError, match="before the result record was created"):
        sign_bytes(
            draft, private_key=analyst.private_key, signer=analyst.entry,
            meaning=Meaning.PERFORMED, now=at(10),
        )  # fmt: skip
    signed, _ = sign_bytes(
        draft, private_key=analyst.private_key, signer=analyst.entry,
        meaning=Meaning.PERFORMED, now=at(11),
    )  # fmt: skip
    registry = load_registry(analyst.registry_path)
    assert verify_bytes(signed, registry=registry, now=at(23)).failures() == []


def test_verify_names_a_backdated_signature(
    signers: dict[str, Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attacker's own signer: the library's created_at check removed, the clock set back.
    monkeypatch.setattr(sign_module, "record_created_at", lambda record: None)
    draft = _draft_created_at("2026-11-20T10:30:00Z")
    analyst = signers["analyst"]
    forged, _ = sign_bytes(
        draft, private_key=analyst.private_key, signer=analyst.entry,
        meaning=Meaning.PERFORMED, now=at(10),
    )  # fmt: skip
    registry = load_registry(analyst.registry_path)
    failures = verify_bytes(forged, registry=registry, now=at(23)).failures()
    assert any("before the result record was created" in f and "backdated" in f for f in failures)
