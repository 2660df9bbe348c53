"""Spillover compensation: solving, round trips, file spill, GatingML spectrum matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import (
    SpilloverMatrix,
    compensate,
    sample_spillover,
    uncompensate,
)
from cytorelease.flow.fcs import read_fcs
from tests.conftest import shared_path

CHANNELS = ("FSC-A", "FL1-A", "FL2-A", "FL3-A")
SPILL = SpilloverMatrix(
    "S",
    ("FL1-A", "FL2-A", "FL3-A"),
    ("FL1-A", "FL2-A", "FL3-A"),
    np.array([[1.0, 0.2, 0.05], [0.1, 1.0, 0.3], [0.0, 0.15, 1.0]]),
)


def test_compensation_recovers_the_true_signal() -> None:
    rng = np.random.default_rng(7)
    true = np.column_stack([rng.uniform(1e4, 1e5, 500), rng.gamma(2.0, 800.0, (500, 3))])
    observed = true.copy()
    observed[:, 1:] = true[:, 1:] @ SPILL.matrix  # each detector sees its share of each dye
    recovered = compensate(observed, CHANNELS, SPILL)
    np.testing.assert_allclose(recovered, true, rtol=1e-12)
    assert np.array_equal(recovered[:, 0], observed[:, 0])  # FSC is outside the spill


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float64, (20, 4), elements=st.floats(-1e5, 1e6, allow_nan=False)),
    off_diagonal=arrays(np.float64, (3, 3), elements=st.floats(0.0, 0.4)),
)
def test_uncompensate_inverts_compensate(values: np.ndarray, off_diagonal: np.ndarray) -> None:
    matrix = off_diagonal.copy()
    np.fill_diagonal(matrix, 1.0)
    spill = SpilloverMatrix("H", CHANNELS[1:], CHANNELS[1:], matrix)
    back = uncompensate(compensate(values, CHANNELS, spill), CHANNELS, spill)
    np.testing.assert_allclose(back, values, rtol=1e-9, atol=1e-6)


def test_more_detectors_than_fluorochromes_is_solved_by_least_squares() -> None:
    spill = SpilloverMatrix(
        "wide", ("A", "B"), ("d1", "d2", "d3"), np.array([[1.0, 0.3, 0.1], [0.2, 1.0, 0.4]])
    )
    true = np.array([[1000.0, 50.0], [10.0, 2000.0]])
    np.testing.assert_allclose(spill.compensate(spill.uncompensate(true)), true, rtol=1e-10)
    with pytest.raises(TemplateError, match="not square"):
        compensate(np.zeros((1, 3)), ("d1", "d2", "d3"), spill)


def test_file_spill_is_applied_to_its_channels_only() -> None:
    sample = read_fcs(shared_path("fcs", "100715.fcs"))
    spill = sample_spillover(sample)
    assert spill is not None and spill.id == "FCS"
    assert spill.detectors[:3] == ("B515-A", "R780-A", "R710-A")
    events = sample.scaled_events()
    compensated = compensate(events, sample.channel_names, spill)
    untouched = [sample.channel_names.index(c) for c in ("FSC-A", "FSC-H", "SSC-A")]
    assert np.array_equal(compensated[:, untouched], events[:, untouched])
    columns = [sample.channel_names.index(c) for c in spill.detectors]
    # solving reproduces the explicit-inverse result (as FlowKit computes it) to rounding
    explicit = events[:, columns] @ np.linalg.inv(spill.matrix)
    np.testing.assert_allclose(compensated[:, columns], explicit, rtol=1e-9, atol=1e-6)
    assert not np.allclose(compensated[:, columns], events[:, columns])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SpilloverMatrix("x", ("A",), ("d1", "d2"), np.eye(2)), r"'x' is 2x2 but names 1"),
        (lambda: SpilloverMatrix("x", ("A", "B"), ("d1", "d2"), np.ones((2, 2))), "singular"),
        (
            lambda: SpilloverMatrix("x", ("A", "B"), ("d1",), np.ones((2, 1))),
            r"more fluorochromes \(2\) than detectors \(1\)",
        ),
    ],
)
def test_bad_matrices_are_template_errors(make: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        make()  # type: ignore[operator]


def test_missing_detector_lists_the_data_channels() -> None:
    with pytest.raises(TemplateError, match=r"lacks: FL3-A.*channels: FSC-A, FL1-A, FL2-A"):
        compensate(np.zeros((2, 3)), CHANNELS[:3], SPILL)


def test_a_spill_naming_labels_is_mapped_to_detector_names() -> None:
    from pathlib import Path

    from cytorelease.flow.sample import Channel, Sample, Spill

    channels = (
        Channel(0, "FSC-A", None, 1024.0, 32),
        Channel(1, "BL1-A", "CD3", 1024.0, 32),
        Channel(2, "RL1-A", "CAR", 1024.0, 32),
    )
    events = np.array([[500.0, 1100.0, 300.0], [400.0, 100.0, 2050.0]], dtype=np.float32)
    spill = Spill(("CD3", "CAR"), np.array([[1.0, 0.1], [0.05, 1.0]]))
    sample = Sample(Path("labels.fcs"), "0" * 64, "3.1", events, channels, {}, spill)
    matrix = sample_spillover(sample)
    assert matrix is not None and matrix.detectors == ("BL1-A", "RL1-A")
    compensated = compensate(events, sample.channel_names, matrix)
    np.testing.assert_allclose(compensated[:, 1:] @ spill.matrix, events[:, 1:], rtol=1e-6)
    # CD3 + 0.05 CAR = 1100 and 0.1 CD3 + CAR = 300 (detectors see spill): CD3 = 1085 / 0.995
    assert compensated[0, 1] == pytest.approx(1085.0 / 0.995, rel=1e-12)


def test_chunked_column_solve_equals_the_whole_matrix_solve() -> None:
    from cytorelease.flow.compensation import SpilloverMatrix

    rng = np.random.default_rng(7)
    matrix = np.eye(4) + rng.uniform(0, 0.2, (4, 4)) * (1 - np.eye(4))
    spill = SpilloverMatrix("s", ("a", "b", "c", "d"), ("a", "b", "c", "d"), matrix)
    observed = rng.normal(1000, 400, (10_001, 4)).astype(np.float32)
    whole = spill.compensate(observed)
    chunked = spill.compensate_columns([observed[:, i] for i in range(4)], chunk=999)
    for i in range(4):
        np.testing.assert_array_equal(chunked[i], whole[:, i])
        assert chunked[i].flags.c_contiguous


def test_the_lu_solve_agrees_with_numpy_solve() -> None:
    from cytorelease.flow.compensation import SpilloverMatrix

    rng = np.random.default_rng(8)
    matrix = np.eye(6) + rng.uniform(0, 0.3, (6, 6)) * (1 - np.eye(6))
    spill = SpilloverMatrix("s", tuple("abcdef"), tuple("abcdef"), matrix)
    observed = rng.normal(1000, 400, (5_000, 6))
    expected = np.linalg.solve(matrix.T, observed.T).T
    np.testing.assert_allclose(spill.compensate(observed), expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(spill.compensate(observed) @ matrix, observed, rtol=1e-12)


def test_mixed_column_types_solve_the_same_as_uniform_ones() -> None:
    """A tube whose detectors are partly rescaled ($PnG: float64 columns beside the stored
    float32 ones) takes the copy-then-solve path; the values are the same."""
    from cytorelease.flow.compensation import SpilloverMatrix

    rng = np.random.default_rng(9)
    matrix = np.eye(3) + rng.uniform(0, 0.2, (3, 3)) * (1 - np.eye(3))
    spill = SpilloverMatrix("s", ("a", "b", "c"), ("a", "b", "c"), matrix)
    stored = rng.normal(1000, 400, (5_000, 3)).astype(np.float32)
    uniform = spill.compensate_columns([stored[:, i] for i in range(3)])
    mixed = spill.compensate_columns(
        [stored[:, 0], stored[:, 1].astype(np.float64), np.ascontiguousarray(stored[:, 2])]
    )
    for i in range(3):
        np.testing.assert_array_equal(mixed[i], uniform[i])
