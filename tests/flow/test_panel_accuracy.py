"""The release panel on simulated lots: every measurement within 1 percentage point of the truth.

Twenty seeds of ``random_params`` span CAR+ 5-60 % and viability 60-98 % (an R2 sequence, so
the spread is even, not lucky); the other fractions (CD3+, CD4:CD8, B cells, debris, doublets,
a clog in most runs) vary at random. Nothing in the template is tuned to a seed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.template import load_template
from tests.flow.gating_lots import simulated_lot

SEEDS = range(1, 21)
PERCENT_TOLERANCE = 1.0  # percentage points


@pytest.fixture(scope="module")
def panel():  # type: ignore[no-untyped-def]
    return load_template("cd19-car-t-panel")


@pytest.mark.parametrize("seed", SEEDS)
def test_every_measurement_within_one_point(seed: int, panel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lot = simulated_lot(tmp_path, seed)
    result = gate_sample(lot.stained, panel, control=lot.fmo)
    assert not [f for f in result.flags if f.code == "not_placed"]
    measured = {m.attribute: m.value for m in result.measurements}
    assert set(measured) == set(lot.truth)
    for attribute, truth in lot.truth.items():
        value = measured[attribute]
        assert value is not None, attribute
        if attribute == "flow.cd4_cd8_ratio":
            # The ratio inherits the 1-point budget of its two parts: with CD4 = a % and
            # CD8 = b % of CD3+, errors of 1 point in each move a/b by at most 1/a + 1/b of
            # itself (about 5 % at a = 50, b = 30).
            cd4 = lot.truth["flow.cd4_pct_of_cd3"]
            cd8 = lot.truth["flow.cd8_pct_of_cd3"]
            tolerance = truth * PERCENT_TOLERANCE * (1 / cd4 + 1 / cd8)
            assert value == pytest.approx(truth, abs=tolerance), attribute
        else:
            assert value == pytest.approx(truth, abs=PERCENT_TOLERANCE), attribute


def test_lots_span_the_release_ranges() -> None:
    from cytorelease.synth import random_params

    car = [random_params(s).car_pct for s in SEEDS]
    viability = [random_params(s).viability_pct for s in SEEDS]
    assert min(car) < 10 and max(car) > 55
    assert min(viability) < 65 and max(viability) > 93
