"""What the hook makes of a file's content: workbooks may be qPCR or plate-reader exports."""

from __future__ import annotations

from pathlib import Path

from cytorelease.hook.identify import FileKind, identify


def _plate_workbook(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Absorbance"
    sheet.append(["Wavelength: 450 nm"])
    sheet.append(["Plate 7"])
    sheet.append(["Abs", *range(1, 13)])
    for row in range(8):
        sheet.append([chr(65 + row), *[round(0.1 * row + 0.01 * c, 3) for c in range(12)]])
    book.save(path)
    return path


def test_a_plate_reader_workbook_is_a_plate_export_not_a_failed_qpcr_one(tmp_path: Path) -> None:
    found = identify(_plate_workbook(tmp_path / "elisa.xlsx"))
    assert found.kind is FileKind.PLATE_EXPORT, found.problem
    assert found.meta == {"format": "grid", "names": ["Plate 7"]}


def test_a_workbook_that_is_neither_keeps_the_qpcr_readers_reason(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing", "here"])
    book.save(tmp_path / "notes.xlsx")
    found = identify(tmp_path / "notes.xlsx")
    assert found.kind is FileKind.UNKNOWN
    assert found.problem is not None and "no 'Results' sheet (sheets: Notes)" in found.problem


_PRELOAD = """
import sys
from cytorelease.hook.identify import preload_reader
before = "cytorelease.flow.fcs" in sys.modules
preload_reader(sys.argv[1].encode()).join()
print(before, "cytorelease.flow.fcs" in sys.modules, "pandas" in sys.modules)
"""


def test_preload_imports_the_fcs_reader_in_the_background_for_an_fcs_head() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _PRELOAD, "FCS3.1    "], capture_output=True, text=True, check=True
    )
    # the hook's imports do not load the reader: the preload is what brings it in
    assert done.stdout.split() == ["False", "True", "False"]


def test_preload_of_an_empty_head_neither_raises_nor_hangs() -> None:
    from cytorelease.hook.identify import preload_reader

    thread = preload_reader(b"")  # an empty file: no kind to guess, the export readers load
    thread.join(timeout=60)
    assert not thread.is_alive()
