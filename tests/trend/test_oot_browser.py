"""The CoA's out-of-trend section in headless Chromium: printed on A4 with its sparklines, and
nothing wider than the printable width (long attribute names and lot ids included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytorelease.report.render import render_coa
from tests.browser import PRINTABLE_WIDTH_PX, overflow, printed_a4
from tests.report.conftest import RENDERED_AT, unstamped_record


def _attribute(name: str, lot: str, shift: float) -> dict[str, Any]:
    points = [{"lot": f"{lot}-{i:02d}", "value": 40.0 + (i % 5) * 0.7} for i in range(29)]
    points.append({"lot": lot, "value": 40.0 + shift})
    return {
        "attribute": name, "value": 40.0 + shift, "center": 41.4, "lcl": 37.9, "ucl": 44.9,
        "status": "out_of_trend", "previous_lots": 29, "skipped_lots": [],
        "rules": [{"rule": 1, "description": "one point beyond 3 sigma", "lots": [lot]},
                  {"rule": 5, "description": "two of three points in a row beyond 2 sigma on "
                   "the same side", "lots": [lot]}],
        "sparkline": points,
    }  # fmt: skip


def _page() -> str:
    record = unstamped_record()
    lot = "LOT-" + "7" * 60
    record["out_of_trend"] = {
        "baseline": {"id": "cd19-car-t", "product": "cd19-car-t", "version": 3,
                     "sha256": "ab" * 32, "frozen_at": "2026-11-01T08:00:00Z",
                     "frozen_by": "qa-" + "x" * 80, "baseline_n": 20},
        "method": "Nelson rules 1-8",
        "attributes": [_attribute("flow.car_pct_of_viable_cd3", lot, 9.0),
                       _attribute("potency." + "very_long_attribute_name_" * 4, lot, -8.0)],
        "flags": [],
    }  # fmt: skip
    return render_coa(record, generated_at=RENDERED_AT)


def test_the_section_prints_on_a4_with_its_sparklines(chromium: str, tmp_path: Path) -> None:
    html = _page()
    assert html.count('class="oot-spark"') == 2
    text, _ = printed_a4(chromium, tmp_path, html)
    assert "Out of trend (review)" in text and text.count("OUT_OF_TREND") == 2, text[:3000]
    assert "rule 5: two of three points" in text


def test_the_section_is_no_wider_than_the_printable_width(chromium: str, tmp_path: Path) -> None:
    report = overflow(chromium, tmp_path, _page())
    assert report["width"] == PRINTABLE_WIDTH_PX
    assert report["over"] == [], report
