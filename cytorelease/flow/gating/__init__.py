"""Gating: gate kinds with their own ``apply()``, gate trees, GatingML 2.0 import and export.

Public API (everything else in this package is private to it)::

    from cytorelease.flow.gating import (
        Dimension, RatioDimension, RectangleGate, PolygonGate, EllipsoidGate,
        QuadrantGate, QuadrantDivider, Quadrant, BooleanGate, BooleanOp, GateRef,
        GatingStrategy, GatingResult, read_gatingml, export_gatingml,
        load_template, gate_sample, FlowGatingResult, FlagCode,   # data-driven templates
    )
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # loaded on first use (``__getattr__``), typed for the checker here
    from cytorelease.flow.gating.gatingml_export import export_gatingml
    from cytorelease.flow.gating.gatingml_import import read_gatingml
    from cytorelease.flow.gating.pipeline import gate_sample
    from cytorelease.flow.gating.result import FlagCode, FlowGatingResult
    from cytorelease.flow.gating.template import load_template

__all__ = [
    "ArrayEvents",
    "BooleanGate",
    "BooleanOp",
    "CompensationRef",
    "Dimension",
    "EllipsoidGate",
    "EventSource",
    "FlagCode",
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
    if name == "FlagCode":
        from cytorelease.flow.gating.result import FlagCode

        return FlagCode
    raise AttributeError(name)
