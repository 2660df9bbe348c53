"""The acceptance-spec document (schema 1): pydantic models with ``extra="forbid"``.

A spec is a list of criteria. Each criterion has a *kind* that decides which fields it takes:

- ``numeric``: ``limit`` with ``min`` and/or ``max`` (each inclusive unless the flag says not);
- ``range``: as numeric, but both bounds are required;
- ``qualitative``: ``allowed`` outcomes (``conforms``, ``not detected``, ``no growth`` ...);
- ``report-only``: reported, never judged (``decimals`` optional);
- ``derived``: ``formula`` over other attributes, declaring a ``derived.*`` attribute, with an
  optional ``limit`` (no limit: reported only);
- ``composite``: ``all_of`` other criteria (AND); passes only when every component passes.

Cross-field rules that need the whole spec (known attributes, formula names, cycles, units)
live in :mod:`cytorelease.spec.checks`, where they can name the exact field path.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from cytorelease.signature_policy import DEFAULT_POLICY, SignaturePolicy
from cytorelease.spec.rounding import format_number, to_decimal

__all__ = [
    "Category",
    "CompositeCriterion",
    "Criterion",
    "CriterionKind",
    "DerivedCriterion",
    "Limit",
    "NumericCriterion",
    "QualitativeCriterion",
    "RangeCriterion",
    "ReportOnlyCriterion",
    "Spec",
    "SpecStatus",
    "Timing",
]

SCHEMA_VERSION = 1


class SpecStatus(StrEnum):
    DRAFT = "draft"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class Category(StrEnum):
    GENERAL = "general"  # appearance and other descriptive tests
    IDENTITY = "identity"
    PURITY = "purity"
    POTENCY = "potency"
    SAFETY = "safety"
    STRENGTH = "strength"


class Timing(StrEnum):
    PRE_RELEASE = "pre-release"
    POST_RELEASE = "post-release"  # may be pending at release; added later by signed addendum


class CriterionKind(StrEnum):
    NUMERIC = "numeric"
    RANGE = "range"
    QUALITATIVE = "qualitative"
    REPORT_ONLY = "report-only"
    DERIVED = "derived"
    COMPOSITE = "composite"


def _limit_number(value: Any) -> Decimal:
    """YAML gives floats or strings (PyYAML reads ``6.0e8`` as a string); keep the decimal text."""
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


LimitNumber = Annotated[Decimal, BeforeValidator(_limit_number)]
_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    """Numeric bounds; each bound is inclusive unless its flag is false."""

    min: LimitNumber | None = None
    max: LimitNumber | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> Limit:
        if self.min is None and self.max is None:
            raise ValueError("a limit needs min, max or both")
        if self.min is not None and self.max is not None:
            if self.min > self.max:
                raise ValueError(f"min {self.min} is greater than max {self.max}")
            if self.min == self.max and not (self.min_inclusive and self.max_inclusive):
                raise ValueError(f"min and max are both {self.min} with an exclusive bound")
        return self

    def contains(self, value: Decimal) -> bool:
        """Whether a (rounded) value lies within the bounds."""
        if self.min is not None and (
            value < self.min or (value == self.min and not self.min_inclusive)
        ):
            return False
        return not (
            self.max is not None
            and (value > self.max or (value == self.max and not self.max_inclusive))
        )

    def printed(self, decimals: int, exponent: int, unit: str) -> str:
        """The limit as a CoA prints it: ``>= 80.0 %``, ``>= 0.6 x 10^8 and <= 6.0 x 10^8 cells``."""
        parts = []
        if self.min is not None:
            op = ">=" if self.min_inclusive else ">"
            parts.append(f"{op} {format_number(self.min, decimals, exponent, display=True)}")
        if self.max is not None:
            op = "<=" if self.max_inclusive else "<"
            parts.append(f"{op} {format_number(self.max, decimals, exponent, display=True)}")
        text = " and ".join(parts)
        return f"{text} {unit}" if unit else text


class _CriterionBase(_Strict):
    id: Annotated[str, Field(pattern=_ID_PATTERN, description="stable id, e.g. 'viability'")]
    test: Annotated[str, Field(min_length=1, description="the test's name on the CoA")]
    category: Category
    attribute: str
    unit: str = ""
    method: Annotated[str, Field(min_length=1)]
    timing: Timing = Timing.PRE_RELEASE
    description: str | None = None

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Ids of other criteria this one is computed from (composite components)."""
        return ()

    @property
    def reads(self) -> tuple[str, ...]:
        """Attributes this criterion reads: its own, or its formula's inputs."""
        return (self.attribute,)

    def printed_limit(self) -> str:
        raise NotImplementedError


