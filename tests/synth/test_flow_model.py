"""The generative model of one tube: shapes, determinism, populations where they should be."""

from __future__ import annotations

import numpy as np
import pytest

from cytorelease.errors import InputError
from cytorelease.synth import LotParams, Population, simulate_tube
from cytorelease.synth.panel import CAR_T_CELLS, MARKERS, SPILLOVER, T_CELLS

PARAMS = LotParams(n_events=20_000, fmo_events=10_000)


@pytest.fixture(scope="module")
def tube():  # type: ignore[no-untyped-def]
    return simulate_tube(20_000, seed=11, params=PARAMS)


@pytest.fixture(scope="module")
def fmo():  # type: ignore[no-untyped-def]
    return simulate_tube(20_000, seed=12, params=PARAMS, fmo=True)


def compensated(tube) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Fluorescence columns with the written spillover solved out (true space + noise)."""
    observed = tube.events[:, 3 : 3 + len(MARKERS)].astype(np.float64)
    return np.linalg.solve(tube.spill.matrix.T, observed.T).T


def column(tube, name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    names = [c.label or c.name for c in tube.channels]
    return tube.events[:, names.index(name)].astype(np.float64)


def test_shapes_channels_and_dtypes(tube) -> None:  # type: ignore[no-untyped-def]
    assert tube.events.shape == (20_000, 11)
    assert tube.events.dtype == np.float32
    assert tube.labels.dtype == np.uint8
    assert [c.name for c in tube.channels[:3]] == ["FSC-A", "FSC-H", "SSC-A"]
    assert tube.channels[-1].name == "Time"
    assert [c.label for c in tube.channels[3:-1]] == list(MARKERS)
    assert set(MARKERS) == {"Viability", "CD45", "CD3", "CD4", "CD8", "CAR", "CD19"}
    # Detector names differ from the markers, as on a real cytometer.
    assert all(c.name != c.label for c in tube.channels[3:-1])
    assert tube.spill.channels == tuple(c.name for c in tube.channels[3:-1])
    scatter = tube.events[:, :3]
    assert scatter.min() >= 0.0 and scatter.max() <= 262143.0


def test_same_seed_same_events_different_seed_differs() -> None:
    a = simulate_tube(5_000, seed=3, params=PARAMS)
    b = simulate_tube(5_000, seed=3, params=PARAMS)
    c = simulate_tube(5_000, seed=4, params=PARAMS)
    assert a.events.tobytes() == b.events.tobytes()
    assert np.array_equal(a.labels, b.labels)
    assert a.events.tobytes() != c.events.tobytes()


def test_negatives_spread_around_zero_after_compensation(tube) -> None:  # type: ignore[no-untyped-def]
    comp = compensated(tube)
    live_t = np.isin(tube.labels, list(T_CELLS))
    cd19 = comp[live_t, MARKERS.index("CD19")]
    assert (cd19 < 0).mean() > 0.05  # negative values occur
    assert abs(np.median(cd19)) < 150  # autofluorescence only
    assert np.median(comp[live_t, MARKERS.index("CD3")]) > 8_000


def test_spillover_is_applied_to_the_observed_values(tube) -> None:  # type: ignore[no-untyped-def]
    # CD45 (FITC) bright cells without CAR raise the PE detector by ~22 % of their FITC signal.
    plain = np.isin(tube.labels, [Population.T_CD4, Population.T_CD8])
    fitc = column(tube, "CD45")[plain]
    pe = column(tube, "CAR")[plain]
    slope = np.median(pe / fitc)
    assert slope == pytest.approx(SPILLOVER[1, 2], abs=0.03)


def test_doublets_break_the_fsc_area_height_relation(tube) -> None:  # type: ignore[no-untyped-def]
    ratio = column(tube, "FSC-H") / np.maximum(column(tube, "FSC-A"), 1.0)
    cells = np.isin(tube.labels, list(T_CELLS))
    doublets = tube.labels == Population.DOUBLET
    assert np.median(ratio[cells]) == pytest.approx(0.86, abs=0.02)
    assert np.median(ratio[doublets]) < 0.62
    assert np.quantile(ratio[doublets], 0.99) < np.quantile(ratio[cells], 0.01)
    fsc = column(tube, "FSC-A")
    assert np.median(fsc[doublets]) > 1.7 * np.median(fsc[cells])


def test_debris_and_dead_cells(tube) -> None:  # type: ignore[no-untyped-def]
    fsc = column(tube, "FSC-A")
    comp = compensated(tube)
    viability = comp[:, MARKERS.index("Viability")]
    debris = tube.labels == Population.DEBRIS
    dead = tube.labels == Population.DEAD
    live_t = np.isin(tube.labels, list(T_CELLS))
    assert np.quantile(fsc[debris], 0.95) < np.quantile(fsc[live_t], 0.01)
    assert np.median(fsc[live_t]) > np.median(fsc[dead]) > 2 * np.median(fsc[debris])
    assert np.quantile(viability[dead], 0.01) > 10 * np.quantile(viability[live_t], 0.99)
    cd45 = comp[:, MARKERS.index("CD45")]
    assert np.quantile(cd45[tube.labels == Population.CD45_NEGATIVE], 0.99) < 1_000
    assert np.quantile(cd45[dead], 0.01) > 2_000


def test_lineage_markers(tube) -> None:  # type: ignore[no-untyped-def]
    comp = compensated(tube)

    def median(population: Population, marker: str) -> float:
        return float(np.median(comp[tube.labels == population, MARKERS.index(marker)]))

    assert median(Population.B_CELL, "CD19") > 5_000 > 200 > median(Population.T_CD4, "CD19")
    assert median(Population.B_CELL, "CD3") < 300
    assert median(Population.T_CD4, "CD4") > 4_000 and median(Population.T_CD4, "CD8") < 300
    assert median(Population.T_CD8, "CD8") > 6_000 and median(Population.T_CD8, "CD4") < 300
    assert median(Population.T_DN, "CD4") < 300 and median(Population.T_DN, "CD8") < 300
    ssc = column(tube, "SSC-A")
    assert np.median(ssc[tube.labels == Population.MONOCYTE]) > 2 * np.median(
        ssc[tube.labels == Population.T_CD4]
    )


def test_fmo_threshold_recovers_the_car_fraction(tube, fmo) -> None:  # type: ignore[no-untyped-def]
    car = MARKERS.index("CAR")
    fmo_t = np.isin(fmo.labels, list(T_CELLS)) & ~fmo.qc_segment
    threshold = np.percentile(compensated(fmo)[fmo_t, car], 99.5)
    t_cells = np.isin(tube.labels, list(T_CELLS)) & ~tube.qc_segment
    measured = 100 * np.mean(compensated(tube)[t_cells, car] > threshold)
    truth = 100 * np.mean(np.isin(tube.labels[t_cells], list(CAR_T_CELLS)))
    assert measured - truth == pytest.approx(0.005 * (100 - truth), abs=0.35)
    # The FMO tube carries no CAR staining: CAR-expressing cells look like the rest there.
    fmo_car = np.isin(fmo.labels, list(CAR_T_CELLS))
    assert np.quantile(compensated(fmo)[fmo_car, car], 0.99) < 1_000


def test_time_is_sorted_ticks_and_the_clog_window_is_flagged(tube) -> None:  # type: ignore[no-untyped-def]
    ticks = column(tube, "Time")
    assert np.all(np.diff(ticks) >= 0)
    assert np.array_equal(ticks, np.floor(ticks))
    start, end = tube.qc_window_s
    seconds = (ticks + 0.5) * tube.timestep_s
    assert np.array_equal(tube.qc_segment, (seconds >= start) & (seconds < end))
    # Burst: the event rate inside the window is abnormal compared with outside.
    rate_in = tube.qc_segment.sum() / (end - start)
    rate_out = (~tube.qc_segment).sum() / (tube.duration_s - (end - start))
    assert rate_in > 1.2 * rate_out
    assert 0.02 < tube.qc_segment.mean() < 0.12


def test_no_clog_means_no_flagged_events() -> None:
    tube = simulate_tube(5_000, seed=5, params=LotParams(clog=False))
    assert tube.qc_window_s is None
    assert not tube.qc_segment.any()


def test_a_tube_needs_events() -> None:
    with pytest.raises(InputError, match="a tube needs at least one event, got 0"):
        simulate_tube(0, seed=1, params=PARAMS)
