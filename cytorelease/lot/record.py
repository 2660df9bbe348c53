"""The canonical result record (schema ``cytorelease.result/1``) of a release run.

Canonical means: sorted keys, and no float carries more digits than it can honestly claim
(measurement values keep 6 significant digits; reported values are the spec's decimal strings),
so the same analysis gives the same bytes on any machine and its SHA-256 identifies it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease.lot.manifest import LotManifest
from cytorelease.lot.outcome import AnalysisOutcome
from cytorelease.measurement import Measurement
from cytorelease.provenance import canonical_json, content_sha256, software

__all__ = ["RESULT_SCHEMA", "build_record", "canonical_form", "record_sha256", "write_record"]

RESULT_SCHEMA = "cytorelease.result/1"
_SIGNIFICANT = 6


def _canonical_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{_SIGNIFICANT}g}")
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _canonical_value(value.item())
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    if hasattr(value, "to_dict"):
        return _canonical_value(value.to_dict())
    return str(value)


def canonical_form(value: Any) -> Any:
    """``value`` as a record holds it (floats to 6 significant digits, objects as dicts)."""
    return _canonical_value(value)


def build_record(
    manifest: LotManifest,
    *,
    outcomes: Iterable[AnalysisOutcome],
    manual: Iterable[Measurement],
    evaluation: Mapping[str, Any],
    created_at: datetime | None = None,
    definitions: Iterable[Mapping[str, Any]] = (),
    library: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The record; ``definitions`` (spec, templates, assays with their lock status) and the site
    ``library`` (path and LOCK hash) are added only when given, so older records keep their bytes.
    """
    outcomes = list(outcomes)
    measurements = [m for o in outcomes for m in o.measurements] + list(manual)
    methods: dict[tuple[str, str, str], dict[str, Any]] = {}
    for outcome in outcomes:
        for method in outcome.methods:
            methods[(method["kind"], method["id"], str(method["version"]))] = method
    moment = (created_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    lot: dict[str, str] = {
        "id": manifest.lot_id,
        "product": manifest.product,
        "chain_of_identity": manifest.chain_of_identity,
        "manufacturing_date": manifest.manufacturing_date.isoformat(),
    }
    if manifest.site is not None:  # added only when named, so records without one keep bytes
        lot["site"] = manifest.site
    record = {
        "schema": RESULT_SCHEMA,
        "created_at": moment.isoformat().replace("+00:00", "Z"),
        "lot": lot,
        "software": software(),
        "inputs": [i.to_dict() for o in outcomes for i in o.inputs],
        "methods": [methods[k] for k in sorted(methods)],
        "analyses": [o.to_dict() for o in outcomes],
        "measurements": [m.to_dict() for m in measurements],
        "evaluation": dict(evaluation),
        "figures": [f for o in outcomes for f in o.figures],
    }
    definitions = [dict(d) for d in definitions]
    if definitions:
        record["definitions"] = definitions
    if library is not None:
        record["library"] = dict(library)
    return _canonical_value(record)


def record_sha256(record: Mapping[str, Any]) -> str:
    return content_sha256(record)


def write_record(record: Mapping[str, Any], path: Path) -> Path:
    """Write the record as sorted, indented JSON; its identity is the hash of its canonical form."""
    canonical_json(record)  # refuses NaN / inf before anything is written
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(
        json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)
    return path
