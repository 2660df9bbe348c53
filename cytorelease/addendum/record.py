"""The addendum record: what is added, the measurements and evaluation after it, what changed.

Both the issuer and the verifier derive these from the same inputs with the same functions
(:func:`measurements_after`, :func:`reevaluate`, :func:`changes_between`), so a verifier that
recomputes them and compares is checking the issuer's arithmetic, not trusting it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cytorelease.lot.definitions import apply_unlocked
from cytorelease.lot.record import canonical_form
from cytorelease.provenance import software
from cytorelease.report.record import ADDENDUM_SCHEMA
from cytorelease.spec.evaluate import evaluate
from cytorelease.spec.loader import LoadedSpec

__all__ = [
    "ADDABLE",
    "Addition",
    "build_addendum_record",
    "changes_between",
    "criteria_of",
    "measurements_after",
    "reevaluate",
]

# A criterion an addendum may complete: no judged result on the document it amends.
ADDABLE = frozenset({"pending", "missing", "unverified"})


@dataclass(frozen=True, slots=True)
class Addition:
    """One result the addendum adds: its measurement and the manual record it comes from."""

    attribute: str
    measurement: dict[str, Any]  # as the record holds it (canonical)
    value: str  # as entered (the record's canonical text)
    unit: str | None
    entered_by: str
    entered_at: str
    verified_by: str
    verified_at: str
    record_file: str  # manual/<attribute>.json
    record_sha256: str
    record_text: str  # the record's bytes (UTF-8 JSON), so a verifier re-checks its signatures

    def to_dict(self, criteria: Sequence[str]) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "criteria": list(criteria),
            "value": self.value,
            "unit": self.unit,
            "entered_by": self.entered_by,
            "entered_at": self.entered_at,
            "verified_by": self.verified_by,
            "verified_at": self.verified_at,
            "manual_record": {
                "file": self.record_file,
                "sha256": self.record_sha256,
                "text": self.record_text,
            },
        }


def criteria_of(evaluation: Mapping[str, Any], attribute: str) -> list[Mapping[str, Any]]:
    """The evaluation's criteria that judge ``attribute`` directly."""
    return [
        c
        for c in evaluation.get("criteria") or []
        if isinstance(c, Mapping) and c.get("attribute") == attribute
    ]


def measurements_after(
    base: Iterable[Mapping[str, Any]], added: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The base measurements with each added attribute's entry replaced (or appended)."""
    added = [dict(m) for m in added]
    names = {m["attribute"] for m in added}
    kept = [dict(m) for m in base if m.get("attribute") not in names]
    return canonical_form(kept + added)  # type: ignore[no-any-return]


def reevaluate(
    loaded: LoadedSpec,
    measurements: Sequence[Mapping[str, Any]],
    definitions: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """The evaluation a release would record for these measurements under ``loaded``."""
    judged = apply_unlocked(evaluate(loaded, measurements).to_dict(), definitions)
    return canonical_form(judged)  # type: ignore[no-any-return]


def _shown(criterion: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "reported": criterion.get("reported_display") or criterion.get("reported"),
        "verdict": criterion.get("verdict"),
    }


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every criterion whose shown result or verdict differs, in the spec's order."""
    earlier = {c.get("id"): c for c in before.get("criteria") or [] if isinstance(c, Mapping)}
    changes = []
    for criterion in after.get("criteria") or []:
        old = earlier.get(criterion.get("id")) or {}
        if _shown(old) != _shown(criterion):
            changes.append(
                {
                    "criterion": criterion.get("id"),
                    "test": criterion.get("test"),
                    "attribute": criterion.get("attribute"),
                    "before": _shown(old),
                    "after": _shown(criterion),
                }
            )
    return changes


def build_addendum_record(
    *,
    base: Mapping[str, Any],
    links: Mapping[str, Any],
    number: int,
    loaded: LoadedSpec,
    spec_text: str,
    additions: Sequence[Addition],
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The addendum record (not yet stamped for rendering) over the ``base`` record."""
    measurements = measurements_after(
        base.get("measurements") or [], [a.measurement for a in additions]
    )
    definitions = [dict(d) for d in base.get("definitions") or []]
    evaluation = reevaluate(loaded, measurements, definitions)
    before = base.get("evaluation") or {}
    moment = (created_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    inputs = [dict(i) for i in base.get("inputs") or []]
    inputs += [
        {"kind": "manual-record", "role": a.attribute, "path": a.record_file,
         "sha256": a.record_sha256}
        for a in additions
    ]  # fmt: skip
    record: dict[str, Any] = {
        "schema": ADDENDUM_SCHEMA,
        "created_at": moment.isoformat().replace("+00:00", "Z"),
        "number": number,
        "lot": dict(base.get("lot") or {}),
        "amends": dict(links),
        "spec_document": {
            "id": loaded.spec.product,
            "version": loaded.spec.version,
            "sha256": loaded.sha256,
            "text": spec_text,
        },
        "added": [
            a.to_dict([str(c.get("id")) for c in criteria_of(evaluation, a.attribute)])
            for a in additions
        ],
        "changes": changes_between(before, evaluation),
        "disposition": {"before": before.get("disposition"), "after": evaluation["disposition"]},
        "measurements": measurements,
        "evaluation": evaluation,
        "inputs": inputs,
        "software": software(),
    }
    if definitions:
        record["definitions"] = definitions
    if base.get("library") is not None:
        record["library"] = dict(base["library"])
    return canonical_form(record)  # type: ignore[no-any-return]
