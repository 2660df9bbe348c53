"""A placed gate described as plain data names every part of its shape (JSON, result record)."""

from __future__ import annotations

import pytest

from cytorelease.flow.gating._placers import PlacedGate
from cytorelease.flow.gating.dimensions import Dimension, RatioDimension
from cytorelease.flow.gating.gates import (
    BooleanGate,
    BooleanOp,
    Gate,
    GateRef,
    Quadrant,
    QuadrantDivider,
    QuadrantGate,
    RectangleGate,
)
from cytorelease.flow.gating.template_model import GateKind

X = Dimension("CD4")
Y = Dimension("CD8")


def _quadrants() -> QuadrantGate:
    return QuadrantGate(
        "tcells",
        parent="lymphocytes",
        dividers=(QuadrantDivider("d4", X, (2.5,)), QuadrantDivider("d8", Y, (1.0, 3.0))),
        quadrants=(
            Quadrant("cd4_single", (("d4", 5.0), ("d8", 0.0))),
            Quadrant("cd8_high", (("d8", 4.0),)),
        ),
    )


def test_a_quadrant_gate_is_described_with_its_dividers_and_quadrants() -> None:
    described = _quadrants().describe()
    assert described["type"] == "QuadrantGate"
    assert described["parent"] == "lymphocytes"
    assert described["dividers"] == [
        {
            "id": "d4",
            "dimension": {"channel": "CD4", "compensation": None, "transform": None},
            "values": [2.5],
        },
        {
            "id": "d8",
            "dimension": {"channel": "CD8", "compensation": None, "transform": None},
            "values": [1.0, 3.0],
        },
    ]
    assert described["quadrants"] == [
        {"id": "cd4_single", "positions": [["d4", 5.0], ["d8", 0.0]]},
        {"id": "cd8_high", "positions": [["d8", 4.0]]},
    ]


def test_a_ratio_dimension_is_described_not_dropped() -> None:
    ratio = RatioDimension("ratio_4_8", "CD4", "CD8", A=2.0)
    gate = RectangleGate("r", dimensions=(ratio,), ranges=((0.5, None),))
    (dim,) = gate.describe()["dimensions"]
    assert dim["ratio"] == "ratio_4_8"
    assert (dim["numerator"], dim["denominator"], dim["A"]) == ("CD4", "CD8", 2.0)


def test_a_complemented_operand_is_named() -> None:
    gate = BooleanGate(
        "not_debris", op=BooleanOp.AND, operands=(GateRef("cells"), GateRef("debris", True))
    )
    described = gate.describe()
    assert described["operands"] == ["cells", "debris"]
    assert described["complemented"] == ["debris"]
    assert (
        "complemented"
        not in BooleanGate(
            "both", op=BooleanOp.AND, operands=(GateRef("a"), GateRef("b"))
        ).describe()
    )


def test_a_placed_gate_carries_the_descriptions() -> None:
    placed = PlacedGate("tcells", GateKind.RECTANGLE, (_quadrants(),))
    (gate,) = placed.to_dict()["gates"]
    assert [d["id"] for d in gate["dividers"]] == ["d4", "d8"]


def test_a_gate_kind_without_a_description_is_refused() -> None:
    class Odd(Gate):
        def apply(self, events):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    with pytest.raises(TypeError, match="no description for Odd"):
        Odd("odd").describe()
