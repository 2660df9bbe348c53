"""Lot step: the bench sheet of a lot's manual results (appearance, safety tests, total viable
cell count).

Values are those of a conforming lot; each names who recorded it at the bench and when (UTC),
at deterministic times after the start of QC testing. They go to ``bench_sheet.yaml``, not to
lot.yaml: a release counts a manual result only once two people have entered and verified it
(``cytorelease manual enter`` / ``verify``), which the demo and the tests do from this sheet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml

from cytorelease.bench_sheet import BENCH_SHEET, BENCH_SHEET_SCHEMA
from cytorelease.synth.context import LotContext

__all__ = ["ANALYSTS", "write_manual_entries"]

ANALYSTS = ("qc-analyst-01", "qc-analyst-02", "micro-analyst-01")


def write_manual_entries(ctx: LotContext) -> None:
    """Write the bench sheet: appearance, endotoxin, sterility, mycoplasma, RCL and the total
    viable cell count."""
    rng = ctx.rng("manual")
    total_viable = int(round(float(10 ** rng.uniform(8.3, 9.1)), -6))
    endotoxin = round(float(rng.uniform(0.1, 1.5)), 2)
    # (attribute, value, unit, analyst, hours after testing started)
    rows: tuple[tuple[str, Any, str | None, str, float], ...] = (
        ("manual.appearance", "conforms", None, ANALYSTS[0], 0.5),
        ("manual.total_viable_cells", total_viable, "cells", ANALYSTS[0], 1.0),
        ("manual.endotoxin_eu_ml", endotoxin, "EU/mL", ANALYSTS[1], 5.0),
        ("manual.mycoplasma", "not detected", None, ANALYSTS[2], 28.0),
        ("manual.rcl", "not detected", None, ANALYSTS[1], 50.0),
        ("manual.sterility", "no growth", None, ANALYSTS[2], 24.0 * 14),
    )
    entries = []
    for attribute, value, unit, analyst, hours in rows:
        entry: dict[str, Any] = {"attribute": attribute, "value": value}
        if unit:
            entry["unit"] = unit
        entered_at = ctx.testing_start + timedelta(hours=hours, minutes=int(rng.integers(0, 50)))
        entry["recorded_by"] = analyst
        entry["recorded_at"] = entered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        entries.append(entry)
    sheet = {"schema": BENCH_SHEET_SCHEMA, "lot_id": ctx.lot_id, "results": entries}
    header = (
        "# Manual results as recorded at the bench (synthetic). A release does not read this\n"
        "# file: each value counts once entered and verified by two people (cytorelease manual).\n"
    )
    text = header + yaml.safe_dump(sheet, sort_keys=False, allow_unicode=True)
    ctx.write_bytes(BENCH_SHEET, text.encode("utf-8"))
    ctx.truth["manual"] = {entry["attribute"]: entry["value"] for entry in entries}
