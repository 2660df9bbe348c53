"""The CoA in a real browser: headless Chromium prints it to PDF (A4 and Letter) and PNG.

Chromium comes from the ``chromium`` fixture (tests/browser.py): installed with the project's
``scripts/ensure-chromium`` when absent, a skip saying why only when that is impossible.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest

from cytorelease.report.entry import Meaning
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes
from tests.report.conftest import (
    RENDERED_AT,
    Signer,
    at,
    example_record,
    passing_example_record,
)

# A4's printable width (210 mm - 2 x 12 mm margins) in CSS pixels: the narrower of A4 / Letter.
PRINTABLE_WIDTH_PX = round(186 / 25.4 * 96)
PAPER_POINTS = {"A4": (595.3, 841.9), "Letter": (612.0, 792.0)}
SECTION_TEXT = [
    "Certificate of Analysis",
    "Autologous anti-CD19 CAR-T cells (sample product)",
    "CAR-0001",
    "COI-7F3A-20261102-0001",
    "Disposition PASS",
    "Summary",
    "1. Test results",
    "2. Tests pending at release",
    "3. Figures",
    "4. Provenance",
    "5. Electronic signatures",
    "Replication-competent lentivirus",
    "Sterility (14-day culture)",
    "cd19-car-t version 2",
    "Performed by Ada Analyst",
    "Reviewed by Rémy Réviseur",
    "Approved for release by Quinn Q. Approver",
    "qa-approver",
    "2026-11-20 12:00:00 UTC",
]
_OVERFLOW_PROBE = """<script>
(function () {
  var limit = document.documentElement.clientWidth, over = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width > 0 && (box.right > limit + 0.5 || box.left < -0.5)) {
      over.push(el.tagName.toLowerCase() + "." + el.getAttribute("class") + " right=" + box.right.toFixed(1));
    }
  });
  var out = document.createElement("pre");
  out.id = "overflow-report";
  out.textContent = JSON.stringify({width: limit, scroll: document.documentElement.scrollWidth, over: over.slice(0, 20)});
  document.body.appendChild(out);
})();
</script>"""


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", "--no-pdf-header-footer",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def signed_coa(signers: dict[str, Signer]) -> str:
    """The released CoA as it is printed: a lot that met its spec, performed, reviewed and
    approved (the three signatures the default policy asks of a release)."""
    data = render_coa(passing_example_record(), generated_at=RENDERED_AT).encode()
    for who, meaning, hour in (
        ("analyst", Meaning.PERFORMED, 10),
        ("reviewer", Meaning.REVIEWED, 11),
        ("qa", Meaning.APPROVED, 12),
    ):
        data, _ = sign_bytes(
            data, private_key=signers[who].private_key, signer=signers[who].entry,
            meaning=meaning, now=at(hour),
        )  # fmt: skip
    return data.decode("utf-8")


def _page(tmp_path: Path, html: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_pdf_has_every_section_on_the_paper_size(
    chromium: str, signed_coa: str, tmp_path: Path, paper: str
) -> None:
    from pypdf import PdfReader

    sized = signed_coa.replace("</head>", f"<style>@page {{ size: {paper}; }}</style>\n</head>", 1)
    pdf = tmp_path / f"coa-{paper}.pdf"
    proc = _run(chromium, tmp_path / "profile", f"--print-to-pdf={pdf}",
                _page(tmp_path, sized, "coa.html"))  # fmt: skip
    assert pdf.exists(), proc.stderr.decode(errors="replace")[-2000:]
    reader = PdfReader(str(pdf))
    assert 2 <= len(reader.pages) <= 8
    width, height = PAPER_POINTS[paper]
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(width, abs=1)
        assert float(page.mediabox.height) == pytest.approx(height, abs=1)
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    # Case-insensitive: CSS text-transform prints some headings in capitals.
    missing = [needle for needle in SECTION_TEXT if needle.lower() not in text.lower()]
    assert missing == [], f"not in the {paper} PDF: {missing}"


def _long_strings_coa() -> str:
    """Unbroken user text at its worst: long names, paths and ids without spaces."""
    record = example_record()
    record["lot"]["product"] = "CAR-T-" + "X" * 150
    record["lot"]["chain_of_identity"] = "COI-" + "9" * 120
    record["inputs"][0]["path"] = "run/" + "very_long_folder_name_" * 8 + "tube1.fcs"
    record["evaluation"]["criteria"][0]["test"] = "Appearance" + "-" * 90
    record["evaluation"]["alerts"].append("x" * 300)
    return render_coa(record, generated_at=RENDERED_AT)


@pytest.mark.parametrize("variant", ["example", "long strings"])
def test_nothing_overflows_the_printable_width(
    chromium: str, signed_coa: str, tmp_path: Path, variant: str
) -> None:
    html = signed_coa if variant == "example" else _long_strings_coa()
    # The print rules apply on screen too, so the window is laid out as the printed page.
    html = html.replace("@media print", "@media all", 1)
    probed = html.replace("</body>", _OVERFLOW_PROBE + "\n</body>", 1)
    proc = _run(chromium, tmp_path / "profile", f"--window-size={PRINTABLE_WIDTH_PX},1200",
                "--dump-dom", _page(tmp_path, probed, "probe.html"))  # fmt: skip
    dom = proc.stdout.decode("utf-8", errors="replace")
    found = re.search(r'<pre id="overflow-report">(.*?)</pre>', dom, re.S)
    assert found, proc.stderr.decode(errors="replace")[-2000:]
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert report["width"] == PRINTABLE_WIDTH_PX
    assert report["scroll"] <= report["width"], report
    assert report["over"] == []


def test_screenshot_renders_at_page_width(chromium: str, signed_coa: str, tmp_path: Path) -> None:
    png = tmp_path / "coa.png"
    proc = _run(chromium, tmp_path / "profile", f"--screenshot={png}", "--window-size=794,3600",
                _page(tmp_path, signed_coa, "coa.html"))  # fmt: skip
    assert png.exists(), proc.stderr.decode(errors="replace")[-2000:]
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (794, 3600)
    assert png.stat().st_size > 50_000  # a rendered page, not a blank image
