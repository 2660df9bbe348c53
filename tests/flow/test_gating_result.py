"""One result type, whatever applied the gates: a gate tree, a GatingML document, a template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import TemplateError
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import (
    Dimension,
    GatingResult,
    GatingStrategy,
    PolygonGate,
    RectangleGate,
    export_gatingml,
    gate_file,
    gate_sample,
    load_template,
)
from cytorelease.flow.gating.result import POPULATION_COLUMNS
from tests.conftest import shared_path
from tests.flow.gating_lots import simulated_lot
from tests.flow.test_gate_plots import TEMPLATE

FSC, SSC = Dimension("FSC-A"), Dimension("SSC-A")


def _strategy() -> GatingStrategy:
    return GatingStrategy(
        [
            RectangleGate("cells", dimensions=(FSC, SSC), ranges=((30000.0, 90000.0), (None, 5e4))),
            PolygonGate(
                "core",
                parent="cells",
                dimensions=(FSC, SSC),
                vertices=((40000.0, 0.0), (80000.0, 0.0), (60000.0, 30000.0)),
            ),
        ]
    )


def test_a_gate_tree_and_its_gatingml_document_give_the_same_result(tmp_path: Path) -> None:
    fcs = shared_path("fcs", "100715.fcs")
    strategy = _strategy()
    applied = strategy.apply(read_fcs(fcs))
    document = tmp_path / "tree.xml"
    export_gatingml(strategy, document)
    run = gate_file(fcs, document).result
    assert type(applied) is type(run) is GatingResult
    assert list(applied.populations.columns) == list(POPULATION_COLUMNS)
    assert run.populations.equals(applied.populations)
    assert run.population_records() == applied.population_records()
    assert 0 < applied.count("core") < applied.count("cells")
    for gate_id, members in applied.membership.items():
        assert np.array_equal(run.membership[gate_id], members)
    # the document run says what it ran; the tree alone has nothing placed
    assert run.template["version"] == "GatingML 2.0"
    assert [(p.id, p.kind.value) for p in run.placed] == [
        ("cells", "rectangle"),
        ("core", "polygon"),
    ]
    assert applied.template == {} and applied.placed == ()
    with pytest.raises(TemplateError, match="no population 'nope'"):
        applied.count("nope")


def test_a_template_run_is_the_same_table_as_its_placed_gates_applied(tmp_path: Path) -> None:
    lot = simulated_lot(tmp_path / "lot", 5)
    template = tmp_path / "rectangle.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    result = gate_sample(lot.stained, load_template(template))
    again = result.strategy.apply(lot.stained)
    assert type(again) is GatingResult
    assert list(result.populations["name"]) == ["big cells"]  # the template's name
    columns = [c for c in POPULATION_COLUMNS if c != "name"]
    assert result.populations[columns].equals(again.populations[columns])
    assert result.population_records()[0].keys() == again.population_records()[0].keys()
