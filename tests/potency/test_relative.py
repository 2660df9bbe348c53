"""Relative potency: parallelism by equivalence, then RP = C_ref / C_test."""

from __future__ import annotations

import numpy as np
import pytest

from cytorelease.potency.assay import Parallelism
from cytorelease.potency.curve import logistic
from cytorelease.potency.relative import relative_potency

DOSES = 1000 / 2.0 ** np.arange(8)


def _series(
    rng: np.random.Generator, c: float, b: float = 1.2, d: float = 2.5, noise: float = 0.02
) -> list[tuple[float, list[float]]]:
    return [(x, list(logistic([x] * 3, 0.1, b, c, d) + rng.normal(0, noise, 3))) for x in DOSES]


def test_noise_free_parallel_curves_give_the_exact_rp() -> None:
    rng = np.random.default_rng(0)
    result = relative_potency(
        _series(rng, 100.0, noise=0.0), _series(rng, 40.0, noise=0.0), margins=Parallelism()
    )
    assert result.parallel
    assert result.relative_potency == pytest.approx(2.5, rel=1e-6)
    assert result.slope_ratio.estimate == pytest.approx(1.0, rel=1e-6)


def test_parallel_curves_give_rp_with_a_ci_holding_the_truth() -> None:
    covered = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        result = relative_potency(_series(rng, 100.0), _series(rng, 50.0), margins=Parallelism())
        assert result.parallel, result.reason
        assert result.lower is not None and result.upper is not None
        assert result.lower < result.relative_potency < result.upper
        covered += result.lower <= 2.0 <= result.upper
    assert covered >= 17  # 95% intervals: 19 of 20 expected


def test_non_parallel_curves_give_no_rp_and_say_why() -> None:
    rng = np.random.default_rng(5)
    result = relative_potency(_series(rng, 100.0), _series(rng, 50.0, b=2.6), margins=Parallelism())
    assert not result.parallel
    assert result.relative_potency is None and result.lower is None
    assert "not parallel" in result.reason and "slope ratio" in result.reason
    assert "equivalence margin 0.8-1.25" in result.reason
    assert result.slope_ratio.estimate == pytest.approx(2.6 / 1.2, rel=0.15)


def test_different_spans_are_not_parallel() -> None:
    rng = np.random.default_rng(6)
    result = relative_potency(
        _series(rng, 100.0), _series(rng, 100.0, d=1.4), margins=Parallelism()
    )
    assert not result.parallel and "span ratio" in result.reason


def test_a_noisy_test_series_fails_equivalence_for_lack_of_precision() -> None:
    """Equivalence, not difference testing: an imprecise series cannot prove parallelism."""
    rng = np.random.default_rng(8)
    result = relative_potency(
        _series(rng, 100.0), _series(rng, 50.0, noise=0.25), margins=Parallelism()
    )
    assert not result.parallel and result.relative_potency is None
