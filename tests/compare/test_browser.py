"""The comparability report in headless Chromium: it prints on A4 with every attribute's
figure, and nothing is wider than the printable width."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.compare import compare, render_page
from tests.browser import A4_WIDTH_POINTS, overflow, printed_a4

DATA = Path(__file__).parent / "data"


def _page(pair_by: str) -> str:
    protocol = DATA / "protocol.yaml" if pair_by == "lot" else None
    margins = None if protocol else ["flow.viability_pct_of_cd45=3"]
    return render_page(compare(DATA / "site_a.csv", DATA / "site_b.csv", pair_by=pair_by,
                               protocol=protocol, margins=margins))  # fmt: skip


def test_prints_on_a4_with_every_figure(chromium: str, tmp_path: Path) -> None:
    text, widths = printed_a4(chromium, tmp_path, _page("lot"))
    for heading in ("1. flow.car_pct_of_viable_cd3", "2. flow.viability_pct_of_cd45",
                    "Verdict and disposition flips", "CAR-0005"):  # fmt: skip
        assert heading in text, text[:3000]
    assert text.count("Bland-Altman") == 2
    assert all(w == pytest.approx(A4_WIDTH_POINTS, abs=1) for w in widths)


@pytest.mark.parametrize("pair_by", ["lot", "none"])
def test_nothing_is_wider_than_the_printable_width(
    chromium: str, tmp_path: Path, pair_by: str
) -> None:
    report = overflow(chromium, tmp_path, _page(pair_by))
    assert report["over"] == [], report
