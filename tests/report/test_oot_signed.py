"""A CoA with an out-of-trend section signs and verifies like any other, and the section is
signed content: removed from the page, or edited in the embedded record, verification fails."""

from __future__ import annotations

import re
from typing import Any

from cytorelease.report.entry import Meaning
from cytorelease.report.registry import load_registry
from cytorelease.report.render import render_coa, stamp_rendering
from cytorelease.report.sign import sign_bytes
from cytorelease.report.verify import verify_bytes
from tests.report.conftest import RENDERED_AT, Signer, at, passing_example_record


def _record() -> dict[str, Any]:
    record = passing_example_record()
    record.pop("rendering")
    points = [{"lot": f"CAR-{i:04d}", "value": 40.0 + (i % 3)} for i in range(29)]
    record["out_of_trend"] = {
        "baseline": {"id": "cd19-car-t", "product": "cd19-car-t", "version": 1,
                     "sha256": "cd" * 32, "frozen_at": "2026-10-01T08:00:00Z",
                     "frozen_by": "qa-lead", "baseline_n": 20},
        "method": "Nelson rules 1-8",
        "attributes": [{"attribute": "flow.car_pct_of_viable_cd3", "value": 52.4,
                        "center": 41.0, "lcl": 37.5, "ucl": 44.5, "status": "out_of_trend",
                        "previous_lots": 29, "skipped_lots": [],
                        "rules": [{"rule": 1, "description": "one point beyond 3 sigma",
                                   "lots": ["CAR-0001"]}],
                        "sparkline": [*points, {"lot": "CAR-0001", "value": 52.4}]}],
        "flags": [{"flag": "OUT_OF_TREND", "attribute": "flow.car_pct_of_viable_cd3",
                   "rules": [1]}],
    }  # fmt: skip
    return stamp_rendering(record, generated_at=RENDERED_AT)


def test_the_section_is_signed_content(signers: dict[str, Signer]) -> None:
    data = render_coa(_record(), generated_at=RENDERED_AT).encode()
    assert b"OUT_OF_TREND" in data
    analyst = signers["analyst"]
    signed, _ = sign_bytes(data, private_key=analyst.private_key, signer=analyst.entry,
                           meaning=Meaning.PERFORMED, now=at(10))  # fmt: skip
    registry = load_registry(analyst.registry_path)
    assert verify_bytes(signed, registry=registry, now=at(23)).failures() == []
    row = re.search(rb'<tr class="oot-flag">.*?</tr>', signed, re.S)
    assert row is not None
    for tampered in (
        signed.replace(row.group(0), b""),  # the flag taken off the page
        signed.replace(b'"status":"out_of_trend"', b'"status":"in_trend"', 1),  # the record
    ):
        assert tampered != signed
        assert verify_bytes(tampered, registry=registry, now=at(23)).failures() != []


def test_without_a_baseline_the_page_is_the_page_of_a_record_without_the_block() -> None:
    """Only the embedded record (and its hash) differ: the page says nothing about trend."""
    plain = passing_example_record()
    unchecked = dict(plain)
    unchecked.pop("rendering")
    unchecked["out_of_trend"] = {"baseline": None, "note": "no baseline", "attributes": [],
                                 "flags": []}  # fmt: skip
    unchecked = stamp_rendering(unchecked, generated_at=RENDERED_AT)

    def visible(record: dict[str, Any]) -> str:
        html = render_coa(record, generated_at=RENDERED_AT)
        html = re.sub(r'(id="cytorelease-record">).*?(</script>)', r"\1\2", html, flags=re.S)
        return re.sub(r"[0-9a-f]{64}", "<sha256>", html)

    assert "out_of_trend" in render_coa(unchecked, generated_at=RENDERED_AT)  # in the record
    assert visible(unchecked) == visible(plain)
