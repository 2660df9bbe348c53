"""The compiled kernels of gate placement against the library code they stand in for."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.flow.gating._mixture_kernel import fit_mixture_2d
from cytorelease.flow.gating.placement import kde_on_grid
from cytorelease.flow.grouped import group_medians, medians_of_finite


def _scatter_like(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack(
        [
            rng.multivariate_normal([10.5, 9.8], [[0.05, 0.02], [0.02, 0.08]], 5000),
            rng.multivariate_normal([9.0, 9.0], [[0.4, 0.1], [0.1, 0.5]], 2000),
            rng.multivariate_normal([11.2, 10.8], [[0.03, 0.0], [0.0, 0.04]], 1000),
        ]
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_em_kernel_fits_what_scikit_learn_fits(seed: int) -> None:
    from sklearn.mixture import GaussianMixture

    data = _scatter_like(seed)
    theirs = GaussianMixture(5, covariance_type="full", random_state=seed).fit(data)
    ours = fit_mixture_2d(data, 5, seed=seed)
    assert ours is not None and ours.converged and ours.iterations == theirs.n_iter_
    np.testing.assert_allclose(ours.weights, theirs.weights_, atol=1e-10)
    np.testing.assert_allclose(ours.means, theirs.means_, atol=1e-10)
    np.testing.assert_allclose(ours.covariances, theirs.covariances_, atol=1e-10)


def test_the_em_kernel_reports_a_fit_that_did_not_converge() -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    data = _scatter_like(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = GaussianMixture(5, random_state=3, max_iter=2).fit(data)
    ours = fit_mixture_2d(data, 5, seed=3, max_iter=2)
    assert ours is not None and not ours.converged and ours.iterations == 2
    assert not theirs.converged_
    np.testing.assert_allclose(ours.means, theirs.means_, atol=1e-10)


def test_kde_binning_equals_numpy_binning() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0.3, 0.05, 20_000), [np.nan, np.inf, -1.0, 2.0]])
    grid, density = kde_on_grid(values, 0.0, 1.0, 0.01, 256)
    dx = grid[1] - grid[0]
    inside = values[(values >= 0.0) & (values <= 1.0)]
    position = inside / dx
    left = np.floor(position).astype(int)
    frac = position - left
    counts = np.bincount(left, 1 - frac, 257) + np.bincount(np.minimum(left + 1, 256), frac, 257)
    from scipy.ndimage import gaussian_filter1d

    expected = gaussian_filter1d(counts[:256], 0.01 / dx, mode="constant") / (len(values) * dx)
    np.testing.assert_allclose(density, expected, rtol=1e-9, atol=1e-12)
    _, kept = kde_on_grid(values, 0.0, 1.0, 0.01, 256, keep=(0.0, 1.0))
    np.testing.assert_allclose(kept, expected * len(values) / len(inside), rtol=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    times=st.lists(st.floats(-10, 60, allow_nan=False), min_size=1, max_size=200),
    segments=st.integers(1, 40),
)
def test_segment_medians_are_numpy_medians_of_the_finite_values(
    times: list[float], segments: int
) -> None:
    time = np.concatenate([np.array(times), [np.nan, np.inf, -np.inf]])
    segment = np.arange(len(time)) % segments
    with np.errstate(invalid="ignore"):
        values = np.sin(time * 7.0)  # NaN for the infinite times: left out of the medians
    medians = medians_of_finite(values, segment, segments)
    for s in range(segments):
        chosen = values[(segment == s) & np.isfinite(values)]
        if len(chosen):
            assert medians[s] == np.median(chosen)
        else:
            assert np.isnan(medians[s])


def test_group_medians_refuse_a_label_outside_the_groups() -> None:
    with pytest.raises(ValueError, match="labels must lie in"):
        group_medians(np.zeros((3, 1)), np.array([0, 1, 3]), 3)
    with pytest.raises(ValueError, match="labels must lie in"):
        group_medians(np.zeros((2, 1)), np.array([0, -1]), 3)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 9), st.integers(-20, 20).map(lambda v: v / 4))))
def test_grouped_medians_are_numpy_medians(pairs: list[tuple[int, float]]) -> None:
    from cytorelease.flow.gating.placement_singlet import _grouped_medians

    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs], dtype=np.float64)
    counts, medians = _grouped_medians(groups, values, 10)
    for g in range(10):
        chosen = values[groups == g]
        assert counts[g] == len(chosen)
        assert np.isnan(medians[g]) if len(chosen) == 0 else medians[g] == np.median(chosen)


@pytest.mark.parametrize("unimodal", [None, "negative"])
def test_a_valley_over_a_masked_column_is_the_valley_of_its_population(
    unimodal: str | None,
) -> None:
    """Binning the parent's events in place (``where``) finds what binning a copy finds."""
    from cytorelease.flow.gating.placement import density_valley

    rng = np.random.default_rng(11)
    column = np.concatenate([rng.normal(0.3, 0.04, 20_000), rng.normal(0.7, 0.05, 8_000)])
    if unimodal:
        column = rng.normal(0.3, 0.04, 28_000)
    column[::101] = np.nan
    where = rng.random(len(column)) < 0.6  # the parent population: ~17,000 events
    in_place = density_valley(column, where=where, unimodal=unimodal)
    copied = density_valley(column[where], unimodal=unimodal)
    assert in_place.threshold is not None
    assert in_place == copied
    assert density_valley(column, where=np.zeros(len(column), bool)).reason == (
        "only 0 events: too few for a density estimate"
    )


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan, np.inf, -np.inf]), min_size=1
    ),
    lo=st.sampled_from([None, -1.0, 0.0, 0.5]),
    hi=st.sampled_from([None, 0.5, 1.0, 2.0]),
    start=st.booleans(),
)
def test_range_kernel_is_the_half_open_comparison(
    values: list[float], lo: float | None, hi: float | None, start: bool
) -> None:
    from cytorelease.flow.gating._range_kernel import and_in_range

    x = np.array(values)
    inside = np.full(len(x), start)
    expected = inside.copy()
    if lo is not None:
        expected &= x >= lo
    if hi is not None:
        expected &= x < hi
    and_in_range(x, lo, hi, inside)
    np.testing.assert_array_equal(inside, expected)


