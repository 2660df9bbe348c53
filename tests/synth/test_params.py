"""Lot parameters: validation messages and the spread of random_params."""

from __future__ import annotations

import numpy as np
import pytest

from cytorelease.errors import InputError
from cytorelease.synth import LotParams, population_probabilities, random_params
from cytorelease.synth.panel import Population


def test_defaults_describe_a_conforming_lot() -> None:
    params = LotParams()
    assert params.car_pct == 35.0
    assert params.viability_pct == 90.0
    assert 50_000 <= params.n_events <= 100_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"car_pct": 120.0}, "car_pct must be within 0.0-100.0, got 120.0"),
        ({"viability_pct": float("nan")}, "viability_pct must be within 0.0-100.0, got nan"),
        ({"cd3_pct": 90.0, "cd19_pct": 8.0, "monocyte_pct": 5.0}, "exceed 100 % of viable CD45+"),
        ({"debris_pct": 60.0, "doublet_pct": 40.0}, "leave no room for cells"),
        ({"cd4_cd8_ratio": 0.0}, "cd4_cd8_ratio must be a positive number, got 0.0"),
        ({"n_events": 10}, "n_events must be at least 1000"),
        ({"event_rate_per_s": 0.0}, "event_rate_per_s must be positive"),
        ({"clog_fraction": 0.5}, "clog_fraction must be within 0.0-0.3, got 0.5"),
    ],
)
def test_invalid_params_are_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(InputError, match=message.replace("+", r"\+")) as info:
        LotParams(**changes)  # type: ignore[arg-type]
    assert info.value.path == "LotParams"


def test_from_dict_names_unknown_fields() -> None:
    with pytest.raises(InputError, match="unknown lot parameters: car, foo"):
        LotParams.from_dict({"car": 1, "foo": 2})
    assert LotParams.from_dict(LotParams(car_pct=12.5).to_dict()).car_pct == 12.5


def test_population_probabilities_follow_the_params() -> None:
    params = LotParams(
        car_pct=40.0,
        viability_pct=80.0,
        cd3_pct=90.0,
        cd4_cd8_ratio=2.0,
        dn_pct=10.0,
        debris_pct=10.0,
        doublet_pct=5.0,
        cd45_negative_pct=5.0,
    )
    p = population_probabilities(params)
    assert p.sum() == pytest.approx(1.0)
    cells = 0.8  # 1 - debris - doublets - CD45-
    assert p[Population.DEAD] == pytest.approx(cells * 0.2)
    t_cells = cells * 0.8 * 0.9
    car = p[[Population.T_CD4_CAR, Population.T_CD8_CAR, Population.T_DN_CAR]].sum()
    assert car == pytest.approx(t_cells * 0.4)
    cd4 = p[[Population.T_CD4, Population.T_CD4_CAR]].sum()
    cd8 = p[[Population.T_CD8, Population.T_CD8_CAR]].sum()
    assert cd4 / cd8 == pytest.approx(2.0)
    assert p[[Population.T_DN, Population.T_DN_CAR]].sum() == pytest.approx(t_cells * 0.1)


def test_random_params_span_the_accuracy_ranges_for_20_seeds() -> None:
    for first in (1, 101):
        params = [random_params(seed) for seed in range(first, first + 20)]
        car = np.sort([p.car_pct for p in params])
        viability = np.sort([p.viability_pct for p in params])
        assert car.min() >= 5.0 and car.max() <= 60.0
        assert viability.min() >= 60.0 and viability.max() <= 98.0
        # Even coverage: both ends reached, no hole wider than 6 (CAR) / 4 (viability) points.
        assert car.min() < 9.0 and car.max() > 55.0
        assert viability.min() < 64.0 and viability.max() > 94.0
        assert np.diff(car).max() < 6.0
        assert np.diff(viability).max() < 4.0


def test_random_params_are_deterministic_and_vary() -> None:
    assert random_params(7) == random_params(7)
    assert random_params(7) != random_params(8)
    for seed in range(40):
        p = random_params(seed)
        assert 100 - p.cd3_pct - p.cd19_pct - p.monocyte_pct > 0  # room for NK / other cells
