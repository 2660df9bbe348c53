"""The statistics of ``compare`` checked against independent references: statsmodels' TOST, the
worked example of Bland & Altman (1986), a principal-axis computation of Deming regression, and
the Kolmogorov-Smirnov statistic counted from the two empirical distribution functions."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from cytorelease.compare.stats import deming, paired_stats, unpaired_stats

# Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
# clinical measurement. Lancet 1986; i: 307-310, Table 1: peak expiratory flow rate (l/min) of
# 17 subjects, the first reading with the Wright peak flow meter and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_bland_altman_1986_worked_example() -> None:
    # The paper's differences are Wright - mini: A = mini, B = Wright gives the same sign.
    s = paired_stats(np.array(MINI, float), np.array(WRIGHT, float), margin=None, alpha=0.05)
    bias, sd, ci = s.bias, s.sd, s.bias_ci
    low, high, low_ci, high_ci = s.loa_low, s.loa_high, s.loa_low_ci, s.loa_high_ci
    assert bias is not None and sd is not None and ci is not None
    assert low is not None and high is not None and low_ci is not None and high_ci is not None
    assert s.n == 17
    assert round(bias, 1) == -2.1  # "mean difference ... -2.1 l/min"
    assert round(sd, 1) == 38.8  # "standard deviation of the differences 38.8 l/min"
    # The paper's limits use 2 SD and its rounded mean and SD (-2.1 -+ 77.6 = -79.7 and 75.5);
    # ours use 1.96 SD of the unrounded ones.
    assert low == pytest.approx(bias - 1.96 * sd) and high == pytest.approx(bias + 1.96 * sd)
    assert bias - 2 * sd == pytest.approx(-79.7, abs=0.1)
    assert bias + 2 * sd == pytest.approx(75.5, abs=0.1)
    # The 95 % CI of the mean difference: -2.1 +- 2.12 x 9.4 = -22.0 to 17.8.
    assert [round(v, 1) for v in ci] == [-22.0, 17.8]
    # The limits' SE is about sqrt(3 s^2 / n) = 16.3 l/min; the interval is t(16) x SE wide.
    assert round((low_ci[1] - low_ci[0]) / 2 / 2.12, 1) == 16.3
    assert high_ci[0] < high < high_ci[1]


@pytest.mark.parametrize("margin", [5.0, 20.0, 60.0])
def test_paired_tost_matches_statsmodels(margin: float) -> None:
    a, b = np.array(MINI, float), np.array(WRIGHT, float)
    s = paired_stats(a, b, margin=margin, alpha=0.05)
    p, low, upp = ttost_paired(b, a, -margin, margin)
    assert s.tost_p == pytest.approx(p, rel=1e-10)
    assert s.tost_p_lower == pytest.approx(low[1], rel=1e-10)
    assert s.tost_p_upper == pytest.approx(upp[1], rel=1e-10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_welch_tost_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(80, 4, size=23)
    b = rng.normal(81, 7, size=15)
    s = unpaired_stats(a, b, margin=3.0, alpha=0.05)
    p, low, upp = ttost_ind(b, a, -3.0, 3.0, usevar="unequal")
    assert s.tost_p == pytest.approx(p, rel=1e-10)
    assert (s.tost_p_lower, s.tost_p_upper) == pytest.approx((low[1], upp[1]), rel=1e-10)
    assert s.df == pytest.approx(low[2], rel=1e-10)
    assert s.bias == pytest.approx(b.mean() - a.mean())


def test_ks_statistic_is_the_largest_gap_between_the_two_distribution_functions() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, 30), rng.normal(0.8, 1, 25)
    s = unpaired_stats(a, b, margin=None, alpha=0.05)
    grid = np.concatenate([a, b])
    gap = max(abs((a <= x).mean() - (b <= x).mean()) for x in grid)
    assert s.ks_statistic == pytest.approx(gap)
    assert s.ks_p is not None and 0 < s.ks_p < 0.05  # a shift of 0.8 SD in 25-30 values is seen


def _principal_axis_slope(x: np.ndarray, y: np.ndarray, ratio: float) -> float:
    """Deming as orthogonal regression after scaling B by 1/sqrt(ratio): the first principal
    axis of the covariance matrix, computed by eigen-decomposition (not the closed form)."""
    ys = y / np.sqrt(ratio)
    values, vectors = np.linalg.eigh(np.cov(np.vstack([x, ys])))
    vx, vy = vectors[:, np.argmax(values)]
    return float(vy / vx * np.sqrt(ratio))


@pytest.mark.parametrize("ratio", [1.0, 0.25, 4.0])
def test_deming_matches_the_principal_axis(ratio: float) -> None:
    rng = np.random.default_rng(11)
    truth = rng.uniform(10, 60, 40)
    x = truth + rng.normal(0, 2, 40)
    y = 1.5 + 1.1 * truth + rng.normal(0, 2 * np.sqrt(ratio), 40)
    line = deming(x, y, ratio)
    assert line is not None
    slope, intercept = line
    assert slope == pytest.approx(_principal_axis_slope(x, y, ratio), rel=1e-9)
    assert intercept == pytest.approx(y.mean() - slope * x.mean())
    assert slope == pytest.approx(1.1, abs=0.1)


def test_deming_tends_to_least_squares_when_a_has_no_error() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 30)
    y = 2 * x + rng.normal(0, 1, 30)
    ols = np.polyfit(x, y, 1)[0]
    line = deming(x, y, 1e9)
    assert line is not None and line[0] == pytest.approx(ols, rel=1e-6)


def test_what_cannot_be_computed_is_none_with_a_reason() -> None:
    one = paired_stats(np.array([1.0]), np.array([2.0]), margin=1.0, alpha=0.05)
    assert one.bias == 1.0 and one.tost_p is None and one.reasons
    flat = paired_stats(
        np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]), margin=2.0, alpha=0.05
    )
    assert flat.tost_p is None and "no spread" in flat.reasons[-1]
    empty = unpaired_stats(np.array([1.0, 2.0]), np.array([]), margin=1.0, alpha=0.05)
    assert empty.bias is None and empty.tost_p is None and empty.reasons


def test_deming_jackknife_intervals_cover_the_true_line() -> None:
    # 400 simulated comparisons with a known line and equal error variances: the 95 % jackknife
    # intervals should hold the true slope and intercept about 95 % of the time (Linnet 1990
    # reports close to nominal coverage for n >= 20).
    from cytorelease.compare.stats import deming_jackknife_ci

    rng = np.random.default_rng(2026)
    hits = np.zeros(2)
    runs = 400
    for _ in range(runs):
        truth = rng.uniform(20, 80, 30)
        x = truth + rng.normal(0, 3, 30)
        y = 2.0 + 0.95 * truth + rng.normal(0, 3, 30)
        intervals = deming_jackknife_ci(x, y, 1.0)
        assert intervals is not None
        (s_lo, s_hi), (i_lo, i_hi) = intervals
        hits += [s_lo <= 0.95 <= s_hi, i_lo <= 2.0 <= i_hi]
    coverage = hits / runs
    assert all(0.91 <= c <= 0.98 for c in coverage), coverage


def test_deming_jackknife_is_the_leave_one_out_spread() -> None:
    from cytorelease.compare.stats import deming_jackknife_ci

    x = np.array([1.0, 2.1, 2.9, 4.2, 5.0, 5.8])
    y = np.array([1.2, 1.9, 3.1, 4.0, 5.3, 6.1])
    intervals = deming_jackknife_ci(x, y)
    assert intervals is not None
    line = deming(x, y)
    assert line is not None
    slopes = []
    for i in range(6):
        keep = np.arange(6) != i
        # leave-one-out by the principal axis, independent of the closed form
        slopes.append(_principal_axis_slope(x[keep], y[keep], 1.0))
    se = np.sqrt(5 / 6 * np.sum((np.array(slopes) - np.mean(slopes)) ** 2))
    from scipy import stats as sps

    half = sps.t.ppf(0.975, 4) * se
    assert intervals[0] == pytest.approx([line[0] - half, line[0] + half], rel=1e-9)
