"""EWMA and tabular CUSUM against formulas computed here a different way: the EWMA as its
closed-form weighted sum, the CUSUM as Page's form S_i - min(S_0..S_i)."""

from __future__ import annotations

import math
import random

import pytest

from cytorelease.trend.smallshift import cusum, cusum_signals, ewma, ewma_signals


def _values(seed: int, n: int = 60, shift_at: int = 30, shift: float = 0.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(50.0, 2.0) + (shift if i >= shift_at else 0.0) for i in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ewma_is_the_weighted_sum_with_exact_limits(seed: int) -> None:
    values, mu, sigma, lam = _values(seed), 50.0, 2.0, 0.2
    got = ewma(values, mu, sigma)
    for i in range(1, len(values) + 1):
        weighted = sum(lam * (1 - lam) ** j * values[i - 1 - j] for j in range(i))
        z = weighted + (1 - lam) ** i * mu
        variance = sigma**2 * lam / (2 - lam) * (1 - (1 - lam) ** (2 * i))
        assert got[i - 1][0] == pytest.approx(z, rel=1e-12)
        assert got[i - 1][1] == pytest.approx(mu - 3 * math.sqrt(variance), rel=1e-12)
        assert got[i - 1][2] == pytest.approx(mu + 3 * math.sqrt(variance), rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cusum_is_pages_form(seed: int) -> None:
    values, mu, sigma = _values(seed, shift=1.5), 50.0, 2.0
    got = cusum(values, mu, sigma)
    s_high, s_low, low_high, low_low = 0.0, 0.0, 0.0, 0.0
    for i, x in enumerate(values):
        s_high += x - mu - 0.5 * sigma
        s_low += mu - 0.5 * sigma - x
        low_high, low_low = min(low_high, s_high), min(low_low, s_low)
        assert got[i][0] == pytest.approx(s_high - low_high, abs=1e-9)
        assert got[i][1] == pytest.approx(s_low - low_low, abs=1e-9)


def test_a_one_sigma_step_is_caught_by_both_and_a_flat_process_by_neither() -> None:
    lots = [f"L{i}" for i in range(40)]
    flat = [50.0 + (0.3 if i % 2 else -0.3) for i in range(40)]
    assert ewma_signals(lots, flat, 50.0, 2.0) == []
    assert cusum_signals(lots, flat, 50.0, 2.0) == []
    stepped = [v + (2.0 if i >= 10 else 0.0) for i, v in enumerate(flat)]
    ewma_found = ewma_signals(lots, stepped, 50.0, 2.0)
    cusum_found = cusum_signals(lots, stepped, 50.0, 2.0)
    assert ewma_found and {s.side for s in ewma_found} == {"high"}
    assert cusum_found and {s.side for s in cusum_found} == {"high"}
    # neither signals before the step; CUSUM's sum of (2 - 1) sigma-halves passes 5 sigma late
    assert int(ewma_found[0].lot[1:]) >= 10 and int(cusum_found[0].lot[1:]) >= 10
    assert all(s.statistic > s.limit for s in cusum_found)


def test_a_downward_step_signals_low() -> None:
    lots = [f"L{i}" for i in range(30)]
    values = [50.0 - (3.0 if i >= 5 else 0.0) for i in range(30)]
    assert {s.side for s in cusum_signals(lots, values, 50.0, 2.0)} == {"low"}
    assert {s.side for s in ewma_signals(lots, values, 50.0, 2.0)} == {"low"}
