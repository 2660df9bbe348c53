"""Headless Chromium for the tests of printed pages (the CoA, the trend, comparability and
impact reports): finding or installing it, printing a page to PDF, and measuring what sticks out
of the printable width.

Chromium is installed with the project's ``scripts/ensure-chromium`` when absent and the tests
run as root (as in CI); a test skips, saying why, only when that is impossible.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

ENSURE = Path(__file__).resolve().parents[1] / "scripts" / "ensure-chromium"
# A4's printable width (210 mm - 2 x 12 mm margins) in CSS pixels: the narrower of A4 / Letter.
PRINTABLE_WIDTH_PX = round(186 / 25.4 * 96)
A4_WIDTH_POINTS = 595.3
_PROBE = """<script>
var limit = document.documentElement.clientWidth, over = [];
document.querySelectorAll("body *").forEach(function (el) {
  var box = el.getBoundingClientRect();
  if (box.width > 0 && box.right > limit + 0.5) { over.push(el.tagName + " " + box.right); }
});
var out = document.createElement("pre"); out.id = "probe";
out.textContent = JSON.stringify({width: limit, over: over.slice(0, 10)});
document.body.appendChild(out);
</script>"""


def find_chromium() -> str:
    """The Chromium binary, installed by scripts/ensure-chromium when missing; else a skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if not ENSURE.exists():
        pytest.skip(f"chromium is not installed and {ENSURE} is missing")
    proc = subprocess.run([str(ENSURE)], capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unknown"
        pytest.skip(f"chromium is not available: {reason}")
    return proc.stdout.strip().splitlines()[-1]


def run_chromium(
    chromium: str, folder: Path, html: str, *args: str, name: str = "page.html"
) -> subprocess.CompletedProcess[bytes]:
    """Open ``html`` (written to ``folder/name``) in headless Chromium with ``args``."""
    page = folder / name
    page.write_text(html, encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer", "--hide-scrollbars",
               f"--user-data-dir={folder / 'profile'}", *args, page.as_uri()]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def printed_a4(chromium: str, folder: Path, html: str) -> tuple[str, list[float]]:
    """The page printed on A4: its text (NFKC, whitespace collapsed: the PDF's text has the
    font's ligatures) and each page's width in points."""
    from pypdf import PdfReader

    pdf = folder / "printed.pdf"
    sized = html.replace("</head>", "<style>@page { size: A4; }</style></head>", 1)
    proc = run_chromium(chromium, folder, sized, f"--print-to-pdf={pdf}")
    assert pdf.exists(), proc.stderr.decode(errors="replace")[-2000:]
    reader = PdfReader(str(pdf))
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    return unicodedata.normalize("NFKC", text), [float(p.mediabox.width) for p in reader.pages]


def overflow(chromium: str, folder: Path, html: str) -> dict[str, Any]:
    """What sticks out of the printable width, laid out as printed (``@media print`` applied
    on screen): ``{"width": px, "over": [elements]}``. A page's CSP forbids every script, the
    probe's too: it is measured without it."""
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html, count=1)
    page = page.replace("@media print", "@media all", 1).replace("</body>", _PROBE + "</body>")
    proc = run_chromium(chromium, folder, page, f"--window-size={PRINTABLE_WIDTH_PX},1200",
                        "--dump-dom")  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout.decode(errors="replace"), re.S)
    assert found, proc.stderr.decode(errors="replace")[-2000:]
    report: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return report
