"""Dilution series and ``layout: from-export``: one undiluted concentration per sample.

Plates are Gen5 text exports built as the real Gen5 3.12 export is (tests/potency/gen5_build.py):
STD1..STD7 two-fold from 1000 with their Conc, BLK, and a sample SPL1:1..SPL1:4 with Gen5's Dil
1, 0.5, 0.25, 0.125. ODs come from the synthetic plate's 4PL with 3 % proportional noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import InputError
from cytorelease.potency.curve import logistic
from cytorelease.potency.elisa import analyse_elisa
from cytorelease.synth.elisa_plate import TRUE_CURVE
from tests.conftest import shared_path
from tests.potency.gen5_build import REAL_GEN5, write_gen5

FROM_EXPORT = """\
schema: cytorelease.assay/1
id: elisa-from-export
version: "1.0"
kind: potency-elisa
title: IFN-gamma, plate laid out in Gen5
analyte: IFN-gamma
read: {{wavelength_nm: {wavelength}}}
layout: from-export
samples:
  - {{name: SPL1, role: antigen-positive}}
curve: {{model: 4PL, weighting: 1/y^2}}
"""
STANDARDS = [1000.0 / 2**n for n in range(7)]
FRACTIONS = [1.0, 0.5, 0.25, 0.125]  # Gen5's Dil of SPL1:1 ... SPL1:4


def _assay(tmp_path: Path, wavelength: int = 450) -> Path:
    path = tmp_path / "elisa-from-export.yaml"
    path.write_text(FROM_EXPORT.format(wavelength=wavelength), encoding="utf-8")
    return path


def _od(concentration: float, rng: np.random.Generator) -> float:
    truth = float(logistic([concentration], *TRUE_CURVE.values())[0])
    return truth * (1 + 0.03 * rng.standard_normal())


def _plate(tmp_path: Path, in_well: list[float], seed: int = 5) -> Path:
    """STD1..7 in columns 1-2, BLK H1/H2, SPL1:k in row A-D columns 4-6 at ``in_well[k]``."""
    rng = np.random.default_rng(seed)
    layout: dict[str, tuple[str, float | None]] = {}
    ods: dict[str, float] = {}
    for n, conc in enumerate(STANDARDS):
        for column in (1, 2):
            layout[f"{'ABCDEFG'[n]}{column}"] = (f"STD{n + 1}", conc)
            ods[f"{'ABCDEFG'[n]}{column}"] = _od(conc, rng)
    for well in ("H1", "H2"):
        layout[well] = ("BLK", None)
        ods[well] = _od(0.0, rng)
    for step, (fraction, conc) in enumerate(zip(FRACTIONS, in_well, strict=True)):
        for column in (4, 5, 6):
            well = f"{'ABCD'[step]}{column}"
            layout[well] = (f"SPL1:{step + 1}", fraction)
            ods[well] = _od(conc, rng)
    return write_gen5(tmp_path / "gen5.txt", layout, ods)


def _spl1(result):  # type: ignore[no-untyped-def]
    return next(s for s in result.samples if s.name == "SPL1")


def test_real_gen5_export_from_its_own_layout(tmp_path: Path) -> None:
    """The real export's layout read as the plate: 7 standards three-fold from 2000, blanks
    H1-H3, SPL1-SPL6 each at Dil 1, 0.5, 0.25, 0.125 (folds 1-8). Its standards are linear
    (a mock BCA read at 630 nm, Gen5 fitted Y=A*X+B): a 4PL cannot be fitted, and that is
    said, with no value reported."""
    result = analyse_elisa(shared_path(*REAL_GEN5), _assay(tmp_path, 630))
    assert [(s.name, s.nominal) for s in result.standards] == [
        ("STD1", 2000),
        ("STD2", 666.67),
        ("STD3", 222.22),
        ("STD4", 74.074),
        ("STD5", 24.691),
        ("STD6", 8.2305),
        ("STD7", 2.7435),
    ]
    assert result.standards[0].wells == ("A1", "A2", "A3")
    assert [s.name for s in result.samples] == [f"SPL{n}" for n in range(1, 7)]
    assert [d.dilution for d in _spl1(result).dilutions] == [1, 2, 4, 8]
    assert _spl1(result).dilutions[1].wells == ("B4", "B5", "B6")
    assert result.blank_ods == (0.001, 0.001, 0.001)
    assert not result.passed and "curve_converged" in result.measurements[0].details["reason"]


def test_a_series_with_one_dilution_above_the_range(tmp_path: Path) -> None:
    """1500 pg/mL undiluted: 1500 in the well at Dil 1 is above the top standard; 750, 375 and
    187.5 are inside and their corrected values are averaged."""
    truth = 1500.0
    plate = _plate(tmp_path, [truth * f for f in FRACTIONS])
    result = analyse_elisa(plate, _assay(tmp_path))
    assert result.passed, result.checks
    spl1 = _spl1(result)
    steps = spl1.dilutions
    assert [d.in_range for d in steps] == [False, True, True, True]
    assert steps[0].concentration is None and steps[0].flag == "> ULOQ"
    corrected = [d.concentration for d in steps[1:]]
    assert spl1.concentration == pytest.approx(np.mean(corrected))
    assert abs(spl1.concentration / truth - 1) < 0.1
    assert spl1.cv_pct == pytest.approx(100 * np.std(corrected, ddof=1) / np.mean(corrected))
    assert spl1.flags == ()
    entry = result.to_dict()["samples"][0]
    assert entry["name"] == "SPL1" and entry["reported"] == spl1.reported
    assert [d["dilution"] for d in entry["dilutions"]] == [1, 2, 4, 8]
    assert {"dilution", "concentration", "in_range"} <= set(entry["dilutions"][0])
    measurement = result.measurements[0]
    assert measurement.value == spl1.concentration


def test_dilutions_that_disagree_raise_dilution_linearity(tmp_path: Path) -> None:
    """A matrix effect: the middle in-range dilution (Dil 0.25) reads 1.8x what the others give."""
    truth = 1500.0
    in_well = [truth * f for f in FRACTIONS]
    in_well[2] *= 1.8
    result = analyse_elisa(_plate(tmp_path, in_well), _assay(tmp_path))
    spl1 = _spl1(result)
    assert spl1.cv_pct is not None and spl1.cv_pct > 20
    assert spl1.flags == ("dilution_linearity",)
    assert any("CV" in n and "above 20%" in n for n in spl1.notes)
    assert result.measurements[0].details["flags"] == ["dilution_linearity"]


def test_no_dilution_in_range_is_a_bound(tmp_path: Path) -> None:
    low = analyse_elisa(_plate(tmp_path, [8.0 * f for f in FRACTIONS]), _assay(tmp_path))
    spl1 = _spl1(low)
    assert low.lloq is not None and spl1.concentration is None and spl1.flag == "< LLOQ"
    assert spl1.reported == f"< {low.lloq * 1:.1f}"  # the least diluted: the tightest bound
    high = analyse_elisa(_plate(tmp_path, [40000.0 * f for f in FRACTIONS]), _assay(tmp_path))
    spl1 = _spl1(high)
    assert high.uloq is not None and spl1.flag == "> ULOQ"
    assert spl1.reported == f"> {high.uloq * 8:.1f}"
    assert high.measurements[0].value is None


def test_from_export_needs_an_export_with_a_layout(tmp_path: Path) -> None:
    plate = shared_path("plate", "240411_172731_BNCH2345883_abs450_96well_non_numeric_values.txt")
    with pytest.raises(InputError, match="the export carries no layout"):
        analyse_elisa(plate, _assay(tmp_path))


def test_from_export_refuses_a_sample_the_export_does_not_hold(tmp_path: Path) -> None:
    assay = _assay(tmp_path)
    assay.write_text(assay.read_text().replace("name: SPL1", "name: SPL9"), encoding="utf-8")
    plate = _plate(tmp_path, [1500.0 * f for f in FRACTIONS])
    with pytest.raises(InputError, match=r"names sample\(s\) SPL9 .*\(it holds SPL1\)"):
        analyse_elisa(plate, assay)


def _assay_with_dilutions(tmp_path: Path, folds: list[float]) -> Path:
    """The same plate laid out by the assay: the sample's ``dilutions`` in rows A-D."""
    standards = "\n".join(
        f"  - {{name: S{n + 1}, concentration: {c}, wells: [{'ABCDEFG'[n]}1, {'ABCDEFG'[n]}2]}}"
        for n, c in enumerate(STANDARDS)
    )
    steps = "\n".join(
        f"      - {{dilution: {f:g}, wells: [{r}4, {r}5, {r}6]}}"
        for r, f in zip("ABCD", folds, strict=True)
    )
    text = FROM_EXPORT.format(wavelength=450).replace("layout: from-export\n", "")
    text = text.replace(
        "samples:\n  - {name: SPL1, role: antigen-positive}\n",
        f"standards:\n{standards}\nblanks: {{wells: [H1, H2]}}\nsamples:\n"
        f"  - name: supernatant\n    role: antigen-positive\n    dilutions:\n{steps}\n",
    )
    path = tmp_path / "elisa-dilutions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_assay_dilutions_agree_with_the_export_and_give_the_same_value(tmp_path: Path) -> None:
    plate = _plate(tmp_path, [1500.0 * f for f in FRACTIONS])
    from_export = _spl1(analyse_elisa(plate, _assay(tmp_path)))
    result = analyse_elisa(plate, _assay_with_dilutions(tmp_path, [1, 2, 4, 8]))
    sample = result.samples[0]
    assert sample.name == "supernatant"
    assert sample.concentration == pytest.approx(from_export.concentration)
    assert [d.in_range for d in sample.dilutions] == [False, True, True, True]


