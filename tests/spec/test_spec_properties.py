"""Invariants of evaluation, rounding and diff, over generated limits, values and spec revisions."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cytorelease.spec import affected_criteria, diff_specs, evaluate
from cytorelease.spec.loader import LoadedSpec, SpecValidationError, parse_spec_text
from cytorelease.spec.model import Limit
from cytorelease.spec.rounding import quantum, to_decimal, usp_round

V1_DOCUMENT: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "specs" / "cd19-car-t" / "v1.yaml").read_text()
)
V1_DOCUMENT["status"] = "draft"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(document: dict[str, Any], name: str) -> LoadedSpec:
    return parse_spec_text(yaml.safe_dump(document, sort_keys=False), Path(f"{name}.yaml"))


def _endotoxin_spec(limit: dict[str, Any], decimals: int) -> LoadedSpec:
    document = copy.deepcopy(V1_DOCUMENT)
    document["criteria"] = [
        {
            "id": "endotoxin",
            "test": "Endotoxin",
            "category": "safety",
            "kind": "numeric",
            "attribute": "manual.endotoxin_eu_ml",
            "limit": limit,
            "decimals": decimals,
            "unit": "EU/mL",
            "method": "LAL",
        }
    ]
    return _load(document, "generated")


@SETTINGS
@given(
    decimals=st.integers(0, 4),
    low=st.integers(-(10**6), 10**6),
    width=st.integers(0, 10**6),
    extra=st.integers(0, 3),
    position=st.floats(0, 1),
    as_text=st.booleans(),
)
def test_a_value_inside_inclusive_limits_always_passes(
    decimals: int, low: int, width: int, extra: int, position: float, as_text: bool
) -> None:
    minimum = Decimal(low).scaleb(-decimals)
    maximum = Decimal(low + width).scaleb(-decimals)
    spec = _endotoxin_spec({"min": str(minimum), "max": str(maximum)}, decimals)
    # a value with up to three more places than the limit, anywhere between the bounds
    steps = width * 10**extra
    value = minimum + Decimal(round(steps * position)).scaleb(-decimals - extra)
    assert minimum <= value <= maximum
    supplied: Any = str(value) if as_text else float(value)
    measurement = {"attribute": "manual.endotoxin_eu_ml", "value": supplied, "unit": "EU/mL",
                   "details": {"verification": "verified"}}  # fmt: skip
    assert evaluate(spec, [measurement]).criteria[0].verdict == "pass"


@SETTINGS
@given(
    decimals=st.integers(0, 4),
    limit_units=st.integers(-(10**5), 10**5),
    value_units=st.integers(-(10**9), 10**9),
    extra=st.integers(1, 4),
    bound=st.sampled_from(["min", "max"]),
    inclusive=st.booleans(),
)
def test_rounding_never_flips_a_verdict_by_more_than_one_unit(
    decimals: int, limit_units: int, value_units: int, extra: int, bound: str, inclusive: bool
) -> None:
    limit_value = Decimal(limit_units).scaleb(-decimals)
    value = limit_value + Decimal(value_units).scaleb(-decimals - extra)  # near the limit
    limit = Limit(**{bound: limit_value, f"{bound}_inclusive": inclusive})
    raw = limit.contains(value)
    rounded = limit.contains(usp_round(to_decimal(str(value)), decimals))
    if raw != rounded:
        # only a value within half a unit of the last decimal can change sides
        assert abs(value - limit_value) <= quantum(decimals) / 2


# -- spec revisions: random edits of v1 -----------------------------------------------------------

_NUMERIC_IDS = [
    "cd3-identity",
    "car-expression",
    "viability",
    "vcn",
    "potency-ifng",
    "potency-fold",
    "residual-b-cells",
    "endotoxin",
]
_QUALITATIVE_IDS = ["appearance", "transgene-identity", "sterility", "mycoplasma", "rcl"]


@st.composite
def revisions(draw: st.DrawFn) -> dict[str, Any]:
    """v1 with a few edits of the kinds real revisions make."""
    document = copy.deepcopy(V1_DOCUMENT)
    document["version"] = 2
    by_id = {c["id"]: c for c in document["criteria"]}
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(
            st.sampled_from(
                [
                    "shift",
                    "decimals",
                    "inclusive",
                    "timing",
                    "report",
                    "remove",
                    "allowed",
                    "formula",
                    "add",
                ]
            )
        )
        if edit in {"shift", "decimals", "inclusive", "report"}:
            criterion = by_id.get(draw(st.sampled_from([*_NUMERIC_IDS, "dose"])))
            if criterion is None or "limit" not in criterion:
                continue
            bound = "min" if "min" in criterion["limit"] else "max"
            if edit == "shift":
                step = quantum(criterion["decimals"], criterion.get("exponent", 0))
                new = to_decimal(criterion["limit"][bound]) + draw(st.integers(-3, 3)) * step
                criterion["limit"][bound] = str(new)
                criterion.pop("alert", None)
            elif edit == "decimals":
                criterion["decimals"] += 1
            elif edit == "inclusive":
                key = f"{bound}_inclusive"
                criterion["limit"][key] = not criterion["limit"].get(key, True)
            elif criterion["kind"] == "numeric" and criterion["id"] not in (
                "potency-ifng",
                "potency-fold",
            ):
                criterion["kind"] = "report-only"
                criterion.pop("limit")
                criterion.pop("alert", None)
        elif edit == "timing":
            criterion = by_id.get(draw(st.sampled_from([*_NUMERIC_IDS, *_QUALITATIVE_IDS])))
            if criterion is None:  # removed by an earlier edit
                continue
            criterion["timing"] = (
                "pre-release" if criterion.get("timing") == "post-release" else "post-release"
            )
        elif edit == "remove":
            removed = draw(st.sampled_from(["appearance", "viability", "dose", "rcl", "potency"]))
            document["criteria"] = [c for c in document["criteria"] if c["id"] != removed]
            by_id.pop(removed, None)
        elif edit == "allowed" and "sterility" in by_id:
            by_id["sterility"]["allowed"] = draw(
                st.sampled_from([["no growth"], ["no growth", "growth"], ["negative"]])
            )
        elif edit == "formula" and "dose" in by_id:
            by_id["dose"]["formula"] = draw(
                st.sampled_from(
                    [
                        "manual.total_viable_cells * flow.cd3_pct_of_viable_cd45 / 100 * flow.car_pct_of_viable_cd3 / 100",
                        "manual.total_viable_cells * flow.car_pct_of_viable_cd3 / 50",
                    ]
                )
            )
        elif edit == "add" and "cd8" not in by_id:
            by_id["cd8"] = {
                "id": "cd8", "test": "CD8+", "category": "identity", "kind": "numeric",
                "attribute": "flow.cd8_pct_of_cd3", "limit": {"min": "20"}, "decimals": 0,
                "unit": "%", "method": "flow",
            }  # fmt: skip
            document["criteria"].append(by_id["cd8"])
    return document


def _value(draw: st.DrawFn, base: float) -> Any:
    factor = draw(
        st.sampled_from([None, 0.0, 0.5, 0.9, 0.99, 0.999, 1.0, 1.001, 1.01, 1.1, 1.5, 3.0])
    )
    return None if factor is None else base * factor


@st.composite
def lots(draw: st.DrawFn) -> list[dict[str, Any]]:
    numeric = {
        "flow.cd3_pct_of_viable_cd45": (80.0, "%"),
        "flow.car_pct_of_viable_cd3": (10.0, "%"),
        "flow.viability_pct_of_cd45": (80.0, "%"),
        "flow.cd19_pct_of_viable": (1.0, "%"),
        "flow.cd8_pct_of_cd3": (20.0, "%"),
        "manual.total_viable_cells": (6.0e8, "cells"),
        "qpcr.vcn_per_transduced_cell": (5.0, "copies/transduced cell"),
        "potency.ifng_pg_ml": (50.0, "pg/mL"),
        "potency.ifng_fold_over_negative": (2.0, "fold"),
        "manual.endotoxin_eu_ml": (5.0, "EU/mL"),
    }
    qualitative = {
        "manual.appearance": ["conforms", "does not conform"],
        "qpcr.transgene_detected": ["detected", "not detected"],
        "manual.sterility": ["no growth", "growth", "negative"],
        "manual.mycoplasma": ["not detected", "detected"],
        "manual.rcl": ["not detected", "detected"],
    }
    found = [
        {"attribute": a, "value": _value(draw, base), "unit": unit}
        for a, (base, unit) in numeric.items()
    ]
    for attribute, outcomes in qualitative.items():
        found.append(
            {"attribute": attribute, "value": draw(st.sampled_from([None, *outcomes])), "unit": ""}
        )
    return found


@cache
def _original() -> LoadedSpec:
    return _load(V1_DOCUMENT, "original")


def _revision(document: dict[str, Any]) -> LoadedSpec:
    try:
        return _load(document, "revision")
    except SpecValidationError:
        assume(False)
        raise


@SETTINGS
@given(document=revisions())
def test_diff_of_a_spec_with_itself_is_empty(document: dict[str, Any]) -> None:
    spec = _revision(document)
    assert diff_specs(spec, spec).is_empty


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=revisions(), measurements=lots())
def test_the_diff_explains_every_verdict_flip(
    document: dict[str, Any], measurements: list[dict[str, Any]]
) -> None:
    old = _original()
    new = _revision(document)
    before = evaluate(old, measurements)
    after = evaluate(new, measurements)
    explained = affected_criteria(diff_specs(old, new), old, new)
    old_verdicts, new_verdicts = before.verdicts(), after.verdicts()
    flipped = {
        criterion
        for criterion in {*old_verdicts, *new_verdicts}
        if old_verdicts.get(criterion) != new_verdicts.get(criterion)
    }
    assert flipped <= set(explained), f"unexplained flips: {flipped - set(explained)}"
    if before.disposition != after.disposition:
        assert flipped


@SETTINGS
@given(
    decimals=st.integers(0, 3),
    limit_units=st.integers(-1000, 1000),
    bound_units=st.integers(-2000, 2000),
    operator=st.sampled_from(["<", "<=", ">", ">="]),
    which=st.sampled_from(["min", "max", "both"]),
    inclusive=st.booleans(),
    offsets=st.lists(st.integers(1, 10**6), min_size=1, max_size=20),
)
def test_a_decided_censored_verdict_holds_for_every_value_it_allows(
    decimals: int,
    limit_units: int,
    bound_units: int,
    operator: str,
    which: str,
    inclusive: bool,
    offsets: list[int],
) -> None:
    from cytorelease.spec.censored import parse_censored

    step = quantum(decimals)
    low = Decimal(limit_units) * step
    bounds: dict[str, Any] = {}
    if which in ("min", "both"):
        bounds.update(min=low, min_inclusive=inclusive)
    if which in ("max", "both"):
        bounds.update(max=low + 50 * step, max_inclusive=inclusive)
    limit = Limit(**bounds)
    bound = Decimal(bound_units) * step / 7  # bounds off the grid as well as on it
    censored = parse_censored(f"{operator} {bound}")
    assert censored is not None
    decided = censored.judge(limit, decimals, 0)
    if decided is None:
        return
    sign = -1 if operator.startswith("<") else 1
    for offset in offsets:  # values on the allowed side, near the bound and far from it
        value = bound + sign * Decimal(offset) * step / 1000
        assert limit.contains(usp_round(value, decimals)) is decided
