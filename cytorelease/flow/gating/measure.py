"""The template's measurements from population counts, each with its counts and provenance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cytorelease.attributes import ATTRIBUTES
from cytorelease.flow.gating.template_model import MeasurementKind, Template
from cytorelease.measurement import Measurement, MethodRef

if TYPE_CHECKING:
    from cytorelease.flow.gating._placers import PlacedGate
    from cytorelease.flow.gating.result import PopulationRow
    from cytorelease.flow.sample import Sample

__all__ = ["template_measurements"]


def template_measurements(
    template: Template,
    template_ref: Mapping[str, str],
    populations: tuple[PopulationRow, ...],
    placed: Mapping[str, PlacedGate],
    sample: Sample,
    control: Sample | None,
) -> tuple[Measurement, ...]:
    """Every measurement the template declares; None (with the reason) when it cannot be made.

    A population below the template's minimum count still reports its value, with a
    ``low_count`` entry in ``details["flags"]`` naming it: flagged, never silent.
    """
    rows = {row.gate_id: row for row in populations}
    method = MethodRef(
        "gating-template", template_ref["id"], template_ref["version"], template_ref["sha256"]
    )
    inputs = (sample.sha256,) + ((control.sha256,) if control is not None else ())
    out = []
    for spec in template.measurements:
        numerator = rows[spec.numerator]
        denominator_id = spec.denominator or numerator.parent
        n = int(numerator.count)
        d = int(rows[denominator_id].count) if denominator_id else sample.event_count
        details: dict[str, Any] = {
            "numerator": {"population": spec.numerator, "count": n},
            "denominator": {"population": denominator_id or "all events", "count": d},
        }
        involved = [g for g in (spec.numerator, denominator_id) if g is not None]
        flags = [
            f"low_count: {rows[g].name} holds {int(rows[g].count)} events "
            f"(minimum {template.min_events_for(g)})"
            for g in involved
            if rows[g].count < template.min_events_for(g)
        ]
        unplaced = [g for g in involved if not placed[g].placed]
        value: float | None
        if unplaced:
            value = None
            details["reason"] = f"gate {unplaced[0]!r} not placed: {placed[unplaced[0]].reason}"
        elif d == 0:
            value = None
            details["reason"] = f"the denominator population {denominator_id!r} is empty"
        elif spec.kind is MeasurementKind.RATIO:
            value = n / d
        elif spec.kind is MeasurementKind.REMOVED_PERCENT:
            value = 100.0 * (1.0 - n / d)
        else:
            value = 100.0 * n / d
        if flags:
            details["flags"] = flags
        out.append(
            Measurement(
                attribute=spec.attribute,
                value=value,
                unit=ATTRIBUTES[spec.attribute].unit,
                method=method,
                inputs=inputs,
                details=details,
            )
        )
    return tuple(out)