def test_assay_dilution_contradicting_the_exports_dil_is_refused(tmp_path: Path) -> None:
    plate = _plate(tmp_path, [1500.0 * f for f in FRACTIONS])
    with pytest.raises(InputError, match=r"well B4 is SPL1:2 \(dilution 2\) in the export"):
        analyse_elisa(plate, _assay_with_dilutions(tmp_path, [1, 3, 4, 8]))


def test_the_release_elisa_analysis_carries_dilution_linearity(tmp_path: Path) -> None:
    """The lot release's ELISA analysis (lot/analyses.run_elisa) runs the same analysis: the
    flagged dilution series is a flag of its outcome (the CoA lists an analysis's flags)."""
    from cytorelease.lot.analyses import run_elisa
    from cytorelease.lot.manifest import LotManifest

    in_well = [1500.0 * f for f in FRACTIONS]
    in_well[2] *= 1.8
    plate = _plate(tmp_path, in_well)
    manifest = LotManifest.model_validate(
        {
            "schema": "cytorelease.lot/1",
            "lot_id": "LOT-0001",
            "product": "CAR-T",
            "chain_of_identity": "COI-1",
            "manufacturing_date": "2026-01-01",
            "spec": "spec",
            "inputs": {"potency": {"elisa": {"path": plate.name, "assay": str(_assay(tmp_path))}}},
        }
    )
    outcome = run_elisa(tmp_path, manifest)
    assert any(f.startswith("SPL1: dilution_linearity (") for f in outcome.flags), outcome.flags
    samples = outcome.summary["samples"]
    assert samples[0]["flags"] == ["dilution_linearity"]
    assert outcome.measurements[0].details["flags"] == ["dilution_linearity"]
