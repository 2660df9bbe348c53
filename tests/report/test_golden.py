"""Golden files of the rendered CoA (draft and signed) for the fixed example record.

Regenerate deliberately, after reviewing the change, with CYTORELEASE_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from cytorelease.report.entry import Meaning
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes
from tests.report.conftest import RENDERED_AT, Signer, at, example_record

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REGENERATE = os.environ.get("CYTORELEASE_REGEN_GOLDEN") == "1"

# Values that differ with every throw-away key: fingerprints, public keys, signatures and the
# chain hashes that depend on them. Times are fixed by the test, not normalised.
_PER_KEY = [
    (re.compile(r'"(key_fingerprint|previous_signature)":"[0-9a-f]{64}"'), r'"\1":"<sha256>"'),
    (re.compile(r'"(public_key|signature)":"[A-Za-z0-9+/=]+"'), r'"\1":"<base64>"'),
    (
        re.compile(r'data-field="key_fingerprint">[0-9a-f]{64}<'),
        'data-field="key_fingerprint"><sha256><',
    ),
]
_GENERATED = re.compile(r"on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def normalise(html: str) -> str:
    html = _GENERATED.sub("on <generated-at>", html)
    for pattern, replacement in _PER_KEY:
        html = pattern.sub(replacement, html)
    return html


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with CYTORELEASE_REGEN_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "golden", "rendered", lineterm="", n=1
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"{name} differs (CYTORELEASE_REGEN_GOLDEN=1 after review):\n{shown}")


def test_draft_coa_matches_golden() -> None:
    _compare("coa_example.html", normalise(render_coa(example_record(), generated_at=RENDERED_AT)))


def test_signed_coa_matches_golden(signers: dict[str, Signer]) -> None:
    """The example lot (INCOMPLETE: RCL has no result) as it stands awaiting release: performed
    by the analyst and reviewed by a reviewer, each with the role the signed registry gives
    them. The default policy refuses its approval, so the golden carries no approval."""
    data = render_coa(example_record(), generated_at=RENDERED_AT).encode()
    for who, meaning, hour, comment in (
        ("analyst", Meaning.PERFORMED, 10, "Gating reviewed against FMO"),
        ("reviewer", Meaning.REVIEWED, 12, None),
    ):
        data, _ = sign_bytes(
            data, private_key=signers[who].private_key, signer=signers[who].entry,
            meaning=meaning, now=at(hour), comment=comment,
        )  # fmt: skip
    signed = normalise(data.decode("utf-8"))
    assert signed.count("<sha256>") == 5  # two fingerprints in JSON, two shown, one chain link
    _compare("coa_example_signed.html", signed)


def test_normalisation_leaves_content_hashes() -> None:
    text = '"content_sha256":"' + "a" * 64 + '","key_fingerprint":"' + "b" * 64 + '"'
    assert normalise(text) == '"content_sha256":"' + "a" * 64 + '","key_fingerprint":"<sha256>"'
