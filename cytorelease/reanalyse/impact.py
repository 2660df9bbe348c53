"""The impact assessment of a change: what the what-if records say, as one record.

Per lot, a compact outcome (the released and the what-if disposition, the verdicts that
changed, and each numeric attribute's released and what-if value); from those alone the flips
(every lot whose disposition changes, with the criteria that changed it) and, per attribute,
the distribution of the changes: n, mean and largest absolute change, and ``compare``'s paired
statistics of what-if minus released (bias with its 95 % CI, the Bland-Altman limits of
agreement with theirs). The signed report (:mod:`~cytorelease.reanalyse.impact_report`) embeds
the record; :func:`impact_problems` derives the summary again from the outcomes it carries, so
a page whose numbers were edited, or outcomes dropped, does not verify.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from cytorelease.report.record import IMPACT_SCHEMA

__all__ = [
    "IMPACT_SCHEMA",
    "attribute_changes",
    "impact_problems",
    "impact_record",
    "lot_outcome",
    "selection_of",
    "summary",
]

# The comparability numbers an impact report gives per attribute (compare's PairedStats names).
_PAIRED = ("bias", "bias_ci", "sd", "loa_low", "loa_high", "loa_low_ci", "loa_high_ci")
# Floats derived again at verification may differ in the last bits on another machine's numpy.
_REL_TOL = 1e-9


def _verdicts(evaluation: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("id")): c for c in (evaluation or {}).get("criteria") or []}


def lot_outcome(record: Mapping[str, Any]) -> dict[str, Any]:
    """One lot's part of the assessment, from its stored what-if record."""
    before = _verdicts(record.get("released_evaluation"))
    after = _verdicts(record.get("evaluation"))
    changed = []
    for criterion in sorted(set(before) | set(after)):
        was, now = before.get(criterion) or {}, after.get(criterion) or {}
        if was.get("verdict") != now.get("verdict"):
            changed.append(
                {
                    "criterion": criterion,
                    "before": was.get("verdict"),
                    "after": now.get("verdict"),
                    "reported": now.get("reported"),
                }
            )
    values = {
        str(attribute): [change["from"], change["to"]]
        for attribute, change in sorted((record.get("changes") or {}).items())
    }
    return {
        "lot": str(record["lot"]),
        "release_id": record.get("release_id"),
        "inputs_sha256": record.get("inputs_sha256"),
        "released": str(record.get("released_disposition")),
        "what_if": str(record.get("disposition")),
        "verdicts": changed,
        "values": values,
        # archived: the manifest kept with the release; current: the lot's (older releases)
        "manifest": (record.get("manifest") or {}).get("source"),
    }


def _paired(differences: list[float]) -> dict[str, Any]:
    """compare's paired statistics of the differences (what-if - released).

    Given as pairs (0, d): bias, its CI and the limits of agreement depend on the differences
    alone, and no Deming line is fitted (its jackknife CI is quadratic in the lots, hours at
    100,000; ``compare`` on the exported sets gives it)."""
    import numpy as np

    from cytorelease.compare.stats import paired_stats

    d = np.asarray(differences, dtype=float)
    found = paired_stats(np.zeros_like(d), d, margin=None, alpha=0.05)
    shown = found.to_dict()
    reasons = [r for r in found.reasons if not r.startswith("Deming")]
    return {**{k: shown[k] for k in _PAIRED}, "reasons": reasons}


