"""The CoA's out-of-trend section in headless Chromium: printed on A4 with its sparklines, and
nothing wider than the printable width (long attribute names and lot ids included)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from cytorelease.report.render import render_coa
from tests.report.conftest import RENDERED_AT, unstamped_record

PRINTABLE_WIDTH_PX = round(186 / 25.4 * 96)  # A4 less 2 x 12 mm margins
PROBE = """<script>
var limit = document.documentElement.clientWidth, over = [];
document.querySelectorAll("body *").forEach(function (el) {
  var box = el.getBoundingClientRect();
  if (box.width > 0 && box.right > limit + 0.5) { over.push(el.tagName + " " + box.right); }
});
var out = document.createElement("pre"); out.id = "probe";
out.textContent = JSON.stringify({width: limit, over: over.slice(0, 10)});
document.body.appendChild(out);
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (scripts/ensure-chromium installs it)")
    return found


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


def _run(chromium: str, tmp_path: Path, html: str, *args: str) -> subprocess.CompletedProcess:
    page = tmp_path / "coa.html"
    page.write_text(html, encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def test_the_section_prints_on_a4_with_its_sparklines(chromium: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    html = _page()
    assert html.count('class="oot-spark"') == 2
    pdf = tmp_path / "coa.pdf"
    sized = html.replace("</head>", "<style>@page { size: A4; }</style></head>", 1)
    proc = _run(chromium, tmp_path, sized, f"--print-to-pdf={pdf}")
    assert pdf.exists(), proc.stderr.decode(errors="replace")[-2000:]
    reader = PdfReader(str(pdf))
    text = unicodedata.normalize(
        "NFKC", " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    )
    assert "Out of trend (review)" in text and text.count("OUT_OF_TREND") == 2, text[:3000]
    assert "rule 5: two of three points" in text


def test_the_section_is_no_wider_than_the_printable_width(chromium: str, tmp_path: Path) -> None:
    html = _page().replace("@media print", "@media all", 1).replace("</body>", PROBE + "</body>")
    proc = _run(chromium, tmp_path, html, f"--window-size={PRINTABLE_WIDTH_PX},1200", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout.decode(errors="replace"), re.S)
    assert found, proc.stderr.decode(errors="replace")[-2000:]
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert report["width"] == PRINTABLE_WIDTH_PX
    assert report["over"] == [], report
