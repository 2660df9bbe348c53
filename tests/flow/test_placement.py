"""Data-driven gate placement on synthetic arrays whose true split is known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.flow.gating.placement import control_percentile, density_valley, kde_on_grid
from cytorelease.flow.gating.placement_scatter import scatter_population
from cytorelease.flow.gating.placement_singlet import singlet_band
from cytorelease.flow.qc import time_qc


def _two_modes(rng: np.random.Generator, n: int, minor: float, gap: float) -> np.ndarray:
    k = int(n * minor)
    return np.concatenate([rng.normal(0.2, 0.03, n - k), rng.normal(0.2 + gap, 0.04, k)])


def test_kde_on_grid_integrates_to_one_and_matches_a_normal() -> None:
    values = np.random.default_rng(0).normal(0.5, 0.1, 200_000)
    grid, density = kde_on_grid(values, 0.0, 1.0, 0.01)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)
    sd = np.hypot(0.1, 0.01)  # a Gaussian kernel adds its variance
    expected = np.exp(-0.5 * ((grid - 0.5) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
    assert np.max(np.abs(density - expected)) < 0.05 * expected.max()


@pytest.mark.parametrize(("minor", "gap"), [(0.5, 0.4), (0.1, 0.3), (0.01, 0.4), (0.006, 0.45)])
def test_density_valley_splits_two_modes(minor: float, gap: float) -> None:
    values = _two_modes(np.random.default_rng(1), 50_000, minor, gap)
    found = density_valley(values)
    assert found.threshold is not None
    # the split is between the modes and misclassifies almost nothing
    assert 0.2 + 4 * 0.03 < found.threshold < 0.2 + gap - 3 * 0.04
    above = np.mean(values >= found.threshold)
    assert above == pytest.approx(minor, abs=0.002)
    assert found.modes[0] == pytest.approx(0.2, abs=0.02)
    assert found.modes[1] == pytest.approx(0.2 + gap, abs=0.02)


def test_density_valley_flags_unimodal_data_instead_of_guessing() -> None:
    found = density_valley(np.random.default_rng(2).normal(0.4, 0.05, 50_000))
    assert found.threshold is None
    assert found.reason == "unimodal"
    assert len(found.modes) == 1


def test_density_valley_flags_overlapping_modes() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(0.40, 0.05, 25_000), rng.normal(0.52, 0.05, 25_000)])
    found = density_valley(values, bandwidth=0.005, min_mode_separation=0.0)
    assert found.threshold is None


def test_density_valley_too_few_events() -> None:
    found = density_valley(np.array([0.1, 0.9]))
    assert found.threshold is None and "too few" in (found.reason or "")


def test_control_percentile() -> None:
    values = np.arange(1001, dtype=np.float64)
    assert control_percentile(values, 99.5) == pytest.approx(995.0)
    assert control_percentile(np.array([np.nan, np.nan]), 99.5) is None


def test_singlet_band_separates_doublets() -> None:
    rng = np.random.default_rng(4)
    n = 40_000
    area = rng.lognormal(np.log(80_000), 0.2, n)
    height = area * 0.86 * np.exp(rng.normal(0, 0.035, n))
    doublet = rng.uniform(size=n) < 0.08
    area[doublet] *= 2.0
    height[doublet] *= 1.12 * 0.5 * 2.0 / 2.0 * 1.0  # H barely grows while A doubles
    band = singlet_band(area, height)
    assert band is not None
    assert band.slope == pytest.approx(0.86, rel=0.02)
    low, high = band.bounds(area)
    kept = (height >= low) & (height <= high)
    assert kept[~doublet].mean() > 0.998
    assert kept[doublet].mean() < 0.01


def test_scatter_population_excludes_debris() -> None:
    rng = np.random.default_rng(5)
    cells = np.column_stack(
        [rng.lognormal(np.log(86_000), 0.13, 20_000), rng.lognormal(np.log(28_000), 0.2, 20_000)]
    )
    dead = np.column_stack(
        [rng.lognormal(np.log(60_000), 0.18, 4_000), rng.lognormal(np.log(34_000), 0.22, 4_000)]
    )
    debris = np.column_stack(
        [rng.lognormal(np.log(11_000), 0.5, 3_000), rng.lognormal(np.log(7_000), 0.55, 3_000)]
    )
    points = np.vstack([cells, dead, debris])
    found = scatter_population(points[:, 0], points[:, 1])
    assert found is not None and len(found.debris_means) >= 1
    from cytorelease.flow.gating._polygon_kernel import points_in_polygon

    inside = points_in_polygon(np.asarray(found.polygon), points[:, 0], points[:, 1])
    assert inside[:20_000].mean() > 0.995
    assert inside[20_000:24_000].mean() > 0.97
    assert inside[24_000:].mean() < 0.03


def test_time_qc_removes_a_clog_and_keeps_a_steady_run() -> None:
    rng = np.random.default_rng(6)
    steady = np.sort(rng.uniform(0, 100, 50_000))
    assert time_qc(steady, segments=100).removed_pct == 0.0
    # a clog (rate x0.1) from 40 to 42 s, then a burst (x3) from 42 to 45 s
    keep = ~((steady >= 40) & (steady < 42)) | (rng.uniform(size=steady.size) < 0.1)
    burst = rng.uniform(42, 45, 3_000)
    clogged = np.sort(np.concatenate([steady[keep], burst]))
    result = time_qc(clogged, segments=200)
    window = (clogged >= 40) & (clogged < 45)
    assert result.removed_pct == pytest.approx(100 * window.mean(), abs=0.6)
    kept = result.keep(clogged)
    assert kept[~window].mean() > 0.99
    assert kept[window].mean() < 0.1
    assert result.intervals[0][0] is None and result.intervals[-1][1] is None


def test_time_qc_detects_signal_drift() -> None:
    rng = np.random.default_rng(7)
    time = np.sort(rng.uniform(0, 100, 40_000))
    signal = rng.normal(1.0, 0.1, time.size)
    signal[(time >= 70) & (time < 75)] *= 0.8
    result = time_qc(time, {"fsc": signal}, segments=100)
    assert result.removed[70:75].all()
    assert result.removed.sum() == 5
    assert result.reasons[0].startswith("fsc drift z=-")


@given(
    st.integers(min_value=200, max_value=5_000),
    st.floats(min_value=0.0, max_value=0.3),
    st.integers(min_value=8, max_value=60),
    st.integers(min_value=0, max_value=2**31),
)
@settings(max_examples=25, deadline=None)
def test_time_qc_keep_matches_the_removed_segments(
    n: int, clog: float, segments: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(0, 50, n))
    # thin out a stretch so some segments may be dropped
    time = time[~((time > 20) & (time < 30) & (rng.uniform(size=n) < clog))]
    result = time_qc(time, segments=segments)
    kept = result.keep(time)
    assert int((~kept).sum()) == result.removed_events
    assert result.removed_events == int(result.counts[result.removed].sum())
    assert 0.0 <= result.removed_pct <= 100.0


@given(
    st.floats(min_value=0.005, max_value=0.5),
    st.floats(min_value=0.25, max_value=0.6),
    st.integers(min_value=0, max_value=2**31),
)
@settings(max_examples=20, deadline=None)
def test_density_valley_threshold_lies_between_its_modes(
    minor: float, gap: float, seed: int
) -> None:
    values = _two_modes(np.random.default_rng(seed), 20_000, minor, gap)
    found = density_valley(values)
    if found.threshold is not None:
        assert found.modes[0] < found.threshold < found.modes[1]


@pytest.mark.parametrize(("rule", "sign"), [("negative", 1), ("positive", -1)])
def test_declared_unimodal_rule_places_a_tail_threshold(rule: str, sign: int) -> None:
    values = np.random.default_rng(8).normal(0.4, 0.05, 50_000)
    found = density_valley(values, unimodal=rule, tail_sd=5)
    assert found.tail_rule
    assert found.threshold == pytest.approx(0.4 + sign * 5 * 0.05, abs=0.01)
    assert f"(taken as the {rule} population)" in (found.reason or "")
    # bimodal data ignore the rule: a real valley wins
    bimodal = _two_modes(np.random.default_rng(9), 50_000, 0.3, 0.4)
    assert not density_valley(bimodal, unimodal=rule).tail_rule


def test_saturation_counts_events_at_each_channels_top_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """10-bit integer data ($PnR 1024): code 1023 is the ceiling; a 12-bit channel's is 4095."""
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
    from cytorelease.flow.qc import saturation

    events = np.array([[1023, 4095], [1022, 4094], [1023, 100], [0, 4095], [5, 4095]], float)
    specs = [ChannelSpec("FL1", "CD3", 1024, 16), ChannelSpec("FL2", None, 4096, 16)]
    sample = read_fcs(write_fcs(tmp_path / "int.fcs", events, specs, datatype="I"))
    fl1, fl2 = saturation(sample, [0, 1])
    assert (fl1.channel, fl1.label, fl1.ceiling, fl1.events) == ("FL1", "CD3", 1023.0, 2)
    assert (fl2.ceiling, fl2.events, fl2.percent) == (4095.0, 3, 60.0)