def attribute_changes(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per attribute: n, mean and max absolute change, and the paired statistics."""
    differences: dict[str, list[float]] = {}
    for outcome in sorted(outcomes, key=lambda o: str(o["lot"])):
        for attribute, (released, what_if) in (outcome.get("values") or {}).items():
            differences.setdefault(str(attribute), []).append(float(what_if) - float(released))
    found = {}
    for attribute, values in sorted(differences.items()):
        sizes = [abs(v) for v in values]
        found[attribute] = {
            "n": len(values),
            "mean": statistics.fmean(sizes),
            "max": max(sizes),
            **_paired(values),
        }
    return found


def summary(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The flips (lot, from, to, the criteria whose verdict changed and how) and the changes."""
    flips = [
        {
            "lot": o["lot"],
            "from": o["released"],
            "to": o["what_if"],
            "criteria": [v["criterion"] for v in o.get("verdicts") or []],
            "verdicts": list(o.get("verdicts") or []),
        }
        for o in sorted(outcomes, key=lambda o: str(o["lot"]))
        if o["released"] != o["what_if"]
    ]
    return {"flips": flips, "changes": attribute_changes(outcomes)}


def impact_record(
    *,
    change: Mapping[str, Any],
    change_sha256: str,
    outcomes: Sequence[Mapping[str, Any]],
    failed: Sequence[Mapping[str, str]],
    counts: Mapping[str, int],
    selection: Mapping[str, Any],
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The impact assessment's record (unstamped: the report stamps its rendering)."""
    from cytorelease import __version__

    moment = (created_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    ordered = sorted((dict(o) for o in outcomes), key=lambda o: str(o["lot"]))
    return {
        "schema": IMPACT_SCHEMA,
        "created_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": {"name": "cytorelease", "version": __version__},
        "change": {name: dict(part) for name, part in change.items()},
        "change_sha256": change_sha256,
        "selection": dict(selection),
        "counts": dict(counts),
        "failed": sorted((dict(f) for f in failed), key=lambda f: str(f["lot"])),
        **summary(ordered),
        "outcomes": ordered,
    }


def selection_of(
    product: str | None, since: date | None, lots: Sequence[str] | None
) -> dict[str, Any]:
    return {
        "product": product,
        "since": since.isoformat() if since else None,
        "lots": sorted(lots) if lots else None,
    }


def _same(expected: Any, shown: Any) -> bool:
    """Equal, floats within a relative 1e-9 (numpy's sums may round differently elsewhere)."""
    if isinstance(expected, float) or isinstance(shown, float):
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool)
                      for v in (expected, shown))  # fmt: skip
        return numbers and math.isclose(expected, shown, rel_tol=_REL_TOL, abs_tol=1e-12)
    if isinstance(expected, Mapping):
        return (isinstance(shown, Mapping) and set(expected) == set(shown)
                and all(_same(expected[k], shown[k]) for k in expected))  # fmt: skip
    if isinstance(expected, list):
        return (isinstance(shown, list) and len(expected) == len(shown)
                and all(_same(a, b) for a, b in zip(expected, shown, strict=True)))  # fmt: skip
    return bool(expected == shown)


def _outcome_problem(outcome: Any) -> str | None:
    if not isinstance(outcome, Mapping) or not isinstance(outcome.get("lot"), str):
        return "an outcome is not an object naming its lot"
    values = outcome.get("values")
    if not isinstance(values, Mapping) or not all(
        isinstance(v, list) and len(v) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        for v in values.values()
    ):  # fmt: skip
        return f"lot {outcome['lot']}: its values are not [released, what-if] number pairs"
    if not isinstance(outcome.get("verdicts"), list):
        return f"lot {outcome['lot']}: its verdicts are not a list"
    return None


def impact_problems(record: Mapping[str, Any]) -> list[str]:
    """Everything wrong with an impact record's own content (empty: nothing): the change's
    hash, every selected lot accounted for once, and the flips and per-attribute statistics
    being what its per-lot outcomes give."""
    from cytorelease.reanalyse.change import change_digest

    change = record.get("change")
    if not isinstance(change, Mapping) or not change:
        return ["impact: it names no change"]
    try:
        digest = change_digest(change)
    except (KeyError, TypeError, AttributeError):
        return ["impact: its change does not name each part's kind, id, version and sha256"]
    problems = []
    if digest != record.get("change_sha256"):
        problems.append("impact: its change_sha256 is not the hash of the change it names")
    outcomes, failed = record.get("outcomes"), record.get("failed")
    if not isinstance(outcomes, list) or not isinstance(failed, list):
        return [*problems, "impact: it holds no outcomes and failed lists"]
    for outcome in outcomes:
        problem = _outcome_problem(outcome)
        if problem:
            return [*problems, f"impact: {problem}"]
    if not all(isinstance(f, Mapping) and isinstance(f.get("lot"), str) for f in failed):
        return [*problems, "impact: a failed lot is not an object naming its lot"]
    lots = [o["lot"] for o in outcomes] + [f["lot"] for f in failed]
    if len(set(lots)) != len(lots):
        problems.append("impact: a lot is accounted for more than once")
    counts = record.get("counts") or {}
    if counts.get("lots") != len(lots) or counts.get("failed") != len(failed):
        problems.append(
            f"impact: it counts {counts.get('lots')} lots and {counts.get('failed')} failed, "
            f"its outcomes and failures are {len(lots)} and {len(failed)}"
        )
    expected = summary(outcomes)
    for key in ("flips", "changes"):
        if not _same(expected[key], record.get(key)):
            problems.append(f"impact: its {key} are not what its per-lot outcomes give")
    return problems
