"""What an addendum holds, checked from the addendum alone and the signer registry.

* the spec text it carries is the spec version it names (its identity hash), and is a valid
  spec;
* every added result comes from a manual record it carries whole: signed, hash-chained, for
  this lot and chain of identity, entered by an analyst and verified blind by a second person
  with the authority to, at their trusted times (:func:`cytorelease.manual.checking.check_events`),
  and the measurement is the one that record gives;
* the evaluation is what that spec gives for the measurements (re-computed here).

What it amends (the CoA's hash, its measurements, what changed) needs the CoA itself:
:mod:`cytorelease.addendum.chain`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import CytoreleaseError
from cytorelease.provenance import canonical_json

if TYPE_CHECKING:
    from cytorelease.report.registry import Registry
    from cytorelease.spec.loader import LoadedSpec

__all__ = ["carried_spec", "content_problems"]


def carried_spec(record: Mapping[str, Any]) -> LoadedSpec:
    """The spec the addendum carries, parsed; ``CytoreleaseError`` when it is not that spec."""
    from cytorelease.errors import InputError
    from cytorelease.spec.loader import parse_spec_text

    document = record.get("spec_document")
    if not isinstance(document, Mapping) or not isinstance(document.get("text"), str):
        raise InputError("the addendum carries no spec_document text", path="addendum")
    loaded = parse_spec_text(document["text"], Path(f"addendum-spec-{document.get('id')}.yaml"))
    named = (document.get("id"), document.get("version"), document.get("sha256"))
    if (loaded.spec.product, loaded.spec.version, loaded.sha256) != named:
        raise InputError(
            f"the spec text it carries is {loaded.spec.product} version {loaded.spec.version} "
            f"(sha256 {loaded.sha256[:12]}…), not the one it names ({named[0]} version "
            f"{named[1]}, sha256 {str(named[2])[:12]}…)",
            path="addendum",
        )
    spec = (record.get("evaluation") or {}).get("spec") or {}
    if spec.get("sha256") != loaded.sha256:
        raise InputError("its evaluation names another spec than the one it carries",
                         path="addendum")  # fmt: skip
    return loaded


def _addition_problems(added: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """The added result as shown against its measurement (whose carried record
    :func:`~cytorelease.lot.manual_check.manual_record_problems` checks)."""
    attribute = str(added.get("attribute"))
    found = [m for m in record.get("measurements") or [] if m.get("attribute") == attribute]
    if len(found) != 1:
        return [f"{attribute}: the addendum holds {len(found)} measurements of it, not one"]
    details = found[0].get("details") or {}
    carried = details.get("manual_record") if isinstance(details, Mapping) else None
    if details.get("verification") != "verified" or not isinstance(carried, Mapping):
        return [f"{attribute}: the result it adds is not a verified double entry it carries"]
    if canonical_json(added.get("manual_record")) != canonical_json(carried):
        return [f"{attribute}: the record it shows is not the one its measurement carries"]
    # what the page shows of the added result: the people and times its checked record gives
    for name in ("entered_by", "entered_at", "verified_by", "verified_at"):
        if added.get(name) != details.get(name):
            return [f"{attribute}: it shows {name} {added.get(name)!r}, its record "
                    f"{details.get(name)!r}"]  # fmt: skip
    from cytorelease.addendum.record import criteria_of

    judged = [str(c.get("id")) for c in criteria_of(record.get("evaluation") or {}, attribute)]
    if added.get("criteria") != judged:
        return [f"{attribute}: it names the criteria {added.get('criteria')}, the spec {judged}"]
    from cytorelease.manual.values import values_match

    text_value, unit = str(added.get("value")), added.get("unit")
    if not values_match(str(found[0].get("value")), found[0].get("unit"), text_value, unit):
        return [f"{attribute}: the addendum shows {text_value!r}, its measurement holds "
                f"{found[0].get('value')!r}"]  # fmt: skip
    return []


def content_problems(record: Mapping[str, Any], registry: Registry | None) -> list[str]:
    """Everything wrong with the addendum's own content (an empty list: nothing)."""
    from cytorelease.addendum.record import reevaluate

    try:
        loaded = carried_spec(record)
    except CytoreleaseError as exc:
        return [f"addendum: {exc.problem}"]
    added = record.get("added")
    if not isinstance(added, list) or not added:
        return ["addendum: it adds no result"]
    from cytorelease.lot.manual_check import manual_record_problems

    problems = [f"addendum: {p}" for p in manual_record_problems(record, registry)]
    for item in added:
        if not isinstance(item, Mapping):
            problems.append("addendum: an added result is not an object")
            continue
        problems += [f"addendum: {p}" for p in _addition_problems(item, record)]
    measurements = record.get("measurements")
    if not isinstance(measurements, list):
        return [*problems, "addendum: it holds no measurements"]
    definitions = [d for d in record.get("definitions") or [] if isinstance(d, Mapping)]
    try:
        evaluation = reevaluate(loaded, measurements, definitions)
    except CytoreleaseError as exc:
        return [*problems, f"addendum: its measurements cannot be evaluated: {exc.problem}"]
    if canonical_json(evaluation) != canonical_json(record.get("evaluation")):
        problems.append(
            "addendum: its evaluation is not what the spec gives for its measurements"
            + _first_difference(evaluation, record.get("evaluation") or {})
        )
    return problems


def _first_difference(expected: Mapping[str, Any], shown: Mapping[str, Any]) -> str:
    if expected.get("disposition") != shown.get("disposition"):
        return (
            f" (disposition {shown.get('disposition')}, the spec gives {expected['disposition']})"
        )
    theirs = {c.get("id"): c for c in shown.get("criteria") or [] if isinstance(c, Mapping)}
    for criterion in expected.get("criteria") or []:
        other = theirs.get(criterion.get("id"))
        if canonical_json(other) != canonical_json(criterion):
            verdict = other.get("verdict") if isinstance(other, Mapping) else None
            return (
                f" (criterion {criterion.get('id')}: {verdict}, the spec gives "
                f"{criterion.get('verdict')})"
            )
    return ""
