"""Gating: gate kinds with their own ``apply()``, gate trees, GatingML 2.0 import and export.

Public API (everything else in this package is private to it)::

    from cytorelease.flow.gating import (
        Dimension, RatioDimension, RectangleGate, PolygonGate, EllipsoidGate,
        QuadrantGate, QuadrantDivider, Quadrant, BooleanGate, BooleanOp, GateRef,
        GatingStrategy, GatingResult, read_gatingml, export_gatingml,
        load_template, gate_sample, FlowGatingResult,   # data-driven templates
    )
"""

from __future__ import annotations

from cytorelease.flow.gating.dimensions import (
    ArrayEvents,
    CompensationRef,
    Dimension,
    EventSource,
    RatioDimension,
)
from cytorelease.flow.gating.gates import (
    BooleanGate,
    BooleanOp,
    EllipsoidGate,
    Gate,
    GateRef,
    PolygonGate,
    Quadrant,
    QuadrantDivider,
    QuadrantGate,
    RectangleGate,
)
from cytorelease.flow.gating.strategy import GatingResult, GatingStrategy

__all__ = [
    "ArrayEvents",
    "BooleanGate",
    "BooleanOp",
    "CompensationRef",
    "Dimension",
    "EllipsoidGate",
    "EventSource",
    "FlowGatingResult",
    "Gate",
    "GateRef",
    "GatingResult",
    "GatingStrategy",
    "PolygonGate",
    "Quadrant",
    "QuadrantDivider",
    "QuadrantGate",
    "RatioDimension",
    "RectangleGate",
    "export_gatingml",
    "gate_sample",
    "load_template",
    "read_gatingml",
]


def __getattr__(name: str) -> object:
    # GatingML import/export pull in XML libraries; load them on first use only
    if name == "read_gatingml":
        from cytorelease.flow.gating.gatingml_import import read_gatingml

        return read_gatingml
    if name == "export_gatingml":
        from cytorelease.flow.gating.gatingml_export import export_gatingml

        return export_gatingml
    if name == "load_template":
        from cytorelease.flow.gating.template import load_template

        return load_template
    if name == "gate_sample":
        from cytorelease.flow.gating.pipeline import gate_sample

        return gate_sample
    if name == "FlowGatingResult":
        from cytorelease.flow.gating.result import FlowGatingResult

        return FlowGatingResult
    raise AttributeError(name)
