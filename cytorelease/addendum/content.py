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

import hashlib
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


def _addition_problems(
    added: Mapping[str, Any], record: Mapping[str, Any], registry: Registry | None
) -> list[str]:
    from cytorelease.lot.manual_inputs import manual_measurement
    from cytorelease.lot.record import canonical_form
    from cytorelease.manual.checking import State, check_events
    from cytorelease.manual.events import parse_events
    from cytorelease.manual.values import values_match

    attribute = str(added.get("attribute"))
    carried = added.get("manual_record") or {}
    text = carried.get("text") if isinstance(carried, Mapping) else None
    if not isinstance(text, str):
        return [f"{attribute}: the addendum does not carry its manual record"]
    data = text.encode("utf-8")
    if hashlib.sha256(data).hexdigest() != carried.get("sha256"):
        return [f"{attribute}: the manual record it carries does not hash to the sha256 it names"]
    lot = record.get("lot") or {}
    where = Path(f"{carried.get('file')} (carried by the addendum)")
    try:
        events, sha = parse_events(data, path=where)
        result = check_events(
            events,
            sha,
            path=where,
            lot_id=str(lot.get("id")),
            chain_of_identity=str(lot.get("chain_of_identity")),
            attribute=attribute,
            registry=registry,
        )
    except CytoreleaseError as exc:
        return [f"{attribute}: its manual record does not hold up: {exc.problem}"]
    if result.state is not State.VERIFIED:
        return [f"{attribute}: its manual record is {result.state}: {result.note}"]
    problems = []
    if not values_match(result.value, result.unit, str(added.get("value")), added.get("unit")):
        problems.append(
            f"{attribute}: the addendum shows {added.get('value')!r}, its verified record "
            f"holds {result.value!r}"
        )
    expected = canonical_form(manual_measurement(attribute, result).to_dict())
    found = [m for m in record.get("measurements") or [] if m.get("attribute") == attribute]
    if found != [expected]:
        problems.append(f"{attribute}: the measurement is not the one its verified record gives")
    return problems


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
    problems = []
    for item in added:
        if not isinstance(item, Mapping):
            problems.append("addendum: an added result is not an object")
            continue
        problems += _addition_problems(item, record, registry)
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
