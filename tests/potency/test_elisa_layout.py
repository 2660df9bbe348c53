"""A plate export's own layout against the assay's: a contradiction is refused, never fitted."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.potency.elisa import analyse_elisa
from cytorelease.potency.readers import read_plate
from cytorelease.synth.elisa_plate import write_elisa_plate
from tests.conftest import shared_path
from tests.potency.gen5_build import REAL_GEN5, bundled_assay_layout, write_gen5

ASSAY = "potency-ifng-elisa"


def _ods(tmp_path: Path) -> dict[str, float]:
    """ODs of the bundled assay's plate drawn from a known 4PL (the example lot's plate)."""
    write_elisa_plate(tmp_path, seed=11, ifng_truth_pg_ml=1850.0)
    return dict(read_plate(tmp_path / "elisa_ifng.csv").select(wavelength_nm=450).values)


def test_real_gen5_layout_contradicts_the_bundled_assay() -> None:
    """The real Gen5 3.12 export lays out STD1..STD7 three-fold from 2000 in columns 1-3 and
    samples SPL1:1 ... elsewhere: against the IFN-gamma assay (two-fold from 1000, samples in
    columns 3-5) it is refused before any curve is fitted, naming the first wells."""
    with pytest.raises(InputError) as caught:
        analyse_elisa(shared_path(*REAL_GEN5), ASSAY)
    message = str(caught.value)
    assert "layout: well A1 is STD1 (conc 2000) in the export, standard S1 (conc 1000) in " in (
        message
    )
    assert "and 22 more wells" in message


def test_a_gen5_layout_that_matches_the_assay_is_analysed(tmp_path: Path) -> None:
    plate = write_gen5(tmp_path / "gen5.txt", bundled_assay_layout(), _ods(tmp_path))
    result = analyse_elisa(plate, ASSAY)
    assert result.passed, result.checks
    positive = next(s for s in result.samples if s.role.value == "antigen-positive")
    assert positive.concentration is not None
    assert abs(positive.concentration / 1850.0 - 1) < 0.1


def test_blanks_relabelled_as_a_standard_are_refused(tmp_path: Path) -> None:
    """H1/H2 written as an eighth standard level in the export, blanks in the assay."""
    layout = bundled_assay_layout()
    layout |= {"H1": ("STD8", 7.8125), "H2": ("STD8", 7.8125)}
    plate = write_gen5(tmp_path / "gen5.txt", layout, _ods(tmp_path))
    with pytest.raises(InputError, match=r"well H1 is STD8 \(conc 7.8125\) in the export, a blank"):
        analyse_elisa(plate, ASSAY)


def test_standards_two_fold_from_2000_are_refused(tmp_path: Path) -> None:
    """The plate's standards start at 2000 (the reported 4-5x too high samples of issue 12)."""
    layout = bundled_assay_layout()
    for well, (well_id, conc) in list(layout.items()):
        if well_id.startswith("STD") and conc is not None:
            layout[well] = (well_id, conc * 2)
    plate = write_gen5(tmp_path / "gen5.txt", layout, _ods(tmp_path))
    with pytest.raises(InputError) as caught:
        analyse_elisa(plate, ASSAY)
    message = str(caught.value)
    assert message.startswith(f"{plate}: layout: well A1 is STD1 (conc 2000) in the export")
    assert "and 10 more wells" in message  # 14 standard wells, 4 named


def test_a_sample_at_another_dilution_and_an_empty_well_are_refused(tmp_path: Path) -> None:
    layout = bundled_assay_layout()
    layout["A3"] = ("SPL1:1", 0.5)  # assay: dilution 5
    del layout["B3"]
    plate = write_gen5(tmp_path / "gen5.txt", layout, _ods(tmp_path))
    with pytest.raises(InputError) as caught:
        analyse_elisa(plate, ASSAY)
    message = str(caught.value)
    assert "well A3 is SPL1:1 (dilution 2) in the export, sample 'CAR-T + CD19+ targets' " in (
        message
    )
    assert "well B3 is empty in the export" in message


def test_mixed_fraction_and_fold_dilutions_are_refused(tmp_path: Path) -> None:
    layout = bundled_assay_layout()
    layout["A3"] = ("SPL1:1", 5.0)  # fold; the others are Gen5 fractions (0.2)
    layout["B3"] = ("SPL2:1", 0.5)
    plate = write_gen5(tmp_path / "gen5.txt", layout, _ods(tmp_path))
    with pytest.raises(InputError, match="both as fractions"):
        analyse_elisa(plate, ASSAY)


def test_a_zero_standard_is_a_blank(tmp_path: Path) -> None:
    """Gen5 STD8 at Conc 0 in H1/H2 is the zero standard: where the assay has its blanks it
    agrees, and where the assay has a standard it is named with its concentration."""
    from cytorelease.potency.layout_check import LayoutRole, export_layout

    layout = bundled_assay_layout()
    layout |= {"H1": ("STD8", 0.0), "H2": ("STD8", 0.0)}
    plate = write_gen5(tmp_path / "gen5.txt", layout, _ods(tmp_path))
    assert export_layout(read_plate(plate))["H1"].role is LayoutRole.BLANK
    assert analyse_elisa(plate, ASSAY).passed
    layout |= {"A1": ("STD8", 0.0)}
    plate = write_gen5(tmp_path / "gen5.txt", layout, _ods(tmp_path))
    with pytest.raises(InputError, match=r"well A1 is STD8 \(conc 0\) in the export, standard S1"):
        analyse_elisa(plate, ASSAY)
