"""The addendum as it is printed: headless Chromium prints it on A4 with every section, and
nothing runs off the page."""

from __future__ import annotations

from pathlib import Path

from tests.addendum.conftest import Released
from tests.addendum.test_addendum import add, verified
from tests.report.test_browser_render import _run

SECTIONS = ("Addendum 1 to the Certificate of Analysis", "Results added", "What changed",
            "All tests, re-evaluated", "Provenance", "Electronic signatures")  # fmt: skip


def test_the_addendum_prints_on_a4_with_every_section(
    chromium: str, case: Released, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    out = tmp_path / "addendum-1.html"
    add(verified(case), out)
    sized = out.read_text(encoding="utf-8").replace(
        "</head>", "<style>@page { size: A4; }</style>\n</head>", 1
    )
    page = tmp_path / "printed.html"
    page.write_text(sized, encoding="utf-8")
    pdf = tmp_path / "addendum.pdf"
    proc = _run(chromium, tmp_path / "profile", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.exists(), proc.stderr.decode(errors="replace")[-2000:]
    reader = PdfReader(str(pdf))
    assert 2 <= len(reader.pages) <= 6
    for sheet in reader.pages:
        assert abs(float(sheet.mediabox.width) - 595.3) < 1  # A4: 210 mm
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages).lower()
    assert [s for s in SECTIONS if s.lower() not in text] == []
    assert "ssecond" in text and "no growth" in text
