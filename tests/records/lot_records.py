"""Release records of a ``sample-data history``: one cytorelease.result/1 record per lot.

Each record carries the history's values the way a release does: CAR+ % and viability as flow
measurements of the bundled gating template, VCN per transduced cell as the derived value the
spec reports, judged against the bundled cd19-car-t spec version 2 (its real SHA-256, so the
lots dataset takes the spec limits from it).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from cytorelease.spec.registry import resolve_spec
from cytorelease.synth.history import CAR, VCN, VIABILITY

PRODUCT = "cd19-car-t"
TEMPLATE = {"id": "cd19-car-t-panel", "kind": "gating-template", "version": "1.0.0",
            "sha256": "0b" * 32}  # fmt: skip


def spec_block() -> dict[str, Any]:
    loaded = resolve_spec(f"{PRODUCT}@2")
    return {"id": PRODUCT, "version": 2, "sha256": loaded.sha256, "status": "effective"}


def history_records(history_csv: Path, *, with_site: bool = True) -> list[dict[str, Any]]:
    """One record per lot of ``history_csv`` (lot, date, attribute, value, site, lsl, usl)."""
    by_lot: dict[str, list[dict[str, str]]] = defaultdict(list)
    with history_csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_lot[row["lot"]].append(row)
    spec = spec_block()
    records = []
    for lot, rows in by_lot.items():
        values = {r["attribute"]: r["value"] for r in rows}
        day = rows[0]["date"]
        lot_block = {"id": lot, "product": PRODUCT, "manufacturing_date": day,
                     "chain_of_identity": f"COI-{lot}"}  # fmt: skip
        if with_site:
            lot_block["site"] = rows[0]["site"]
        measurements = [
            {
                "attribute": a,
                "value": float(values[a]),
                "unit": "%",
                "inputs": [],
                "method": TEMPLATE,
            }
            for a in (VIABILITY, CAR)
        ]
        criteria = [
            {"id": "viability", "attribute": VIABILITY, "reported": values[VIABILITY],
             "unit": "%", "verdict": "pass", "kind": "numeric"},
            {"id": "car-expression", "attribute": CAR, "reported": values[CAR], "unit": "%",
             "verdict": "pass", "kind": "numeric"},
            {"id": "vcn", "attribute": VCN, "reported": values[VCN],
             "unit": "copies/transduced cell", "verdict": "pass", "kind": "derived"},
            {"id": "sterility", "attribute": "manual.sterility", "reported": None, "unit": "",
             "verdict": "pending", "kind": "qualitative"},
        ]  # fmt: skip
        records.append(
            {
                "schema": "cytorelease.result/1",
                "created_at": f"{day}T12:00:00Z",
                "lot": lot_block,
                "measurements": measurements,
                "evaluation": {"disposition": "PASS", "spec": spec, "criteria": criteria},
            }
        )
    return records
