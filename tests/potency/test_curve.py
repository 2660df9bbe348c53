"""4PL/5PL fitting: exact recovery, interval coverage, range flags, non-convergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.potency.curve import (
    CurveFit,
    CurveModel,
    RangeFlag,
    Weighting,
    fit_curve,
    logistic,
)

DOSES = np.repeat(np.append(2000 / 2.0 ** np.arange(8), 0.0), 2)


@pytest.mark.parametrize(
    "truth",
    [
        {"A": 0.05, "B": 1.2, "C": 300.0, "D": 3.0},  # sandwich ELISA: rising
        {"A": 2.8, "B": 0.8, "C": 45.0, "D": 0.1},  # competitive: falling
        {"A": 0.0, "B": 2.5, "C": 900.0, "D": 1.5},  # steep, inflection near the top standard
    ],
)
def test_noise_free_4pl_recovers_parameters(truth: dict[str, float]) -> None:
    fit = fit_curve(DOSES, logistic(DOSES, *truth.values()), model="4PL")
    assert fit.converged, fit.message
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert fit.r_squared == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "truth",
    [
        {"A": 0.05, "B": 1.2, "C": 300.0, "D": 3.0, "E": 0.6},
        {"A": 0.1, "B": 0.9, "C": 150.0, "D": 2.5, "E": 2.0},
    ],
)
def test_noise_free_5pl_recovers_parameters(truth: dict[str, float]) -> None:
    fit = fit_curve(DOSES, logistic(DOSES, *truth.values()), model=CurveModel.FIVE_PL)
    assert fit.converged, fit.message
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("model", ["4PL", "5PL"])
def test_noise_free_back_calculation_is_exact(model: str) -> None:
    truth = (0.05, 1.2, 300.0, 3.0, 1.0 if model == "4PL" else 0.7)
    fit = fit_curve(DOSES, logistic(DOSES, *truth), model=model)
    for concentration in (20.0, 333.0, 1500.0):
        back, flag = fit.inverse(float(logistic([concentration], *truth)[0]))
        assert flag is RangeFlag.IN_RANGE
        assert back == pytest.approx(concentration, rel=1e-6)


def test_standard_errors_match_the_spread_over_replicate_plates() -> None:
    truth = (0.05, 1.2, 300.0, 3.0)
    rng = np.random.default_rng(7)
    fits = [
        fit_curve(DOSES, logistic(DOSES, *truth) + rng.normal(0, 0.03, DOSES.size))
        for _ in range(200)
    ]
    slopes = np.array([f.params["B"] for f in fits])
    reported = np.median([f.standard_errors["B"] for f in fits])
    assert reported == pytest.approx(slopes.std(ddof=1), rel=0.2)


@pytest.mark.parametrize(("weighting", "noise"), [("none", "additive"), ("1/y^2", "proportional")])
def test_95pct_intervals_cover_the_truth_at_about_the_nominal_rate(
    weighting: str, noise: str
) -> None:
    """200 simulated plates, three samples each: the 95% CI of the back-calculated
    concentration holds the true value in 92-98% of the 600 cases (binomial sd about 0.9%)."""
    truth = (0.05, 1.2, 300.0, 3.0)
    rng = np.random.default_rng(2024)

    def read(concentrations: np.ndarray) -> np.ndarray:
        mean = logistic(concentrations, *truth)
        if noise == "additive":
            return mean + rng.normal(0, 0.03, mean.size)
        return mean * (1 + rng.normal(0, 0.05, mean.size))

    hits = total = 0
    for _ in range(200):
        fit = fit_curve(DOSES, read(DOSES), weighting=weighting)
        assert fit.converged
        for true in (40.0, 300.0, 1200.0):
            back = fit.back_calculate(read(np.full(3, true)))
            total += 1
            hits += back.lower is not None and back.lower <= true <= back.upper
    assert 0.92 <= hits / total <= 0.98


def test_responses_beyond_the_asymptotes_are_flagged_not_extrapolated() -> None:
    truth = (0.05, 1.2, 300.0, 3.0)
    fit = fit_curve(DOSES, logistic(DOSES, *truth))
    assert fit.back_calculate([0.01, 0.02]).side is RangeFlag.BELOW
    assert fit.back_calculate([0.01, 0.02]).concentration is None
    above = fit.back_calculate([3.5])
    assert above.side is RangeFlag.ABOVE and above.concentration is None
    falling = fit_curve(DOSES, logistic(DOSES, 3.0, 1.2, 300.0, 0.05))
    assert falling.back_calculate([3.5]).side is RangeFlag.BELOW
    assert falling.back_calculate([0.01]).side is RangeFlag.ABOVE


def test_flat_standards_do_not_converge_and_give_no_numbers() -> None:
    rng = np.random.default_rng(1)
    fit = fit_curve(DOSES, 1.0 + rng.normal(0, 0.01, DOSES.size))
    assert not fit.converged
    assert "did not converge" in fit.message
    assert fit.to_dict()["params"] is None and fit.to_dict()["r_squared"] is None


def test_too_few_levels_for_the_model() -> None:
    fit = fit_curve([1, 10, 100, 1, 10, 100], [0.1, 1, 2, 0.1, 1, 2], model="5PL")
    assert not fit.converged and "at least 5" in fit.message


def test_weights_floor_keeps_zero_responses_finite() -> None:
    weights = Weighting.INVERSE_Y2.weights(np.array([0.0, 0.5, 2.0]))
    assert np.all(np.isfinite(weights)) and weights[1] == pytest.approx(4.0)
    assert math.isclose(Weighting.INVERSE_Y.weights(np.array([0.5]))[0], 2.0)


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(-0.5, 1.0),
    span=st.floats(0.2, 4.0) | st.floats(-4.0, -0.2),
    b=st.floats(0.3, 5.0),
    c=st.floats(1.0, 1e4),
    e=st.floats(0.3, 3.0),
    fraction=st.floats(0.02, 0.98),
)
def test_inverse_undoes_the_curve(
    a: float, span: float, b: float, c: float, e: float, fraction: float
) -> None:
    """Any response strictly between the asymptotes maps back to the concentration giving it."""
    theta = np.array([a, b, math.log(c), a + span, math.log(e)])
    curve = CurveFit(
        CurveModel.FIVE_PL, Weighting.NONE, True, "", theta, np.zeros((5, 5)), 0.0, 1, 1.0, 0
    )
    y = a + fraction * span
    x, flag = curve.inverse(y)
    assert flag is RangeFlag.IN_RANGE
    assert float(logistic([x], a, b, c, a + span, e)[0]) == pytest.approx(y, rel=1e-9, abs=1e-12)
