"""A release record into the lots dataset, with the numeric limits of the spec it names.

records/ stores the rows and reads no spec; this looks the spec up (the library's copy of the
id and version the record names, taken only when its SHA-256 is the record's) so ``lsl`` and
``usl`` are the limits the lot was judged against, or empty when that exact spec is not here.
Both a worker's release (hook/release_record.py) and a person's (lot/release.py) call
:func:`store_results` inside the transaction that records the release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cytorelease.records.lot_results import SpecLimits, store_record
from cytorelease.records.store import Store

__all__ = ["spec_limits", "store_results"]


def spec_limits(spec: Mapping[str, Any]) -> SpecLimits | None:
    """The numeric limits of the spec a record names (``evaluation.spec``), by attribute; None
    when the library holds no spec of that id and version with the record's SHA-256."""
    from cytorelease.errors import CytoreleaseError
    from cytorelease.spec.registry import resolve_spec

    try:
        loaded = resolve_spec(f"{spec.get('id')}@{spec.get('version')}")
    except CytoreleaseError:
        return None
    if loaded.sha256 != spec.get("sha256"):
        return None
    found: dict[str, tuple[float | None, float | None]] = {}
    for criterion in loaded.spec.criteria:
        limit = getattr(criterion, "limit", None)
        attribute = getattr(criterion, "attribute", None)
        if limit is None or not isinstance(attribute, str) or not hasattr(limit, "min"):
            continue
        low, high = limit.min, limit.max
        found.setdefault(
            attribute,
            (None if low is None else float(low), None if high is None else float(high)),
        )
    return found


def store_results(
    store: Store,
    record: Mapping[str, Any],
    *,
    record_sha256: str,
    origin: str,
    checked_against: str,
    site: str | None = None,
    release_id: int | None = None,
) -> int:
    """:func:`~cytorelease.records.lot_results.store_record` with the record's spec limits."""
    spec = record.get("evaluation", {}).get("spec") if isinstance(record, Mapping) else None
    return store_record(
        store, record, record_sha256=record_sha256, origin=origin,
        checked_against=checked_against, site=site, release_id=release_id,
        limits=spec_limits(spec) if isinstance(spec, Mapping) else None,
    )  # fmt: skip
