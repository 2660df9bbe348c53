"""The measurement record every analysis produces and every spec evaluates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Measurement", "MethodRef"]


@dataclass(frozen=True, slots=True)
class MethodRef:
    """The versioned definition (gating template, assay) a measurement was made with."""

    kind: str  # "gating-template", "assay", "manual", "derived"
    id: str
    version: str
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One reportable quantity: attribute, value, unit, how it was made and from which inputs.

    ``value`` is a float for quantities, a string for qualitative results ("detected",
    "conforms"), or None when the analysis ran but could not produce a value (``details`` then
    says why).
    """

    attribute: str
    value: float | str | bool | None
    unit: str
    method: MethodRef | None = None
    inputs: tuple[str, ...] = ()  # sha256 of every raw file used
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "value": self.value,
            "unit": self.unit,
            "method": self.method.to_dict() if self.method else None,
            "inputs": list(self.inputs),
            "details": self.details,
        }
