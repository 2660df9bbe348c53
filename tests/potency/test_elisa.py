"""ELISA analysis: working range, flags, acceptance, measurements, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.potency.elisa import analyse_elisa
from cytorelease.synth.elisa_plate import write_elisa_plate
from tests.conftest import shared_path
from tests.potency.conftest import edit_csv_cells

ASSAY = "potency-ifng-elisa"


def _measurement(result, attribute):  # type: ignore[no-untyped-def]
    return next(m for m in result.measurements if m.attribute == attribute)


def test_example_plate_passes_and_carries_provenance(example_plate: Path) -> None:
    from cytorelease.provenance import file_sha256

    result = analyse_elisa(example_plate, ASSAY)
    assert result.passed, result.checks
    assert [c.name for c in result.checks] == [
        "numeric_readings",
        "curve_converged",
        "standard_recovery",
        "r_squared",
        "standard_replicate_cv",
    ]
    assert (result.lloq, result.uloq) == (15.625, 1000.0)
    ifng = _measurement(result, "potency.ifng_pg_ml")
    assert ifng.unit == "pg/mL" and ifng.inputs == (file_sha256(example_plate),)
    assert ifng.method is not None and ifng.method.id == ASSAY and ifng.method.version == "1.0"
    assert ifng.method.sha256 == result.assay.sha256 and len(ifng.method.sha256) == 64
    # dilution applied: the supernatant value is 5x the in-well back-calculation
    positive = result.samples[0]
    assert positive.dilution == 5.0
    in_well, _ = result.fit.inverse(positive.mean_od)
    assert ifng.value == pytest.approx(in_well * 5.0)


def test_samples_outside_the_working_range_are_flagged_never_extrapolated(tmp_path: Path) -> None:
    write_elisa_plate(tmp_path, seed=3, ifng_truth_pg_ml=40000.0, negative_truth_pg_ml=1.0)
    result = analyse_elisa(tmp_path / "elisa_ifng.csv", ASSAY)
    positive, negative = result.samples[0], result.samples[1]
    assert positive.flag == "> ULOQ" and positive.concentration is None
    assert positive.reported == f"> {result.uloq * 5:.1f}"
    assert negative.flag == "< LLOQ" and negative.reported == f"< {result.lloq:.1f}"
    ifng = _measurement(result, "potency.ifng_pg_ml")
    assert ifng.value is None and "> 5000.0" in ifng.details["reason"]
    fold = _measurement(result, "potency.ifng_fold_over_negative")
    assert fold.value is None


def test_negative_below_lloq_gives_a_lower_bound_fold(tmp_path: Path) -> None:
    write_elisa_plate(tmp_path, seed=4, ifng_truth_pg_ml=1500.0, negative_truth_pg_ml=2.0)
    result = analyse_elisa(tmp_path / "elisa_ifng.csv", ASSAY)
    fold = _measurement(result, "potency.ifng_fold_over_negative")
    ifng = _measurement(result, "potency.ifng_pg_ml")
    assert fold.details["lower_bound"] is True
    assert fold.value == pytest.approx(ifng.value / result.lloq)


def test_non_numeric_od_in_an_assay_well_is_a_named_acceptance_failure(
    example_plate: Path,
) -> None:
    edit_csv_cells(example_plate, {"A1": "OVRFLW", "A4": "MISSED", "F9": "OVRFLW"})
    result = analyse_elisa(example_plate, ASSAY)
    check = next(c for c in result.checks if c.name == "numeric_readings")
    assert not check.passed and not result.passed
    assert check.detail == "non-numeric readings excluded: A1 (OVRFLW), A4 (MISSED)"
    assert result.standards[0].wells == ("A1", "A2") and result.fit.n_points == 15
    ifng = _measurement(result, "potency.ifng_pg_ml")
    assert ifng.value is None and ifng.details["reason"] == (
        "assay acceptance failed: numeric_readings"
    )


def test_plate_missing_assay_wells_does_not_match_the_layout(example_plate: Path) -> None:
    edit_csv_cells(example_plate, {"B3": "", "B4": "", "C5": ""})
    with pytest.raises(
        InputError,
        match=r"does not match the layout .* 3 assay wells hold no reading \(B3, B4, C5\)",
    ):
        analyse_elisa(example_plate, ASSAY)


def test_384_well_plate_against_a_96_well_assay(tmp_path: Path) -> None:
    lines = ["," + ",".join(str(c) for c in range(1, 25))]
    lines += [chr(65 + r) + "," + ",".join("0.5" for _ in range(24)) for r in range(16)]
    path = tmp_path / "p384.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(
        InputError, match="is a 384-well plate but assay potency-ifng-elisa lays out 96"
    ):
        analyse_elisa(path, ASSAY)


def test_curve_that_does_not_converge_reports_no_numbers(example_plate: Path) -> None:
    """Flat standards (a plate read without substrate, say): no sigmoid, so no numbers."""
    flat = {
        f"{row}{column}": f"{1.0 + 0.001 * (i % 3):.4f}"
        for i, (row, column) in enumerate((r, c) for r in "ABCDEFGH" for c in (1, 2))
    }
    edit_csv_cells(example_plate, flat)
    result = analyse_elisa(example_plate, ASSAY)
    assert [(c.name, c.passed) for c in result.checks] == [
        ("numeric_readings", True),
        ("curve_converged", False),
    ]
    assert "did not converge" in result.checks[1].detail
    assert all(s.concentration is None and s.flag == "no result" for s in result.samples)
    assert all(s.back_calculated is None for s in result.standards)
    document = result.to_dict()
    assert document["curve"]["params"] is None and document["curve"]["r_squared"] is None
    assert all(m.value is None for m in result.measurements)
    assert "curve_converged" in result.measurements[0].details["reason"]


def test_real_gen5_export_with_overflow_fails_named_checks() -> None:
    """A Gen5 export of a near-flat field with OVRFLW cells, read against the IFN-gamma layout:
    the overflowing assay wells and the poor fit are named, and nothing is reported."""
    result = analyse_elisa(
        shared_path("plate", "240411_172731_BNCH2345883_abs450_96well_non_numeric_values.txt"),
        ASSAY,
    )
    failed = {c.name: c.detail for c in result.checks if not c.passed}
    assert failed["numeric_readings"] == (
        "non-numeric readings excluded: G2 (OVRFLW), D5 (OVRFLW), H1 (OVRFLW)"
    )
    assert "r_squared" in failed or "curve_converged" in failed
    assert all(m.value is None for m in result.measurements)


def _from_export_assay(tmp_path: Path) -> Path:
    """An assay at 450 nm taking its layout from the export, SPL1 its antigen-positive sample."""
    assay = tmp_path / "from-export.yaml"
    assay.write_text(
        "schema: cytorelease.assay/1\nid: smp-from-export\nversion: '1.0'\n"
        "kind: potency-elisa\ntitle: t\nanalyte: IFN-gamma\nread: {wavelength_nm: 450}\n"
        "layout: from-export\nsamples:\n  - {name: SPL1, role: antigen-positive}\n"
        "curve: {model: 4PL}\n",
        encoding="utf-8",
    )
    return assay


def test_several_plates_need_a_plate_name(tmp_path: Path) -> None:
    """The real SoftMax Pro export holds two plates read at 450 nm. Its groups lay out its own
    standards (320 ng/mL down), so it is analysed with an assay that takes that layout; against
    the bundled assay (1000 pg/mL down) it is refused whatever the plate
    (tests/potency/test_softmax_layout.py)."""
    path = shared_path("plate", "MD_SMP_absorbance_endpoint_example01.txt")
    assay = _from_export_assay(tmp_path)
    with pytest.raises(InputError, match="--plate"):
        analyse_elisa(path, assay)
    result = analyse_elisa(path, assay, plate="Plate01")
    assert result.reading.plate == "Plate01"
    assert [s.nominal for s in result.standards][:2] == [320.0, 160.0]


def test_wavelength_the_assay_asks_for_must_be_in_the_file(tmp_path: Path) -> None:
    """The real partial-plate export read 260, 280 and 340 nm. Its groups lay out their own
    standards (1 and 0.5 in A2, B2): the bundled assay is refused on the layout first, an assay
    taking the export's layout on the wavelength."""
    path = shared_path("plate", "MD_SMP_absorbance_endpoint_partial_plate_example01.txt")
    with pytest.raises(InputError, match="layout: well A1 is empty in the export, standard S1"):
        analyse_elisa(path, ASSAY)
    with pytest.raises(InputError, match="no reading matches 450 nm"):
        analyse_elisa(path, _from_export_assay(tmp_path))


def test_a_grid_without_a_wavelength_is_taken_as_the_assays_and_says_so(
    example_plate: Path, tmp_path: Path
) -> None:
    """A bare grid does not state its wavelength: it is accepted as the one the assay reads,
    and the result carries a note saying the wavelength was assumed, not read."""
    lines = example_plate.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("Wavelength,450") for line in lines)
    bare = tmp_path / "bare.csv"
    bare.write_text(
        "\n".join(line for line in lines if not line.startswith(("Wavelength", "450 nm"))) + "\n",
        encoding="utf-8",
    )
    stated = analyse_elisa(example_plate, ASSAY)
    assumed = analyse_elisa(bare, ASSAY)
    assert stated.notes == () and stated.to_dict()["notes"] == []
    (note,) = assumed.notes
    assert "does not state the wavelength" in note and "taken as the assay's 450 nm" in note
    assert _measurement(assumed, "potency.ifng_pg_ml").value == (
        _measurement(stated, "potency.ifng_pg_ml").value
    )
