"""Lot step: the manual entries of a lot (appearance, safety tests, total viable cell count).

Values are those of a conforming lot; each entry names who entered it and when (UTC), at
deterministic times after the start of QC testing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cytorelease.synth.context import LotContext

__all__ = ["ANALYSTS", "write_manual_entries"]

ANALYSTS = ("qc-analyst-01", "qc-analyst-02", "micro-analyst-01")


def write_manual_entries(ctx: LotContext) -> None:
    """Add appearance, endotoxin, sterility, mycoplasma, RCL and the total viable cell count."""
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
        entry["entered_by"] = analyst
        entry["entered_at"] = entered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        entries.append(entry)
    ctx.manifest["manual"] = entries
    ctx.truth["manual"] = {entry["attribute"]: entry["value"] for entry in entries}
