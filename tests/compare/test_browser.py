"""The comparability report in headless Chromium: it prints on A4 with every attribute's
figure, and nothing is wider than the printable width."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from cytorelease.compare import compare, render_page

DATA = Path(__file__).parent / "data"
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


def _page(pair_by: str) -> str:
    protocol = DATA / "protocol.yaml" if pair_by == "lot" else None
    margins = None if protocol else ["flow.viability_pct_of_cd45=3"]
    return render_page(compare(DATA / "site_a.csv", DATA / "site_b.csv", pair_by=pair_by,
                               protocol=protocol, margins=margins))  # fmt: skip


def _run(
    chromium: str, tmp_path: Path, html: str, *args: str
) -> subprocess.CompletedProcess[bytes]:
    page = tmp_path / "compare.html"
    page.write_text(html, encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer",
               f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def test_prints_on_a4_with_every_figure(chromium: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    pdf = tmp_path / "compare.pdf"
    html = _page("lot").replace("</head>", "<style>@page { size: A4; }</style></head>", 1)
    proc = _run(chromium, tmp_path, html, f"--print-to-pdf={pdf}")
    assert pdf.exists(), proc.stderr.decode(errors="replace")[-2000:]
    reader = PdfReader(str(pdf))
    text = unicodedata.normalize(
        "NFKC", " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    )
    for heading in ("1. flow.car_pct_of_viable_cd3", "2. flow.viability_pct_of_cd45",
                    "Verdict and disposition flips", "CAR-0005"):  # fmt: skip
        assert heading in text, text[:3000]
    assert text.count("Bland-Altman") == 2
    assert all(float(p.mediabox.width) == pytest.approx(595.3, abs=1) for p in reader.pages)


@pytest.mark.parametrize("pair_by", ["lot", "none"])
def test_nothing_is_wider_than_the_printable_width(
    chromium: str, tmp_path: Path, pair_by: str
) -> None:
    # the page's CSP forbids every script, the probe too: measured without it
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", _page(pair_by), count=1)
    html = html.replace("@media print", "@media all", 1).replace("</body>", PROBE + "</body>")
    proc = _run(chromium, tmp_path, html, f"--window-size={PRINTABLE_WIDTH_PX},1200", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout.decode(errors="replace"), re.S)
    assert found, proc.stderr.decode(errors="replace")[-2000:]
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert report["over"] == [], report
