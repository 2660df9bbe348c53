"""The generator's ELISA plate: the analysis recovers the concentrations it was written with."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.potency.elisa import analyse_elisa
from cytorelease.potency.readers import PlateFormat, read_plate
from cytorelease.synth.elisa_plate import write_elisa_plate


def test_computed_ifng_matches_the_truth(tmp_path: Path) -> None:
    """Ten plates (3% OD noise): every value within 15% of the truth, and the 95% CIs hold
    the truth on at least 8 of the 10."""
    covered = 0
    for seed in range(10):
        truth = write_elisa_plate(
            tmp_path / str(seed), seed=seed, ifng_truth_pg_ml=1850.0, negative_truth_pg_ml=60.0
        )
        path = tmp_path / str(seed) / truth["file"]
        assert read_plate(path).format is PlateFormat.GRID
        result = analyse_elisa(path, truth["assay"])
        assert result.passed, result.checks
        values = {m.attribute: m for m in result.measurements}
        ifng = values["potency.ifng_pg_ml"]
        assert ifng.value == pytest.approx(truth["ifng_pg_ml"], rel=0.15)
        low, high = ifng.details["ci95"]
        covered += low < truth["ifng_pg_ml"] < high
        fold = values["potency.ifng_fold_over_negative"]
        assert fold.value == pytest.approx(truth["ifng_fold_over_negative"], rel=0.3)
    assert covered >= 8


def test_truth_record_and_determinism(tmp_path: Path) -> None:
    first = write_elisa_plate(tmp_path / "a", seed=9, ifng_truth_pg_ml=800.0)
    second = write_elisa_plate(tmp_path / "b", seed=9, ifng_truth_pg_ml=800.0)
    assert first == second
    assert (tmp_path / "a" / "elisa_ifng.csv").read_bytes() == (
        tmp_path / "b" / "elisa_ifng.csv"
    ).read_bytes()
    assert first["samples"]["CAR-T + CD19+ targets"] == {
        "role": "antigen-positive",
        "pg_ml": 800.0,
        "dilution": 5.0,
    }
    assert first["ifng_fold_over_negative"] == pytest.approx(800.0 / 40.0)
