"""Small writers of the inputs ``compare`` reads: a lots table CSV and release records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HEADER = "lot,product,site,date,attribute,value,unit,verdict,spec\n"


def table(
    path: Path, rows: Sequence[tuple[str, str, object, str, str]], header: str = HEADER
) -> Path:
    """Rows (lot, attribute, value, unit, verdict) as a ``lots table`` export."""
    lines = [
        f"{lot},cd19-car-t,site-1,2026-01-{1 + i % 28:02d},{attr},{value},{unit},{verdict},cd19-car-t@2\n"
        for i, (lot, attr, value, unit, verdict) in enumerate(rows)
    ]
    path.write_text(header + "".join(lines), encoding="utf-8")
    return path


def record(
    folder: Path,
    lot: str,
    measurements: dict[str, float | str],
    *,
    verdicts: dict[str, str] | None = None,
    reported: dict[str, str] | None = None,
    disposition: str = "PASS",
) -> Path:
    """A ``result.json`` shaped as ``release`` writes it (only the parts ``compare`` reads, plus
    the envelope): measurements, the evaluation's criteria and its disposition."""
    verdicts = verdicts or {}
    criteria: list[dict[str, Any]] = [
        {"attribute": a, "kind": "numeric", "reported": str(v), "unit": "%",
         "verdict": verdicts.get(a, "pass")}
        for a, v in measurements.items()
    ]  # fmt: skip
    for attribute, text in (reported or {}).items():
        criteria.append({"attribute": attribute, "kind": "derived", "reported": text,
                         "unit": "cells", "verdict": verdicts.get(attribute, "pass")})  # fmt: skip
    criteria.append({"attribute": None, "kind": "composite", "reported": None, "verdict": "pass"})
    document = {
        "schema": "cytorelease.result/1",
        "created_at": "2026-07-04T10:00:00Z",
        "lot": {
            "id": lot,
            "product": "cd19-car-t",
            "chain_of_identity": "COI-1",
            "manufacturing_date": "2026-07-04",
        },
        "measurements": [
            {"attribute": a, "value": v, "unit": "%" if isinstance(v, float) else ""}
            for a, v in measurements.items()
        ],
        "evaluation": {
            "criteria": criteria,
            "disposition": disposition,
            "alerts": [],
            "pending": [],
        },
    }
    path = folder / lot / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
