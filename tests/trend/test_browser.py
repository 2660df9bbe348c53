"""The trend report in headless Chromium: it prints on A4 with every chart, and nothing is
wider than the printable width."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from cytorelease.trend import render_page, trend_from_csv

HISTORY = Path(__file__).parent / "data" / "history.csv"
ATTRIBUTES = ("flow.viability_pct", "flow.car_pct_of_cd3")
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


def _run(
    chromium: str, tmp_path: Path, html: str, *args: str
) -> subprocess.CompletedProcess[bytes]:
    page = tmp_path / "trend.html"
    page.write_text(html, encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer",
               f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def _page() -> str:
    return render_page(trend_from_csv(HISTORY, ATTRIBUTES, by_site=True, baseline=10))


def test_prints_on_a4_with_every_chart(chromium: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    pdf = tmp_path / "trend.pdf"
    html = _page().replace("</head>", "<style>@page { size: A4; }</style></head>", 1)
    proc = _run(chromium, tmp_path, html, f"--print-to-pdf={pdf}")
    assert pdf.exists(), proc.stderr.decode(errors="replace")[-2000:]
    reader = PdfReader(str(pdf))
    # NFKC: the PDF's text has the font's ligatures (fl, fi as one glyph)
    text = unicodedata.normalize(
        "NFKC", " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    )
    for attribute in ATTRIBUTES:
        for site in ("north", "south"):
            assert f"{attribute} at site {site}" in text, text[:3000]
    assert all(float(p.mediabox.width) == pytest.approx(595.3, abs=1) for p in reader.pages)


def test_nothing_is_wider_than_the_printable_width(chromium: str, tmp_path: Path) -> None:
    # the page's CSP forbids every script, the probe too: measured without it
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", _page(), count=1)
    html = html.replace("@media print", "@media all", 1).replace("</body>", PROBE + "</body>")
    proc = _run(chromium, tmp_path, html, f"--window-size={PRINTABLE_WIDTH_PX},1200", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout.decode(errors="replace"), re.S)
    assert found, proc.stderr.decode(errors="replace")[-2000:]
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert report["over"] == [], report
