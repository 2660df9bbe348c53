"""Scale transforms: GatingML 2.0 formulas, agreement with flowutils, inverses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.errors import TemplateError
from cytorelease.flow.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
)

flowutils_transforms = pytest.importorskip("flowutils.transforms")

# (T, W, M, A): the GatingML compliance parameters, common cytometer ranges, negative A
BIEXP_PARAMS = [
    (262144.0, 0.5, 4.5, 0.0),
    (10000.0, 0.5, 4.5, 0.0),
    (10000.0, 1.0, 4.0, 0.5),
    (1048576.0, 1.0, 4.5, 1.0),
    (262144.0, 1.5, 4.5, -0.5),
    (1000.0, 0.2, 3.0, -0.1),
]


def _wide_values(seed: int = 0) -> np.ndarray:
    """Negatives, zero, the linear zone, and twelve decades of positives."""
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.normal(0.0, 300.0, 4000),
            10.0 ** rng.uniform(-6, 6.5, 8000),
            -(10.0 ** rng.uniform(-6, 5, 4000)),
            [0.0, -0.0, 1e-9, -1e-9, 262144.0, -262144.0, 1e7],
        ]
    )


@pytest.mark.parametrize("params", BIEXP_PARAMS, ids=str)
def test_logicle_agrees_with_flowutils(params: tuple[float, ...]) -> None:
    t, w, m, a = params
    x = _wide_values()
    ours = LogicleTransform(T=t, W=w, M=m, A=a).apply(x)
    theirs = flowutils_transforms.logicle(x, None, t=t, m=m, w=w, a=a)
    assert np.max(np.abs(ours - theirs)) < 1e-6
    # and in fact to within a few ulps of the 0..1 scale
    assert np.max(np.abs(ours - theirs)) < 1e-12


@pytest.mark.parametrize("params", BIEXP_PARAMS, ids=str)
def test_hyperlog_agrees_with_flowutils(params: tuple[float, ...]) -> None:
    t, w, m, a = params
    x = _wide_values(1)
    ours = HyperlogTransform(T=t, W=w, M=m, A=a).apply(x)
    theirs = flowutils_transforms.hyperlog(x, None, t=t, m=m, w=w, a=a)
    assert np.max(np.abs(ours - theirs)) < 1e-12


@pytest.mark.parametrize("cls", [LogicleTransform, HyperlogTransform])
@pytest.mark.parametrize("params", BIEXP_PARAMS, ids=str)
def test_biexponential_inverse_agrees_with_flowutils(cls: type, params: tuple[float, ...]) -> None:
    t, w, m, a = params
    y = np.linspace(-0.3, 1.1, 2001)
    reference = (
        flowutils_transforms.logicle_inverse
        if cls is LogicleTransform
        else flowutils_transforms.hyperlog_inverse
    )
    ours = cls(T=t, W=w, M=m, A=a).inverse(y)
    theirs = reference(y, None, t=t, m=m, w=w, a=a)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-9)


def test_logicle_fixed_points() -> None:
    """T maps to 1, zero to the linear-zone centre x1 = (W + A) / (M + A), symmetric about it."""
    logicle = LogicleTransform(T=262144, W=0.5, M=4.5, A=0)
    y = logicle.apply(np.array([0.0, 262144.0, 1000.0, -1000.0]))
    assert y[0] == pytest.approx(0.5 / 4.5, abs=1e-15)
    assert y[1] == pytest.approx(1.0, abs=1e-12)
    assert y[2] + y[3] == pytest.approx(2 * y[0], abs=1e-12)
    # with W = A = 0 the biexponential is a plain sinh: logicle equals fasinh(T, M, 0)
    x = _wide_values(3)
    pure = LogicleTransform(T=10000, W=0, M=4, A=0).apply(x)
    np.testing.assert_allclose(pure, AsinhTransform(T=10000, M=4, A=0).apply(x), atol=1e-12)


def test_transforms_keep_shape_and_pass_nan_and_infinity() -> None:
    logicle = LogicleTransform()
    x = np.array([[np.nan, np.inf], [-np.inf, 5.0]])
    y = logicle.apply(x)
    assert y.shape == (2, 2)
    assert np.isnan(y[0, 0]) and y[0, 1] == np.inf and y[1, 0] == -np.inf


@pytest.mark.parametrize(
    ("transform", "x", "expected"),
    [
        (LinearTransform(T=10000, A=500), 0.0, 500 / 10500),
        (LogTransform(T=10000, M=5), 100.0, 1 - 2 / 5),
        (AsinhTransform(T=10000, M=4, A=1), 0.0, 1 / 5),
        (AsinhTransform(T=10000, M=4, A=1), 10000.0, 1.0),
    ],
    ids=["flin", "flog", "fasinh-zero", "fasinh-top"],
)
def test_closed_form_transforms(transform: object, x: float, expected: float) -> None:
    assert transform.apply(np.array([x]))[0] == pytest.approx(expected, abs=1e-12)  # type: ignore[attr-defined]


def test_asinh_and_log_agree_with_flowutils() -> None:
    x = np.abs(_wide_values(2)) + 1.0
    ours = AsinhTransform(T=10000, M=4, A=1).apply(x)
    np.testing.assert_allclose(ours, flowutils_transforms.asinh(x, None, 10000, 4, 1), atol=1e-14)
    ours = LogTransform(T=10000, M=5).apply(x)
    np.testing.assert_allclose(ours, flowutils_transforms.log(x, None, 10000, 5), atol=1e-14)


finite = st.floats(min_value=-1e6, max_value=1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(x=finite, params=st.sampled_from(BIEXP_PARAMS))
def test_logicle_and_hyperlog_round_trip(x: float, params: tuple[float, ...]) -> None:
    t, w, m, a = params
    for cls in (LogicleTransform, HyperlogTransform):
        transform = cls(T=t, W=w, M=m, A=a)
        back = transform.inverse(transform.apply(np.array([x])))[0]
        assert back == pytest.approx(x, rel=1e-9, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    x=st.floats(min_value=1e-3, max_value=1e7),
    transform=st.sampled_from(
        [LinearTransform(T=1000, A=10), LogTransform(T=10000, M=5), AsinhTransform(T=1e4, M=4, A=1)]
    ),
)
def test_closed_forms_round_trip(x: float, transform: object) -> None:
    back = transform.inverse(transform.apply(np.array([x])))[0]  # type: ignore[attr-defined]
    assert math.isclose(back, x, rel_tol=1e-9)


def test_transforms_compare_by_parameters_not_id() -> None:
    assert LogicleTransform(T=10000, id="a") == LogicleTransform(T=10000, id="b")
    assert hash(LogicleTransform(T=10000, id="a")) == hash(LogicleTransform(T=10000))
    assert LogicleTransform(T=10000) != HyperlogTransform(T=10000)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LogicleTransform(T=262144, W=3, M=4.5, A=0), r"logicle\(T=262144, W=3.*W <= M/2"),
        (lambda: HyperlogTransform(T=-1), r"hyperlog\(T=-1.*needs T > 0"),
        (lambda: LogTransform(T=100, M=0), r"flog\(T=100, M=0\).*M > 0"),
        (lambda: AsinhTransform(T=100, M=4, A=5), r"fasinh.*0 <= A <= M"),
        (lambda: LinearTransform(T=100, A=200), r"flin.*0 <= A <= T"),
    ],
)
def test_invalid_parameters_are_template_errors(make: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        make()  # type: ignore[operator]
