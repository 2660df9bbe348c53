"""Golden file of the CoA rendered for the bundled sample lot (issue: the release's own page).

Inline figures and the embedded record are replaced by placeholders: their numbers are pinned by
the record tests and the gating/VCN/potency goldens, so this file pins the visible certificate.
Regenerate deliberately, after reviewing the change, with CYTORELEASE_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from cytorelease.demo import find_sample_lot
from cytorelease.lot.release import release_lot

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "coa_sample_lot.html"
MOMENT = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_RECORD = re.compile(
    r'(<script type="application/json" id="cytorelease-record">).*?(</script>)', re.DOTALL
)


def normalise(html: str) -> str:
    html = _SVG.sub("<svg><!-- figure --></svg>", html)
    return _RECORD.sub(r"\1<!-- record -->\2", html)


def test_sample_lot_coa_matches_golden(tmp_path: Path) -> None:
    outcome = release_lot(find_sample_lot(), out=tmp_path, created_at=MOMENT)
    actual = normalise(outcome.report_path.read_text(encoding="utf-8"))
    if os.environ.get("CYTORELEASE_REGEN_GOLDEN") == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), "golden", "rendered", n=2
        )
    )
    assert actual == expected, f"CoA differs from {GOLDEN.name}:\n{diff[:4000]}"
