"""Measurements + spec -> a verdict per criterion and the lot's disposition.

Verdicts: ``pass``, ``fail``, ``report-only``, ``missing`` (a pre-release result is absent),
``pending`` (a post-release result is absent: it follows by signed addendum and does not block)
and ``unverified`` (a manual result without a second person's verification, or a formula over
one: shown, never judged).
Numeric results are rounded first (USP 7.20, see :mod:`rounding`) and the *rounded* value is
compared; it is reported as a decimal string.

Disposition: ``FAIL`` when any criterion fails (a failure dominates: a lot that has already
failed is not "incomplete"); otherwise ``INCOMPLETE`` when any pre-release criterion is missing
(report-only ones included: the CoA must state them) or any criterion is unverified; otherwise
``PASS``. Alert-band hits are
listed beside the verdicts and never change them.

Censored results (``"< 0.50"``) are judged only when every value they allow gives the same
verdict (:mod:`censored`); otherwise the criterion has no usable result.

Units are compared by spelling only (:mod:`units`); a measurement in another unit is an
``InputError``, never converted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cytorelease.attributes import ATTRIBUTES, MANUAL_SOURCE
from cytorelease.errors import InputError
from cytorelease.measurement import Measurement
from cytorelease.spec.censored import Censored, parse_censored
from cytorelease.spec.formula import FormulaError, parse_formula
from cytorelease.spec.inputs import MeasurementSet, measurement_set
from cytorelease.spec.loader import LoadedSpec
from cytorelease.spec.model import CriterionKind, DerivedCriterion, Limit, Timing
from cytorelease.spec.rounding import format_number, to_decimal, usp_round
from cytorelease.spec.units import same_unit

__all__ = ["CriterionResult", "Disposition", "Evaluation", "Verdict", "evaluate"]


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    PENDING = "pending"
    MISSING = "missing"
    REPORT_ONLY = "report-only"
    # a manual result no second person has verified (cytorelease.manual): never judged
    UNVERIFIED = "unverified"


class Disposition(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCOMPLETE = "INCOMPLETE"


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    test: str
    category: str
    kind: str
    attribute: str | None
    method: str
    timing: str
    unit: str
    limit: str
    reported: str | None  # decimal string after USP rounding, or the qualitative result
    verdict: Verdict
    reported_display: str | None = None  # "2.3 x 10^8" when the criterion has an exponent
    alert: bool = False
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = str(self.verdict)
        return out


@dataclass(frozen=True, slots=True)
class Evaluation:
    spec: dict[str, Any]
    criteria: tuple[CriterionResult, ...]
    disposition: Disposition
    alerts: tuple[dict[str, Any], ...] = field(default=())
    signature_policy: dict[str, Any] | None = None

    def verdicts(self) -> dict[str, Verdict]:
        return {c.id: c.verdict for c in self.criteria}

    @property
    def pending(self) -> list[str]:
        return [c.id for c in self.criteria if c.verdict == Verdict.PENDING]

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": dict(self.spec),
            "criteria": [c.to_dict() for c in self.criteria],
            "disposition": str(self.disposition),
            "alerts": [dict(a) for a in self.alerts],
            "pending": self.pending,
            **({"signature_policy": self.signature_policy} if self.signature_policy else {}),
        }


@dataclass(frozen=True, slots=True)
class _Value:
    value: Any  # Decimal, str, bool, int/float as supplied, or None
    note: str | None = None
    unverified: str | None = None  # why a manual value (or a formula input) does not count


class _Evaluator:
    def __init__(self, loaded: LoadedSpec, measurements: MeasurementSet) -> None:
        self.spec = loaded.spec
        self.ref = loaded.ref
        self.measurements = measurements
        self.derived = {
            c.attribute: c for c in self.spec.criteria if isinstance(c, DerivedCriterion)
        }
        self.by_id = {c.id: c for c in self.spec.criteria}
        self.values: dict[str, _Value] = {}
        self.results: dict[str, CriterionResult] = {}

    # -- values -----------------------------------------------------------------------------
    def value_of(self, attribute: str, criterion_id: str) -> _Value:
        if attribute not in self.values:
            if attribute in self.derived:
                self.values[attribute] = self._compute(attribute)
            else:
                self.values[attribute] = self._measured(attribute, criterion_id)
        return self.values[attribute]

    def _measured(self, attribute: str, criterion_id: str) -> _Value:
        found = self.measurements.get(attribute)
        if found is None or found.value is None:
            return _Value(None, "no result")
        if isinstance(found.value, float) and not math.isfinite(found.value):
            return _Value(None, f"no result (the analysis gave {found.value})")
        known = ATTRIBUTES.get(attribute)
        if known is not None and known.kind == "numeric" and not same_unit(found.unit, known.unit):
            raise InputError(
                f"measurement '{attribute}' is in '{found.unit or '(no unit)'}' but {self.ref} "
                f"criterion '{criterion_id}' expects '{known.unit}' (units are never converted)"
            )
        manual = known is not None and known.produced_by == MANUAL_SOURCE
        if manual and found.verification != "verified":
            why = found.verification_note or "no second person has verified it"
            return _Value(found.value, unverified=f"unverified manual entry: {why}")
        return _Value(found.value)

    def _compute(self, attribute: str) -> _Value:
        criterion = self.derived[attribute]
        formula = parse_formula(criterion.formula)
        inputs: dict[str, Decimal] = {}
        unverified = None
        for name in formula.names:
            value = self.value_of(name, criterion.id)
            if value.unverified and unverified is None:
                unverified = f"formula input {name}: {value.unverified}"
            if value.value is None:
                return _Value(None, f"no result for formula input {name}")
            if parse_censored(value.value) is not None:
                return _Value(None, f"formula input {name} is censored ({value.value!r})")
            inputs[name] = _as_number(value.value, name, criterion.id)
        try:
            computed = formula.evaluate(inputs)
        except FormulaError as exc:
            return _Value(None, str(exc))
        supplied = self.measurements.get(attribute)
        note = "supplied value ignored: the spec's formula computes it" if supplied else None
        return _Value(computed, note, unverified)

    # -- criteria ---------------------------------------------------------------------------
    def judge(self, criterion_id: str) -> CriterionResult:
        if criterion_id not in self.results:
            criterion = self.by_id[criterion_id]
            result = _JUDGES[criterion.kind](self, criterion)
            self.results[criterion_id] = self._unless_unverified(criterion, result)
        return self.results[criterion_id]

    def _unless_unverified(self, criterion: Any, result: CriterionResult) -> CriterionResult:
        """A criterion judged on an unverified manual value is ``unverified`` (its value is
        still shown), whatever the value would have given."""
        value = self.values.get(criterion.attribute) if criterion.attribute else None
        if value is None or not value.unverified:
            return result
        if result.verdict in (Verdict.MISSING, Verdict.PENDING):
            return result
        note = "; ".join(n for n in (result.note, value.unverified) if n)
        return replace(result, verdict=Verdict.UNVERIFIED, alert=False, note=note)


def _as_number(value: Any, attribute: str, criterion_id: str) -> Decimal:
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise InputError(
            f"measurement '{attribute}' ({exc}); criterion '{criterion_id}' needs a number"
        ) from None


def _absent(criterion: Any) -> Verdict:
    return Verdict.PENDING if criterion.timing == Timing.POST_RELEASE else Verdict.MISSING


def _result(criterion: Any, **fields: Any) -> CriterionResult:
    return CriterionResult(
        id=criterion.id,
        test=criterion.test,
        category=str(criterion.category),
        kind=str(criterion.kind),
        attribute=criterion.attribute,
        method=criterion.method,
        timing=str(criterion.timing),
        unit=criterion.unit,
        limit=criterion.printed_limit(),
        **fields,
    )


def _judge_limited(ev: _Evaluator, criterion: Any) -> CriterionResult:
    """Numeric, range and derived: round (USP), then compare the rounded value."""
    value = ev.value_of(criterion.attribute, criterion.id)
    if value.value is None:
        return _result(criterion, reported=None, verdict=_absent(criterion), note=value.note)
    censored = parse_censored(value.value)
    if censored is not None:
        return _judge_censored(criterion, censored)
    number = _as_number(value.value, criterion.attribute, criterion.id)
    rounded = usp_round(number, criterion.decimals, criterion.exponent)
    limit: Limit | None = criterion.limit
    if limit is None:
        verdict = Verdict.REPORT_ONLY
    else:
        verdict = Verdict.PASS if limit.contains(rounded) else Verdict.FAIL
    alert: Limit | None = getattr(criterion, "alert", None)
    return _result(
        criterion,
        reported=format_number(rounded, criterion.decimals, criterion.exponent),
        reported_display=_display(rounded, criterion.decimals, criterion.exponent),
        verdict=verdict,
        alert=verdict == Verdict.PASS and alert is not None and not alert.contains(rounded),
        note=value.note,
    )


def _judge_censored(criterion: Any, censored: Censored) -> CriterionResult:
    reported = censored.reported(criterion.decimals, criterion.exponent)
    if criterion.limit is None:
        return _result(criterion, reported=reported, verdict=Verdict.REPORT_ONLY)
    decided = censored.judge(criterion.limit, criterion.decimals, criterion.exponent)
    if decided is None:
        note = (
            f"censored result '{reported}' cannot show whether {criterion.printed_limit()} is met"
        )
        return _result(criterion, reported=reported, verdict=_absent(criterion), note=note)
    return _result(criterion, reported=reported, verdict=Verdict.PASS if decided else Verdict.FAIL)


def _display(rounded: Decimal, decimals: int, exponent: int) -> str | None:
    """``2.3 x 10^8`` for criteria reported in scientific form; None when the plain string reads."""
    return format_number(rounded, decimals, exponent, display=True) if exponent else None


def _normalise_outcome(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def _judge_qualitative(ev: _Evaluator, criterion: Any) -> CriterionResult:
    value = ev.value_of(criterion.attribute, criterion.id)
    if value.value is None:
        return _result(criterion, reported=None, verdict=_absent(criterion), note=value.note)
    outcome = value.value
    if isinstance(outcome, bool):  # detection calls may arrive as true / false
        outcome = "detected" if outcome else "not detected"
    if not isinstance(outcome, str):
        raise InputError(
            f"measurement '{criterion.attribute}' is {outcome!r}; criterion '{criterion.id}' "
            f"expects one of the outcomes such as {', '.join(criterion.allowed)}"
        )
    allowed = {_normalise_outcome(a) for a in criterion.allowed}
    verdict = Verdict.PASS if _normalise_outcome(outcome) in allowed else Verdict.FAIL
    return _result(criterion, reported=outcome.strip(), verdict=verdict)


def _judge_report_only(ev: _Evaluator, criterion: Any) -> CriterionResult:
    value = ev.value_of(criterion.attribute, criterion.id)
    if value.value is None:
        return _result(criterion, reported=None, verdict=_absent(criterion), note=value.note)
    raw = value.value
    censored = parse_censored(raw)
    if criterion.decimals is None or isinstance(raw, bool):
        return _result(criterion, reported=str(raw).strip(), verdict=Verdict.REPORT_ONLY)
    if censored is not None:
        reported = censored.reported(criterion.decimals, criterion.exponent)
        return _result(criterion, reported=reported, verdict=Verdict.REPORT_ONLY)
    rounded = usp_round(
        _as_number(raw, criterion.attribute, criterion.id), criterion.decimals, criterion.exponent
    )
    return _result(
        criterion,
        reported=format_number(rounded, criterion.decimals, criterion.exponent),
        reported_display=_display(rounded, criterion.decimals, criterion.exponent),
        verdict=Verdict.REPORT_ONLY,
    )


def _judge_composite(ev: _Evaluator, criterion: Any) -> CriterionResult:
    parts = [ev.judge(component) for component in criterion.all_of]
    verdicts = {p.verdict for p in parts}
    if Verdict.FAIL in verdicts:
        verdict = Verdict.FAIL
    elif verdicts & {Verdict.MISSING, Verdict.PENDING}:
        verdict = _absent(criterion)
    elif Verdict.UNVERIFIED in verdicts:
        verdict = Verdict.UNVERIFIED
    else:
        verdict = Verdict.PASS
    summary = ", ".join(f"{p.id}: {p.verdict}" for p in parts)
    return _result(criterion, reported=None, verdict=verdict, note=summary)


_JUDGES: dict[str, Callable[[_Evaluator, Any], CriterionResult]] = {
    CriterionKind.NUMERIC: _judge_limited,
    CriterionKind.RANGE: _judge_limited,
    CriterionKind.DERIVED: _judge_limited,
    CriterionKind.QUALITATIVE: _judge_qualitative,
    CriterionKind.REPORT_ONLY: _judge_report_only,
    CriterionKind.COMPOSITE: _judge_composite,
}


def disposition_of(results: Iterable[CriterionResult]) -> Disposition:
    results = list(results)
    if any(r.verdict == Verdict.FAIL for r in results):
        return Disposition.FAIL
    if any(r.verdict in (Verdict.MISSING, Verdict.UNVERIFIED) for r in results):
        return Disposition.INCOMPLETE
    return Disposition.PASS


def evaluate(
    loaded: LoadedSpec,
    measurements: MeasurementSet | Iterable[Measurement | Mapping[str, Any]],
) -> Evaluation:
    """Judge every criterion of ``loaded`` against ``measurements`` (an out-of-spec lot is a
    normal result; bad input such as a unit mismatch raises ``InputError``)."""
    if not isinstance(measurements, MeasurementSet):
        measurements = measurement_set(measurements)
    evaluator = _Evaluator(loaded, measurements)
    try:
        results = tuple(evaluator.judge(c.id) for c in loaded.spec.criteria)
    except InputError as exc:
        if measurements.source is not None:
            exc.with_path(measurements.source)
        raise
    alerts = tuple(
        {"id": r.id, "reported": r.reported, "alert_limit": _alert_text(loaded, r.id)}
        for r in results
        if r.alert
    )
    return Evaluation(
        spec=loaded.identity(),
        criteria=results,
        disposition=disposition_of(results),
        alerts=alerts,
        signature_policy=loaded.spec.signature_policy.model_dump(mode="json"),
    )


def _alert_text(loaded: LoadedSpec, criterion_id: str) -> str:
    criterion = loaded.spec.criterion(criterion_id)
    return str(criterion.alert.printed(criterion.decimals, criterion.exponent, criterion.unit))
