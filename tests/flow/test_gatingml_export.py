"""GatingML export: FlowKit loads what we write and gates a real file exactly as we do."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import (
    BooleanGate,
    BooleanOp,
    Dimension,
    EllipsoidGate,
    GateRef,
    GatingStrategy,
    PolygonGate,
    Quadrant,
    QuadrantDivider,
    QuadrantGate,
    RatioDimension,
    RectangleGate,
)
from cytorelease.flow.gating.gatingml_export import export_gatingml, gatingml_bytes
from cytorelease.flow.gating.gatingml_import import read_gatingml
from cytorelease.flow.transforms import AsinhTransform, HyperlogTransform, LogicleTransform
from tests.conftest import shared_path

LOGICLE = LogicleTransform(T=262144, W=0.5, M=4.5, A=0)
ASINH = AsinhTransform(T=262144, M=4.5, A=0)
HYPERLOG = HyperlogTransform(T=262144, W=0.5, M=4.5, A=0)


def _panel_strategy() -> GatingStrategy:
    """Gates of every kind on 100715.fcs, on the file's own spill ("FCS") and a named matrix."""
    cd4 = Dimension("V655-A", LOGICLE, "FCS")
    cd8 = Dimension("V800-A", LOGICLE, "FCS")
    two_colour = SpilloverMatrix(
        "TwoColour", ("KI67", "CD127"), ("B515-A", "G560-A"), np.array([[1.0, 0.05], [0.1, 1.0]])
    )
    gates = [
        RectangleGate(
            "cells",
            dimensions=(Dimension("FSC-A"), Dimension("SSC-A")),
            ranges=((30000.0, 90000.0), (None, 5000.0)),
        ),
        RectangleGate(
            "singlets",
            parent="cells",
            dimensions=(RatioDimension("FSC_ratio", "FSC-H", "FSC-A"),),
            ranges=((0.8, 1.2),),
        ),
        RectangleGate(
            "cd3",
            parent="singlets",
            dimensions=(Dimension("R780-A", LOGICLE, "FCS"),),
            ranges=((0.5, None),),
        ),
        PolygonGate(
            "cd4_poly",
            parent="cd3",
            dimensions=(cd4, cd8),
            # self-intersecting on purpose: the overlap is a hole
            vertices=((0.2, 0.2), (0.8, 0.25), (0.7, 0.9), (0.5, 0.3), (0.3, 0.85)),
        ),
        EllipsoidGate(
            "ki67_cd127",
            parent="singlets",
            dimensions=(
                Dimension("KI67", ASINH, "TwoColour"),
                Dimension("CD127", HYPERLOG, "TwoColour"),
            ),
            mean=(0.5, 0.5),
            covariance=((0.01, 0.004), (0.004, 0.02)),
            distance_square=2.0,
        ),
        QuadrantGate(
            "cd4_cd8",
            parent="cd3",
            dividers=(QuadrantDivider("d4", cd4, (0.55,)), QuadrantDivider("d8", cd8, (0.5,))),
            quadrants=(
                Quadrant("cd4_pos_cd8_pos", (("d4", 1.0), ("d8", 1.0))),
                Quadrant("cd4_pos_cd8_neg", (("d4", 1.0), ("d8", 0.0))),
                Quadrant("cd4_neg_cd8_pos", (("d4", 0.0), ("d8", 1.0))),
                Quadrant("cd4_neg_cd8_neg", (("d4", 0.0), ("d8", 0.0))),
            ),
        ),
        BooleanGate(
            "cd4_not_ellipse",
            parent="cd3",
            op=BooleanOp.AND,
            operands=(GateRef("ki67_cd127", complement=True), GateRef("cd4_pos_cd8_neg")),
        ),
        BooleanGate("not_cd3", parent="singlets", op=BooleanOp.NOT, operands=(GateRef("cd3"),)),
    ]
    return GatingStrategy(gates, [two_colour])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    fcs = shared_path("fcs", "100715.fcs")
    sample = read_fcs(fcs)
    assert sample.spill is not None
    strategy = _panel_strategy()
    out = tmp_path_factory.mktemp("gml") / "panel.xml"
    export_gatingml(strategy, out, sample=sample)
    return fcs, sample, strategy, out