def test_scatter_and_singlet_fits_over_masked_columns_equal_fits_on_copies() -> None:
    from cytorelease.flow.gating.placement_scatter import scatter_population
    from cytorelease.flow.gating.placement_singlet import singlet_band

    rng = np.random.default_rng(12)
    n = 40_000
    area = np.concatenate([rng.lognormal(11, 0.25, n - 8000), rng.lognormal(9.5, 0.5, 8000)])
    side = area * rng.lognormal(-0.5, 0.3, n)
    height = area * 0.8 + rng.normal(0, 800, n)
    height[:3000] = area[:3000] * 0.45  # doublets
    area[::997] = np.nan
    where = rng.random(n) < 0.7
    assert singlet_band(area, height, where=where) == singlet_band(area[where], height[where])
    assert scatter_population(area, side, where=where) == scatter_population(
        area[where], side[where]
    )


def test_ceiling_counts_skip_nan_and_count_inf(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Float data: a NaN is never at the ceiling, +inf always is, -inf never."""
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
    from cytorelease.flow.qc import saturation

    rng = np.random.default_rng(13)
    events = rng.uniform(0, 1100, (5_001, 2))
    events[::7, 0] = np.nan
    events[::11, 1] = np.inf
    events[::13, 1] = -np.inf
    specs = [ChannelSpec("FL1", None, 1024, 32), ChannelSpec("FL2", None, 1024, 32)]
    sample = read_fcs(write_fcs(tmp_path / "float.fcs", events, specs, datatype="F"))
    stored = sample.events
    expected = [int(np.count_nonzero(stored[:, c] >= 1023.0)) for c in (0, 1)]
    assert [s.events for s in saturation(sample, [0, 1])] == expected
    assert expected[1] >= len(range(0, 5_001, 11)) - len(range(0, 5_001, 143))
