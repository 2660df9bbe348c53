"""What a frozen baseline document must be before a release is judged against it.

A baseline file is read back from a folder that anyone with access to the data folder can
write. Its content hash, LOCK line and audit row say who froze which bytes; this module says the
bytes are a baseline at all: the product, site and version its place names, finite numbers
only, baseline lots in series order (by date, then lot id; each once, dated as a freeze writes
a date) and limits that are the I-MR limits of the lots it lists (centre = their mean,
MR-bar = the mean of their moving ranges, UCL/LCL = centre +- 2.66 MR-bar, MR UCL =
3.267 MR-bar, sigma = MR-bar / 1.128), so a hand-edited limit is refused even when its hash,
LOCK line and trail row were forged to match. That the lots are real releases is for
:mod:`cytorelease.trend.frozen` to check against the lots dataset.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from cytorelease.trend.imr import D2, D4, E2, moving_ranges
from cytorelease.trend.series import ORDERING

__all__ = ["BASELINE_SCHEMA", "document_problem", "parse_baseline_json"]

BASELINE_SCHEMA = "cytorelease.trend-baseline/1"
_SHA = re.compile(r"[0-9a-f]{64}")
_LIMITS = ("center", "ucl", "lcl", "mr_bar", "mr_ucl", "sigma")


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NotFinite(f"{name} is not a number a baseline may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        raise _NotFinite(f"{text} is not a finite number")
    return value


def parse_baseline_json(text: str) -> tuple[Any, str | None]:
    """The parsed document, or None and why not; NaN, Infinity and overflowing numbers are
    refused here (the standard library would read them as floats)."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float), None
    except _NotFinite as exc:
        return None, str(exc)
    except json.JSONDecodeError as exc:
        return None, f"not a JSON baseline document ({exc})"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _iso_day(value: Any) -> bool:
    """A date as the freeze writes it (``date.isoformat()``): the text a series orders by."""
    if not isinstance(value, str):
        return False
    try:
        return date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def _close(found: float, expected: float) -> bool:
    return math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-12 * max(1.0, abs(expected)))


def _attribute_problem(entry: Any, baseline_n: int) -> str | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("attribute"), str):
        return "an attribute entry is not a mapping naming its attribute"
    name = entry["attribute"]
    if not _count(entry.get("n")) or entry["n"] != baseline_n:
        return f"{name}: n {entry.get('n')!r} is not the baseline's {baseline_n} lots"
    for key in _LIMITS:
        if not _number(entry.get(key)):
            return f"{name}: {key} {entry.get(key)!r} is not a finite number"
    for key in ("lsl", "usl"):
        if entry.get(key) is not None and not _number(entry.get(key)):
            return f"{name}: {key} {entry.get(key)!r} is neither null nor a finite number"
    lots = entry.get("lots")
    if not isinstance(lots, list) or len(lots) != baseline_n:
        return f"{name}: the baseline lots are not a list of its {baseline_n} lots"
    values = []
    previous: tuple[str, str] | None = None
    for lot in lots:
        ok = isinstance(lot, Mapping) and isinstance(lot.get("lot"), str)
        if not ok or not _number(lot.get("value")):
            return f"{name}: a baseline lot has no lot id or no finite value"
        if not isinstance(lot.get("record_sha256"), str) or not _SHA.fullmatch(
            lot["record_sha256"]
        ):
            return f"{name}: lot {lot['lot']!r} names no record SHA-256"
        if not _iso_day(lot.get("date")):
            return f"{name}: lot {lot['lot']!r} has date {lot.get('date')!r}, not an ISO date"
        # a series is in ORDERING (by date, then lot id), each lot once: the freeze's lots
        # are its first N, so any other order or a repeated lot is not what a freeze wrote
        if previous is not None and (lot["date"], lot["lot"]) <= previous:
            return (
                f"{name}: lot {lot['lot']!r} ({lot['date']}) follows {previous[1]!r} "
                f"({previous[0]}): the baseline lots are not in series order ({ORDERING})"
            )
        previous = (lot["date"], lot["lot"])
        values.append(float(lot["value"]))
    center = sum(values) / baseline_n
    mr_bar = sum(moving_ranges(values)) / (baseline_n - 1)
    expected = {"center": center, "mr_bar": mr_bar, "ucl": center + E2 * mr_bar,
                "lcl": center - E2 * mr_bar, "mr_ucl": D4 * mr_bar, "sigma": mr_bar / D2}  # fmt: skip
    for key, value in expected.items():
        if not _close(float(entry[key]), value):
            return (
                f"{name}: {key} {entry[key]!r} is not the {value!r} its {baseline_n} baseline "
                "lots give: the limits were changed"
            )
    if mr_bar <= 0.0:
        return f"{name}: the baseline lots' moving ranges are all zero"
    return None


def document_problem(document: Any, *, product: str, site: str | None, version: int) -> str | None:
    """Why ``document`` is not version ``version`` of the baseline of ``product`` (at ``site``,
    or pooled when None), or None when it is one."""
    if not isinstance(document, Mapping) or document.get("schema") != BASELINE_SCHEMA:
        return f"not a frozen trend baseline ({BASELINE_SCHEMA})"
    if document.get("product") != product or document.get("id") != product:
        return (
            f"names product {document.get('product')!r}, not {product!r}: another product's "
            "baseline"
        )
    if document.get("site") != site:
        found, where = document.get("site"), f"site {site!r}" if site else "the pooled baseline"
        named = f"site {found!r}" if found is not None else "no site (pooled)"
        return f"names {named}, but its place is {where}'s: a baseline copied from elsewhere"
    if not _count(document.get("version")) or document["version"] != version:
        return f"names version {document.get('version')!r}, not {version} (its file name)"
    supersedes = document.get("supersedes")
    if supersedes is not None and not (
        isinstance(supersedes, Mapping) and _count(supersedes.get("version"))
        and isinstance(supersedes.get("sha256"), str) and _SHA.fullmatch(supersedes["sha256"])
    ):  # fmt: skip
        return "supersedes is neither null nor a version and its SHA-256"
    baseline_n = document.get("baseline_n")
    if not isinstance(baseline_n, int) or not _count(baseline_n) or baseline_n < 2:
        return f"baseline_n {baseline_n!r} is not a count of at least two lots"
    attributes = document.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        return "holds no attribute"
    seen: set[str] = set()
    for entry in attributes:
        problem = _attribute_problem(entry, baseline_n)
        if problem is not None:
            return problem
        if entry["attribute"] in seen:
            return f"{entry['attribute']}: listed twice"
        seen.add(entry["attribute"])
    return None
