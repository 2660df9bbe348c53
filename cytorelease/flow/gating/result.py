"""The result of gating one sample, :class:`GatingResult`: every population's counts in one
tidy table, the per-event membership of every population, and, when a template or a GatingML
document was applied, the placed gates, flags and measurements.

:meth:`~cytorelease.flow.gating.strategy.GatingStrategy.apply` gives the table and memberships
of a gate tree; :func:`~cytorelease.flow.gating.pipeline.gate_sample` (a template) and
:func:`~cytorelease.flow.gating.run.gate_with_gatingml` (a document) fill in the rest.

A population's ``path`` is the tuple of gate ids from the top of the tree down to it, inclusive:
``("cells", "singlets", "cd45")``; records (JSON) join it with ``/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.measurement import Measurement
from cytorelease.provenance import software

if TYPE_CHECKING:
    import pandas as pd

    from cytorelease.flow.gating._placers import PlacedGate
    from cytorelease.flow.gating.strategy import GatingStrategy
    from cytorelease.flow.sample import Sample

__all__ = ["POPULATION_COLUMNS", "Flag", "FlagCode", "GatingResult", "PopulationRow"]

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


@dataclass(frozen=True, slots=True)
class PopulationRow:
    """One population's counts: a row of :attr:`GatingResult.populations`."""

    path: tuple[str, ...]
    name: str
    gate_id: str
    parent: str | None
    count: int
    parent_count: int
    percent_of_parent: float
    percent_of_total: float

    def values(self) -> tuple[Any, ...]:
        """The row in POPULATION_COLUMNS order."""
        return tuple(getattr(self, name) for name in POPULATION_COLUMNS)


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
class GatingResult:
    """One sample gated: counts, memberships and, from a template or document, what placed them."""

    # POPULATION_COLUMNS, in tree order (parents before children). Plain rows, not a
    # DataFrame: pandas costs a gating process ~0.3 s of import and is loaded only when
    # `populations` is asked for.
    rows: tuple[PopulationRow, ...]
    membership: Mapping[str, np.ndarray]  # gate id -> bool per event, in the table's order
    sample: Sample
    strategy: GatingStrategy  # the gates applied, as the engine's gate tree
    template: Mapping[str, str] = field(default_factory=dict)  # id, version, sha256
    control: Sample | None = None
    placed: tuple[PlacedGate, ...] = ()
    flags: tuple[Flag, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    # events left out of gating (non-finite values), one bool per event; None when none were
    screened: np.ndarray | None = None
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "membership", MappingProxyType(dict(self.membership)))
        object.__setattr__(self, "rows", population_rows(self.rows))
        self._index.update({row.gate_id: i for i, row in enumerate(self.rows)})

    @cached_property
    def populations(self) -> pd.DataFrame:
        """The rows as a DataFrame (POPULATION_COLUMNS; text columns hold Python objects)."""
        from cytorelease.flow.gating.strategy import population_frame

        return population_frame([row.values() for row in self.rows], POPULATION_COLUMNS)

    def gated_events(self) -> np.ndarray:
        """The events the gates were placed on and applied to: "all events" of a plot."""
        if self.screened is None:
            return np.ones(self.sample.event_count, dtype=bool)
        return ~self.screened

    def row(self, gate_id: str) -> PopulationRow:
        if gate_id not in self._index:
            raise TemplateError(
                f"no population {gate_id!r} in this result",
                hint="populations: " + ", ".join(self._index),
            )
        return self.rows[self._index[gate_id]]

    def count(self, gate_id: str) -> int:
        return int(self.row(gate_id).count)

    def percent_of_parent(self, gate_id: str) -> float:
        return float(self.row(gate_id).percent_of_parent)

    def measurement(self, attribute: str) -> Measurement:
        for m in self.measurements:
            if m.attribute == attribute:
                return m
        raise KeyError(attribute)

    def membership_frame(self) -> pd.DataFrame:
        """One 0/1 column per population, one row per event."""
        import pandas as pd

        return pd.DataFrame({g: m.astype(np.uint8) for g, m in self.membership.items()})

    def population_records(self) -> list[dict[str, Any]]:
        """The table as plain records (the path '/'-joined), as JSON and the record show it."""
        records = []
        for row in self.rows:
            records.append(
                {
                    "path": "/".join(row.path),
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
            # the matrix applied: source, its SHA-256 and the files it came from
            "compensation": self.details.get("compensation"),
            "flags": [f.to_dict() for f in self.flags],
            "measurements": [m.to_dict() for m in self.measurements],
        }


def population_rows(rows: Iterable[PopulationRow | tuple[Any, ...]]) -> tuple[PopulationRow, ...]:
    """Rows of POPULATION_COLUMNS, from PopulationRow objects or tuples in that order."""
    out = []
    for row in rows:
        if isinstance(row, PopulationRow):
            out.append(row)
        elif isinstance(row, tuple):
            out.append(PopulationRow(*row))
        else:  # a DataFrame iterates its column names: refused, never read as rows
            raise TypeError(f"a population row is a PopulationRow or a tuple, not {row!r}")
    return tuple(out)


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