class _Rounded(_Strict):
    decimals: Annotated[int, Field(ge=0, le=12, description="places of the limit (USP 7.20)")]
    exponent: Annotated[int, Field(ge=-12, le=18, description="report as x 10^exponent")] = 0


class NumericCriterion(_CriterionBase, _Rounded):
    kind: Literal[CriterionKind.NUMERIC]
    limit: Limit
    alert: Limit | None = None

    def printed_limit(self) -> str:
        return self.limit.printed(self.decimals, self.exponent, self.unit)


class RangeCriterion(NumericCriterion):  # type: ignore[misc]
    kind: Literal[CriterionKind.RANGE]  # type: ignore[assignment]

    @model_validator(mode="after")
    def _both_bounds(self) -> RangeCriterion:
        if self.limit.min is None or self.limit.max is None:
            raise ValueError("a range criterion needs both limit.min and limit.max")
        return self


class QualitativeCriterion(_CriterionBase):
    kind: Literal[CriterionKind.QUALITATIVE]
    allowed: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]

    def printed_limit(self) -> str:
        return " or ".join(self.allowed)


class ReportOnlyCriterion(_CriterionBase):
    kind: Literal[CriterionKind.REPORT_ONLY]
    decimals: Annotated[int | None, Field(ge=0, le=12)] = None
    exponent: Annotated[int, Field(ge=-12, le=18)] = 0

    def printed_limit(self) -> str:
        return "report"


class DerivedCriterion(_CriterionBase, _Rounded):
    kind: Literal[CriterionKind.DERIVED]
    formula: Annotated[str, Field(min_length=1)]
    limit: Limit | None = None
    alert: Limit | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        from cytorelease.spec.formula import parse_formula

        return parse_formula(self.formula).names

    def printed_limit(self) -> str:
        if self.limit is None:
            return "report"
        return self.limit.printed(self.decimals, self.exponent, self.unit)


class CompositeCriterion(_Strict):
    """AND of other criteria, named by id; it reads no attribute of its own."""

    kind: Literal[CriterionKind.COMPOSITE]
    id: Annotated[str, Field(pattern=_ID_PATTERN)]
    test: Annotated[str, Field(min_length=1)]
    category: Category
    all_of: Annotated[list[str], Field(min_length=2)]
    method: str = "composite"
    timing: Timing = Timing.PRE_RELEASE
    description: str | None = None

    @property
    def attribute(self) -> None:
        """A composite reads no attribute of its own (its components do)."""
        return None

    @property
    def unit(self) -> str:
        return ""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(self.all_of)

    @property
    def reads(self) -> tuple[str, ...]:
        return ()

    def printed_limit(self) -> str:
        return "all of: " + ", ".join(self.all_of)


Criterion = Annotated[
    NumericCriterion
    | RangeCriterion
    | QualitativeCriterion
    | ReportOnlyCriterion
    | DerivedCriterion
    | CompositeCriterion,
    Field(discriminator="kind"),
]


class Spec(_Strict):
    """One version of a product's acceptance spec."""

    schema_version: Literal[1]
    product: Annotated[str, Field(pattern=_ID_PATTERN)]
    version: Annotated[int, Field(ge=1)]
    title: str | None = None
    status: SpecStatus
    effective_from: date | None = None
    supersedes: Annotated[int | None, Field(ge=1)] = None
    market: Annotated[str, Field(min_length=1)]
    criteria: Annotated[list[Criterion], Field(min_length=1)]
    # Who may sign the CoA what (part of the spec's hash; the defaults when silent).
    signature_policy: SignaturePolicy = DEFAULT_POLICY

    @property
    def ref(self) -> str:
        return f"{self.product}@{self.version}"

    def criterion(self, criterion_id: str) -> Any:
        """The criterion with this id (``KeyError`` when absent)."""
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)
