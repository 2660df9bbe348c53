"""Helpers for the potency tests: plates written from the bundled IFN-gamma assay layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.synth.elisa_plate import write_elisa_plate


def edit_csv_cells(path: Path, edits: dict[str, str]) -> None:
    """Replace the text of some wells of a generic grid CSV (``{"A3": "OVRFLW"}``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(",1,2,"))
    for well, text in edits.items():
        row = header + 1 + ord(well[0]) - ord("A")
        cells = lines[row].split(",")
        cells[int(well[1:])] = text
        lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def example_plate(tmp_path: Path) -> Path:
    write_elisa_plate(tmp_path, seed=11, ifng_truth_pg_ml=1850.0)
    return tmp_path / "elisa_ifng.csv"
