"""Realised fractions from per-event labels, on hand-counted examples."""

from __future__ import annotations

import numpy as np
import pytest

from cytorelease.synth import Population, realised_measurements


def _labels(counts: dict[Population, int]) -> np.ndarray:
    return np.concatenate([np.full(n, p, dtype=np.uint8) for p, n in counts.items()])


def test_definitions_on_counted_labels() -> None:
    labels = _labels(
        {
            Population.DEBRIS: 50,
            Population.DOUBLET: 20,
            Population.CD45_NEGATIVE: 10,
            Population.DEAD: 100,
            Population.MONOCYTE: 20,
            Population.B_CELL: 9,
            Population.NK_OTHER: 171,
            Population.T_CD4: 300,
            Population.T_CD4_CAR: 100,
            Population.T_CD8: 150,
            Population.T_CD8_CAR: 50,
            Population.T_DN: 75,
            Population.T_DN_CAR: 25,
        }
    )
    result = realised_measurements(labels, np.zeros(labels.size, dtype=bool))
    m = result["measurements"]
    # CD45+ singlet cells: 100 dead + 900 viable (20 + 9 + 171 + 700 T).
    assert m["flow.viability_pct_of_cd45"] == pytest.approx(90.0)
    assert m["flow.cd3_pct_of_viable_cd45"] == pytest.approx(700 / 900 * 100)
    assert m["flow.car_pct_of_viable_cd3"] == pytest.approx(25.0)
    assert m["flow.cd4_cd8_ratio"] == pytest.approx(2.0)
    assert m["flow.cd4_pct_of_cd3"] == pytest.approx(400 / 700 * 100)
    assert m["flow.cd8_pct_of_cd3"] == pytest.approx(200 / 700 * 100)
    assert m["flow.cd19_pct_of_viable"] == pytest.approx(1.0)
    assert m["flow.acquisition_qc_removed_pct"] == 0.0
    assert result["counts"]["cd45_singlet_cells"] == 1000
    assert result["counts"]["viable_cd3"] == 700


def test_events_in_the_qc_segment_are_left_out() -> None:
    labels = _labels({Population.DEAD: 10, Population.T_CD4: 90, Population.T_CD4_CAR: 100})
    qc = np.zeros(labels.size, dtype=bool)
    qc[100:] = True  # every CAR+ cell sits in the clog segment
    m = realised_measurements(labels, qc)["measurements"]
    assert m["flow.car_pct_of_viable_cd3"] == 0.0
    assert m["flow.viability_pct_of_cd45"] == pytest.approx(90.0)
    assert m["flow.acquisition_qc_removed_pct"] == pytest.approx(50.0)


def test_undefined_fractions_are_none() -> None:
    labels = _labels({Population.DEBRIS: 5, Population.B_CELL: 5})
    m = realised_measurements(labels, np.zeros(labels.size, dtype=bool))["measurements"]
    assert m["flow.car_pct_of_viable_cd3"] is None
    assert m["flow.cd4_cd8_ratio"] is None
    assert m["flow.cd19_pct_of_viable"] == 100.0
