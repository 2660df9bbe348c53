"""The trend report in headless Chromium: it prints on A4 with every chart, and nothing is
wider than the printable width."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.trend import render_page, trend_from_csv
from tests.browser import A4_WIDTH_POINTS, overflow, printed_a4

HISTORY = Path(__file__).parent / "data" / "history.csv"
ATTRIBUTES = ("flow.viability_pct", "flow.car_pct_of_cd3")


def _page() -> str:
    return render_page(trend_from_csv(HISTORY, ATTRIBUTES, by_site=True, baseline=10))


def test_prints_on_a4_with_every_chart(chromium: str, tmp_path: Path) -> None:
    text, widths = printed_a4(chromium, tmp_path, _page())
    for attribute in ATTRIBUTES:
        for site in ("north", "south"):
            assert f"{attribute} at site {site}" in text, text[:3000]
    assert all(w == pytest.approx(A4_WIDTH_POINTS, abs=1) for w in widths)


def test_nothing_is_wider_than_the_printable_width(chromium: str, tmp_path: Path) -> None:
    report = overflow(chromium, tmp_path, _page())
    assert report["over"] == [], report