def test_flowkit_reproduces_our_counts_and_memberships(exported: tuple) -> None:
    fk = pytest.importorskip("flowkit")
    fcs, sample, strategy, out = exported
    ours = strategy.apply(sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = fk.parse_gating_xml(str(out)).gate_sample(fk.Sample(str(fcs)))
    report = theirs.report.set_index("gate_name")
    assert len(report) == len(ours.populations) == 11
    for row in ours.populations.itertuples():
        assert int(report.loc[row.gate_id, "count"]) == row.count, row.gate_id
        assert np.array_equal(theirs.get_gate_membership(row.gate_id), ours.membership[row.gate_id])
    # the gates are not degenerate: every population is a real, proper subset
    counts = ours.populations.set_index("gate_id")["count"]
    assert 0 < counts["cd4_pos_cd8_neg"] < counts["cd3"] < counts["singlets"] < counts["cells"]
    assert counts["cd4_not_ellipse"] > 0 and counts["not_cd3"] > 0


def test_our_reader_reads_back_the_same_strategy(exported: tuple) -> None:
    _, sample, strategy, out = exported
    again = read_gatingml(out)
    assert [g.id for g in again.gates] == [g.id for g in strategy.gates]
    assert again.apply(sample).populations.equals(strategy.apply(sample).populations)
    xml = out.read_text(encoding="utf-8")
    assert 'transforms:logicle transforms:T="262144.0"' in xml
    assert 'gating:compensation-ref="FCS"' in xml
    assert 'transforms:spectrumMatrix transforms:id="TwoColour"' in xml


def test_export_to_streams_matches_file(exported: tuple) -> None:
    _, sample, strategy, out = exported
    binary, text = io.BytesIO(), io.StringIO()
    export_gatingml(strategy, binary, sample=sample)
    export_gatingml(strategy, text, sample=sample)
    assert binary.getvalue() == out.read_bytes() == text.getvalue().encode("utf-8")


def test_labels_are_written_as_pnn_when_the_sample_is_given(exported: tuple) -> None:
    _, sample, _, _ = exported
    by_label = GatingStrategy(
        [
            RectangleGate(
                "cd3", dimensions=(Dimension("CD3", LOGICLE, "FCS"),), ranges=((0.5, None),)
            )
        ]
    )
    xml = gatingml_bytes(by_label, sample=sample).decode()
    assert 'data-type:name="R780-A"' in xml and '"CD3"' not in xml


def test_ids_that_gatingml_cannot_hold_are_refused() -> None:
    strategy = GatingStrategy(
        [RectangleGate("CD3+", dimensions=(Dimension("FL1-H"),), ranges=((1.0, None),))]
    )
    with pytest.raises(TemplateError, match=r"gate id 'CD3\+' cannot be written to GatingML"):
        gatingml_bytes(strategy)


def test_compliance_document_survives_export_through_flowkit(tmp_path: Path) -> None:
    """Import the suite's all-gates document, export it, gate data1.fcs in FlowKit: same events.

    Covers every construct the suite uses (quadrants, booleans with complements, ratio and log
    ratio dimensions, a spectrumMatrix, all five scale transforms) on the way out.
    """
    fk = pytest.importorskip("flowkit")
    fcs = shared_path("gatingml", "data1.fcs")
    sample = read_fcs(fcs)
    strategy = read_gatingml(shared_path("gatingml", "gml", "gml_all_gates.xml"))
    ours = strategy.apply(sample)
    out = tmp_path / "all_gates_again.xml"
    export_gatingml(strategy, out, sample=sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = fk.parse_gating_xml(str(out)).gate_sample(fk.Sample(str(fcs)))
    assert len(ours.membership) == 49
    for gate_id, membership in ours.membership.items():
        assert np.array_equal(theirs.get_gate_membership(gate_id), membership), gate_id
