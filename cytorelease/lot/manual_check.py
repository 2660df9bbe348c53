"""A document's verified manual results re-checked from the records it carries.

A release records each verified manual result with its signed record (``manual_record``: file,
SHA-256, text). Holding a CoA or an addendum to it needs no lot folder: the record's events are
checked as a release checks the file (both signatures, the chain, this lot and chain of
identity, who entered and who verified, their roles at the events' trusted time in the
registry given), and the measurement must be the one that record gives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import CytoreleaseError

if TYPE_CHECKING:
    from cytorelease.report.registry import Registry

__all__ = ["carried_record_problems", "manual_record_problems"]


def carried_record_problems(
    attribute: str,
    carried: Any,
    measurement: Mapping[str, Any] | None,
    lot: Mapping[str, Any],
    registry: Registry | None,
) -> list[str]:
    """What is wrong with the ``carried`` record of ``attribute`` and the ``measurement`` a
    document shows for it (an empty list: nothing)."""
    from cytorelease.lot.manual_inputs import manual_measurement
    from cytorelease.lot.record import canonical_form
    from cytorelease.manual.checking import State, check_events
    from cytorelease.manual.events import parse_events

    text = carried.get("text") if isinstance(carried, Mapping) else None
    if not isinstance(text, str):
        return [f"{attribute}: the signed record of its double entry is not carried"]
    data = text.encode("utf-8")
    if hashlib.sha256(data).hexdigest() != carried.get("sha256"):
        return [f"{attribute}: the manual record it carries does not hash to the sha256 it names"]
    where = Path(f"{carried.get('file')} (carried)")
    try:
        events, sha = parse_events(data, path=where)
        result = check_events(
            events, sha, path=where, lot_id=str(lot.get("id")),
            chain_of_identity=str(lot.get("chain_of_identity")), attribute=attribute,
            registry=registry, text=text,
        )  # fmt: skip
    except CytoreleaseError as exc:
        return [f"{attribute}: its manual record does not hold up: {exc.problem}"]
    if result.state is not State.VERIFIED:
        return [f"{attribute}: its manual record is {result.state}: {result.note}"]
    result = replace(result, path=Path(str(carried.get("file"))))
    expected = canonical_form(manual_measurement(attribute, result).to_dict())
    if measurement is None or canonical_form(dict(measurement)) != expected:
        return [f"{attribute}: the measurement is not the one its verified record gives"]
    return []


def manual_record_problems(record: Mapping[str, Any], registry: Registry | None) -> list[str]:
    """Every manual measurement the document counts as verified, held to its carried record."""
    lot = record.get("lot") or {}
    problems = []
    for measurement in record.get("measurements") or []:
        method = measurement.get("method") if isinstance(measurement, Mapping) else None
        details = measurement.get("details") if isinstance(measurement, Mapping) else None
        if not isinstance(method, Mapping) or method.get("kind") != "manual":
            continue
        if not isinstance(details, Mapping) or details.get("verification") != "verified":
            continue  # shown, never counted: its criterion is unverified
        problems += carried_record_problems(
            str(measurement.get("attribute")), details.get("manual_record"), measurement, lot,
            registry,
        )  # fmt: skip
    return problems
