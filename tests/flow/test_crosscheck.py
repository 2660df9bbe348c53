"""The cross-check of gates by clusters (cytorelease.flow.crosscheck) on generated tubes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import TemplateError
from cytorelease.flow.crosscheck import ClusterLevel, Labelling, cross_check
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import write_fcs
from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.result import GatingResult
from cytorelease.flow.gating.template import load_template, parse_template
from cytorelease.flow.gating.template_model import CrossCheckPopulation, Template
from cytorelease.synth import Population, random_params, simulate_tube

TEMPLATE = "cd19-car-t-panel"
T_CELLS = [Population.T_CD4, Population.T_CD8, Population.T_DN]
CAR_T = [Population.T_CD4_CAR, Population.T_CD8_CAR, Population.T_DN_CAR]


def _template_text() -> tuple[str, Path]:
    template = load_template(TEMPLATE)
    assert template.source is not None
    return template.source.read_text(encoding="utf-8"), template.source


def _gated(tmp: Path, lot_seed: int, template: Template) -> tuple[GatingResult, float]:
    """Gate a 30k-event tube of ``random_params(lot_seed)``; returns the result and the true CAR
    % of T cells (outside the clog segment)."""
    params = random_params(lot_seed)
    stained = simulate_tube(30_000, seed=(lot_seed, 1), params=params)
    fmo = simulate_tube(15_000, seed=(lot_seed, 2), params=params, fmo=True)
    paths = []
    for name, tube in (("stained.fcs", stained), ("fmo.fcs", fmo)):
        paths.append(write_fcs(tmp / name, tube.events, tube.channels, spill=tube.spill))
    gating = gate_sample(read_fcs(paths[0]), template, control=read_fcs(paths[1]))
    kept = stained.labels[~stained.qc_segment]
    car = np.isin(kept, CAR_T).sum()
    return gating, 100.0 * car / (car + np.isin(kept, T_CELLS).sum())


@pytest.fixture(scope="module", params=[1, 4], ids=["car-12pct", "car-59pct"])
def lot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    template = load_template(TEMPLATE)
    gating, true_car = _gated(tmp_path_factory.mktemp("xc"), request.param, template)
    return template, gating, true_car


@pytest.mark.parametrize("labelling", list(Labelling))
def test_right_gates_agree_with_clusters(lot, labelling: Labelling) -> None:
    template, gating, true_car = lot
    result = cross_check(gating, template, labelling=labelling)
    assert result.clustered == "viable" and not result.flagged
    assert result.clustering.n_events == gating.count("viable")
    assert [p.gate for p in result.populations] == ["cd3", "car"]
    cd3, car = result.populations
    assert (cd3.parent, cd3.marker, car.parent, car.marker) == ("viable", "cd3", "cd3", "car")
    # measured on 8 generated lots: within 0.5 points of the gates for every labelling
    for check in result.populations:
        assert abs(check.difference_pct) < 1.5
        assert check.max_difference_pct == 5.0
        assert check.difference_pct == pytest.approx(check.cluster_pct - check.gate_pct)
    assert abs(car.cluster_pct - true_car) < 1.5  # the clusters find the generator's CAR+ cells


def test_metacluster_level(lot) -> None:
    template, gating, _ = lot
    result = cross_check(gating, template, level=ClusterLevel.METACLUSTER)
    assert not result.flagged and result.to_dict()["level"] == "metacluster"


def test_a_wrong_gate_is_flagged(lot, tmp_path: Path) -> None:
    """A CAR gate at the FMO's median (not its 99.5th percentile) calls half the CAR- cells
    positive; the clusters still see the CAR+ population where it is."""
    text, source = _template_text()
    assert "percentile: 99.5" in text
    wrong = parse_template(text.replace("percentile: 99.5", "percentile: 50"), path=source)
    _, right_gating, true_car = lot
    gating = gate_sample(right_gating.sample, wrong, control=right_gating.control)
    result = cross_check(gating, wrong)
    assert result.flagged
    cd3, car = result.populations
    assert not cd3.flagged
    assert car.flagged and car.difference_pct < -15.0  # the gate over-reports by > 15 points
    assert abs(car.cluster_pct - true_car) < 1.5
    document = result.to_dict()
    assert document["flagged"] is True and document["template"]["id"] == TEMPLATE
    assert document["sample_sha256"] == gating.sample.sha256
    assert document["populations"][1]["gate"] == "car" and document["populations"][1]["flagged"]


def test_tighter_tolerance_from_arguments(lot) -> None:
    template, gating, _ = lot
    result = cross_check(
        gating, template, populations=[CrossCheckPopulation(gate="car", max_difference_pct=1e-9)]
    )
    assert [p.gate for p in result.populations] == ["car"] and result.clustered == "cd3"
    assert result.flagged  # no estimate matches a gate to 1e-9 points


def test_template_without_cross_check(lot) -> None:
    text, source = _template_text()
    head = text[: text.index("cross_check:")]
    template = parse_template(head, path=source)
    _, gating, _ = lot
    with pytest.raises(TemplateError, match="template 'cd19-car-t-panel' has no cross_check"):
        cross_check(gating, template)


def test_non_threshold_gate_is_refused(lot) -> None:
    template, gating, _ = lot
    with pytest.raises(
        TemplateError, match="gate 'singlets' \\(singlet_band\\) is not a one-marker"
    ):
        cross_check(
            gating,
            template,
            populations=[CrossCheckPopulation(gate="singlets", max_difference_pct=5.0)],
        )
