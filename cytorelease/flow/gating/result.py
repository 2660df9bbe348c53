"""The result of applying a gating template to a sample: placed gates, populations, flags,
measurements, and the per-event membership of every population."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cytorelease.measurement import Measurement
from cytorelease.provenance import software

if TYPE_CHECKING:
    from cytorelease.flow.gating._placers import PlacedGate
    from cytorelease.flow.gating.strategy import GatingStrategy
    from cytorelease.flow.sample import Sample

__all__ = ["POPULATION_COLUMNS", "Flag", "FlagCode", "FlowGatingResult"]

POPULATION_COLUMNS = (
    "path",
    "name",
    "gate_id",
    "parent",
    "count",
    "parent_count",
    "percent_of_parent",
    "percent_of_total",
)


class FlagCode(StrEnum):
    NOT_PLACED = "not_placed"  # a data-driven gate found nothing to place (unimodal, empty...)
    LOW_COUNT = "low_count"  # a population holds fewer events than the template's minimum
    NO_COMPENSATION = "no_compensation"  # the template asks for the file's spill; it has none
    ACQUISITION_QC = "acquisition_qc"  # time segments were removed
    FALLBACK_RULE = "fallback_rule"  # placed by a declared fallback (e.g. unimodal tail rule)
    SATURATION = "saturation"  # a channel the gates read has many events at its ceiling
    NONFINITE_EVENTS = "nonfinite_events"  # events hold NaN/+-inf in a channel the gates read


@dataclass(frozen=True, slots=True)
class Flag:
    code: FlagCode
    gate: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "gate": self.gate, "message": self.message}


@dataclass(frozen=True)
class FlowGatingResult:
    """Everything one template run produced on one sample."""

    template: dict[str, str]  # id, version, sha256
    sample: Sample
    control: Sample | None
    placed: tuple[PlacedGate, ...]
    populations: pd.DataFrame  # POPULATION_COLUMNS, in tree order
    flags: tuple[Flag, ...]
    measurements: tuple[Measurement, ...]
    membership: Mapping[str, np.ndarray]  # template gate id -> bool per event
    strategy: GatingStrategy  # the placed gates, as the engine's gate tree
    details: dict[str, Any] = field(default_factory=dict)
    # events left out of gating (non-finite values), one bool per event; None when none were
    screened: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "membership", MappingProxyType(dict(self.membership)))

    def gated_events(self) -> np.ndarray:
        """The events the gates were placed on and applied to: "all events" of a plot."""
        if self.screened is None:
            return np.ones(self.sample.event_count, dtype=bool)
        return ~self.screened

    def count(self, gate_id: str) -> int:
        return int(np.count_nonzero(self.membership[gate_id]))

    def measurement(self, attribute: str) -> Measurement:
        for m in self.measurements:
            if m.attribute == attribute:
                return m
        raise KeyError(attribute)

    def membership_frame(self) -> pd.DataFrame:
        """One 0/1 column per gate id, one row per event."""
        return pd.DataFrame({g: m.astype(np.uint8) for g, m in self.membership.items()})

    def population_records(self) -> list[dict[str, Any]]:
        records = []
        for row in self.populations.itertuples(index=False):
            records.append(
                {
                    "path": row.path,
                    "name": row.name,
                    "gate_id": row.gate_id,
                    "count": int(row.count),
                    "parent_count": int(row.parent_count),
                    "percent_of_parent": _finite(row.percent_of_parent),
                    "percent_of_total": _finite(row.percent_of_total),
                }
            )
        return records

    def to_dict(self) -> dict[str, Any]:
        inputs = {"sample": {"path": str(self.sample.path), "sha256": self.sample.sha256}}
        if self.control is not None:
            inputs["control"] = {"path": str(self.control.path), "sha256": self.control.sha256}
        return {
            "template": dict(self.template),
            "inputs": inputs,
            "software": software(),
            "event_count": self.sample.event_count,
            "populations": self.population_records(),
            "gates": [p.to_dict() for p in self.placed],
            "saturation": self.details.get("saturation", []),
            "nonfinite": self.details.get("nonfinite"),
            "flags": [f.to_dict() for f in self.flags],
            "measurements": [m.to_dict() for m in self.measurements],
        }


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
