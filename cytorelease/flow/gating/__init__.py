"""Gating: gate kinds with their own ``apply()``, gate trees, GatingML 2.0 import and export.

Public API (everything else in this package is private to it)::

    from cytorelease.flow.gating import (
        Dimension, RatioDimension, RectangleGate, PolygonGate, EllipsoidGate,
        QuadrantGate, QuadrantDivider, Quadrant, BooleanGate, BooleanOp, GateRef,
        GatingStrategy, GatingResult, FlagCode, read_gatingml, export_gatingml,
        load_template, gate_sample,   # data-driven templates
        gate_file, GateRun,           # ``flow gate``: read the tubes, gate, write the outputs
    )

:class:`GatingResult` is the one result of gating a sample, whatever applied the gates (a gate
tree, a template, a GatingML document): the tidy table of populations (path, name, gate id,
parent, count, parent count, % of parent, % of total) and the membership of every population.
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
from cytorelease.flow.gating.result import FlagCode, GatingResult
from cytorelease.flow.gating.strategy import GatingStrategy

if TYPE_CHECKING:  # loaded on first use (``__getattr__``), typed for the checker here
    from cytorelease.flow.gating.gatingml_export import export_gatingml
    from cytorelease.flow.gating.gatingml_import import read_gatingml
    from cytorelease.flow.gating.pipeline import gate_sample
    from cytorelease.flow.gating.run import GateRun, gate_file
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
    "Gate",
    "GateRef",
    "GateRun",
    "GatingResult",
    "GatingStrategy",
    "PolygonGate",
    "Quadrant",
    "QuadrantDivider",
    "QuadrantGate",
    "RatioDimension",
    "RectangleGate",
    "export_gatingml",
    "gate_file",
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
    if name in ("gate_file", "GateRun"):
        from cytorelease.flow.gating import run

        return getattr(run, name)
    raise AttributeError(name)
