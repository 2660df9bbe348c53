"""Relative potency through the ELISA analysis, when the assay defines a reference standard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.potency.curve import logistic
from cytorelease.potency.elisa import analyse_elisa
from tests.potency.conftest import edit_csv_cells

BUNDLED = Path(__file__).resolve().parents[2] / "assays" / "potency-ifng-elisa.yaml"
DOSES = [1000 / 2.0**i for i in range(8)]


def _assay_with_reference(tmp_path: Path) -> Path:
    lines = ["relative_potency:", "  reference:"]
    for row, dose in zip("ABCDEFGH", DOSES, strict=True):
        lines.append(f"    - {{dose: {dose}, wells: [{row}6, {row}7, {row}8]}}")
    lines.append("  test:")
    for row, dose in zip("ABCDEFGH", DOSES, strict=True):
        lines.append(f"    - {{dose: {dose}, wells: [{row}9, {row}10, {row}11]}}")
    path = tmp_path / "potency-ifng-elisa-rp.yaml"
    path.write_text(BUNDLED.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_series(plate: Path, c_ref: float, c_test: float, b_test: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    edits = {}
    for row, dose in zip("ABCDEFGH", DOSES, strict=True):
        for columns, c, b in (((6, 7, 8), c_ref, 1.2), ((9, 10, 11), c_test, b_test)):
            for column in columns:
                od = logistic([dose], 0.08, b, c, 2.6)[0] + rng.normal(0, 0.02)
                edits[f"{row}{column}"] = f"{od:.4f}"
    edit_csv_cells(plate, edits)


def test_parallel_test_article_gets_a_relative_potency(example_plate: Path, tmp_path: Path) -> None:
    _write_series(example_plate, c_ref=100.0, c_test=50.0, b_test=1.2, seed=1)
    result = analyse_elisa(example_plate, _assay_with_reference(tmp_path))
    assert result.relative is not None and result.relative.parallel
    rp = next(m for m in result.measurements if m.attribute == "potency.relative_potency")
    assert rp.unit == "ratio" and rp.value == pytest.approx(2.0, rel=0.1)
    low, high = rp.details["ci"]
    assert low < rp.value < high and high / low < 1.3  # coverage is tested in test_relative


def test_non_parallel_test_article_gets_no_rp(example_plate: Path, tmp_path: Path) -> None:
    _write_series(example_plate, c_ref=100.0, c_test=50.0, b_test=3.0, seed=2)
    result = analyse_elisa(example_plate, _assay_with_reference(tmp_path))
    rp = next(m for m in result.measurements if m.attribute == "potency.relative_potency")
    assert rp.value is None
    assert rp.details["reason"].startswith("no RP: curves not parallel: slope ratio")
    # the run itself (the IFN-gamma standard curve) is unaffected
    assert result.passed


def test_reference_wells_may_not_overlap_the_layout(tmp_path: Path) -> None:
    from cytorelease.errors import AssayError
    from cytorelease.potency.assay import load_potency_assay

    path = _assay_with_reference(tmp_path)
    path.write_text(path.read_text().replace("[A6, A7, A8]", "[A6, A7, A5]"), encoding="utf-8")
    with pytest.raises(
        AssayError, match=r"well A5 is used by both sample CAR-T .* and reference dose 1000"
    ):
        load_potency_assay(path)
