"""Rules that need the whole spec: known attributes, formulas, components, units, rounding.

Each rule yields ``Problem(path, message)`` with the exact field path, so the loader can point at
the line. The attribute vocabulary is :mod:`cytorelease.attributes` plus the ``derived.*``
attributes that the spec's own derived criteria declare.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from cytorelease.attributes import ATTRIBUTES
from cytorelease.spec.formula import FormulaError, parse_formula
from cytorelease.spec.model import (
    CriterionKind,
    DerivedCriterion,
    Limit,
    NumericCriterion,
    Spec,
    SpecStatus,
)
from cytorelease.spec.rounding import quantum
from cytorelease.spec.units import same_unit

__all__ = ["Problem", "check_spec"]

_DERIVED_PREFIX = "derived."


@dataclass(frozen=True, slots=True)
class Problem:
    path: tuple[str | int, ...]
    message: str


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _declared(spec: Spec) -> dict[str, int]:
    return {c.attribute: i for i, c in enumerate(spec.criteria) if c.kind == CriterionKind.DERIVED}


def _check_header(spec: Spec) -> Iterator[Problem]:
    if spec.status != SpecStatus.DRAFT and spec.effective_from is None:
        yield Problem(("effective_from",), f"a {spec.status} spec needs an effective_from date")
    if spec.supersedes is not None and spec.supersedes >= spec.version:
        yield Problem(
            ("supersedes",),
            f"version {spec.version} cannot supersede version {spec.supersedes} (not older)",
        )


def _check_ids(spec: Spec) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, criterion in enumerate(spec.criteria):
        if criterion.id in seen:
            yield Problem(
                ("criteria", index, "id"),
                f"criterion id '{criterion.id}' is already used by criteria[{seen[criterion.id]}]",
            )
        seen.setdefault(criterion.id, index)


def _check_attributes(spec: Spec) -> Iterator[Problem]:
    declared = _declared(spec)
    vocabulary = sorted({*ATTRIBUTES, *declared})
    for index, criterion in enumerate(spec.criteria):
        path = ("criteria", index)
        if criterion.kind == CriterionKind.COMPOSITE:
            continue
        if criterion.kind == CriterionKind.DERIVED:
            if not criterion.attribute.startswith(_DERIVED_PREFIX):
                yield Problem(
                    (*path, "attribute"),
                    f"a derived criterion declares a new attribute named 'derived.*', not "
                    f"'{criterion.attribute}' (that name belongs to a measured attribute)",
                )
            if declared.get(criterion.attribute) != index:
                yield Problem(
                    (*path, "attribute"),
                    f"derived attribute '{criterion.attribute}' is already declared by "
                    f"criteria[{declared[criterion.attribute]}]",
                )
            yield from _check_formula(criterion.formula, (*path, "formula"), vocabulary)
        elif criterion.attribute not in ATTRIBUTES and criterion.attribute not in declared:
            yield Problem(
                (*path, "attribute"),
                f"unknown attribute '{criterion.attribute}': no analysis produces it and no "
                f"derived criterion declares it{_suggest(criterion.attribute, vocabulary)}",
            )
        else:
            yield from _check_kind_and_unit(criterion, path)


def _check_formula(
    text: str, path: tuple[str | int, ...], vocabulary: list[str]
) -> Iterator[Problem]:
    try:
        formula = parse_formula(text)
    except FormulaError as exc:
        yield Problem(path, str(exc))
        return
    for name in formula.names:
        if name not in vocabulary:
            yield Problem(
                path,
                f"formula names unknown attribute '{name}'{_suggest(name, vocabulary)}",
            )
        elif name in ATTRIBUTES and ATTRIBUTES[name].kind != "numeric":
            yield Problem(path, f"formula names '{name}', which is not numeric")


def _check_kind_and_unit(criterion: object, path: tuple[str | int, ...]) -> Iterator[Problem]:
    attribute = ATTRIBUTES.get(criterion.attribute)  # type: ignore[attr-defined]
    if attribute is None:  # a declared derived attribute: numeric, unit as the spec says
        return
    kind = criterion.kind  # type: ignore[attr-defined]
    if kind == CriterionKind.QUALITATIVE and attribute.kind != "qualitative":
        yield Problem((*path, "kind"), f"'{attribute.name}' is numeric; use kind numeric or range")
    if kind in (CriterionKind.NUMERIC, CriterionKind.RANGE) and attribute.kind != "numeric":
        yield Problem((*path, "kind"), f"'{attribute.name}' is qualitative; use kind qualitative")
    unit = criterion.unit  # type: ignore[attr-defined]
    if attribute.kind == "numeric" and not same_unit(unit, attribute.unit):
        yield Problem(
            (*path, "unit"),
            f"unit '{unit}' does not match '{attribute.name}', which is measured in "
            f"'{attribute.unit}'",
        )


def _check_limit_places(
    limit: Limit | None, decimals: int, exponent: int, path: tuple[str | int, ...]
) -> Iterator[Problem]:
    if limit is None:
        return
    step = quantum(decimals, exponent)
    for bound in ("min", "max"):
        value: Decimal | None = getattr(limit, bound)
        if value is not None and value.quantize(step) != value:
            yield Problem(
                (*path, bound),
                f"{value} has more places than decimals: {decimals}"
                + (f" at exponent {exponent}" if exponent else "")
                + " (USP rounding compares at the places of the limit; raise decimals)",
            )


def _check_rounding(spec: Spec) -> Iterator[Problem]:
    for index, criterion in enumerate(spec.criteria):
        path = ("criteria", index)
        if not isinstance(criterion, NumericCriterion | DerivedCriterion):
            continue
        limit = criterion.limit
        if limit is None:
            continue
        yield from _check_limit_places(
            limit, criterion.decimals, criterion.exponent, (*path, "limit")
        )
        alert = criterion.alert
        if alert is None:
            continue
        yield from _check_limit_places(
            alert, criterion.decimals, criterion.exponent, (*path, "alert")
        )
        if (limit.min is not None and alert.min is not None and alert.min < limit.min) or (
            limit.max is not None and alert.max is not None and alert.max > limit.max
        ):
            yield Problem((*path, "alert"), "the alert band must lie inside the limit")


def _check_components(spec: Spec) -> Iterator[Problem]:
    ids = {c.id: c for c in spec.criteria}
    for index, criterion in enumerate(spec.criteria):
        for position, component in enumerate(criterion.depends_on):
            path = ("criteria", index, "all_of", position)
            if component == criterion.id:
                yield Problem(path, f"composite '{criterion.id}' cannot include itself")
            elif component not in ids:
                yield Problem(
                    path, f"unknown criterion '{component}'{_suggest(component, sorted(ids))}"
                )
            elif ids[component].kind == CriterionKind.REPORT_ONLY:
                yield Problem(path, f"'{component}' is report-only and cannot pass or fail")


def _check_cycles(spec: Spec) -> Iterator[Problem]:
    """Derived attributes computed from each other, or composites nested in a loop."""
    declared = _declared(spec)
    edges: dict[int, list[int]] = {}
    index_of = {c.id: i for i, c in enumerate(spec.criteria)}
    for index, criterion in enumerate(spec.criteria):
        targets = [declared[a] for a in _safe_reads(criterion) if a in declared]
        targets += [index_of[c] for c in criterion.depends_on if c in index_of]
        edges[index] = [t for t in targets if t != index or criterion.kind != "composite"]
    state: dict[int, int] = {}

    def visit(node: int) -> int | None:
        state[node] = 1
        for target in edges.get(node, []):
            if state.get(target) == 1:
                return node
            if state.get(target) is None and (found := visit(target)) is not None:
                return found
        state[node] = 2
        return None

    for start in edges:
        if state.get(start) is None and (found := visit(start)) is not None:
            field = "formula" if spec.criteria[found].kind == CriterionKind.DERIVED else "all_of"
            yield Problem(
                ("criteria", found, field),
                f"criterion '{spec.criteria[found].id}' depends on itself through other criteria",
            )
            return


def _safe_reads(criterion: object) -> tuple[str, ...]:
    try:
        return criterion.reads  # type: ignore[attr-defined, no-any-return]
    except FormulaError:
        return ()


def check_spec(spec: Spec) -> list[Problem]:
    """Every cross-field problem of a parsed spec, in document order of the checks."""
    problems: list[Problem] = []
    for rule in (
        _check_header,
        _check_ids,
        _check_attributes,
        _check_rounding,
        _check_components,
        _check_cycles,
    ):
        problems.extend(rule(spec))
    return problems
