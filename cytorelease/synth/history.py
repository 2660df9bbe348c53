"""A seeded history of a product's lots with planted drifts, and the truth of what they are.

``sample-data history`` writes ``history.csv`` (the table ``cytorelease trend --from-csv``
reads: lot, date, attribute, value, site, lsl, usl) and ``truth.json``. Lots are numbered
1..N, made every three days, at sites assigned in turn (lot i at site ``site-(i mod S)+1``).
Three attributes, each normal around a stable mean, with two planted drifts:

- a step shift of ``STEP_SIGMA`` sigma up in CAR+ % at ``site-1`` from lot K (``shift_at``)
  on, which the per-site chart (``--by-site``) must catch;
- a slow viability decline of ``DECLINE_SIGMA_PER_LOT`` sigma per lot from lot
  ``decline_from`` on, at every site, which the pooled chart must catch;
- VCN per transduced cell stays stable: its charts should stay quiet.

The truth names, for each chart, the lots a drift affects (``affected_lots``): a signal
before the first of them is a false alarm, and a chart with none is a stable process.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError

__all__ = [
    "ATTRIBUTES",
    "HISTORY_FILE",
    "HISTORY_TRUTH_FILE",
    "HistoryTruth",
    "PlannedLot",
    "Stable",
    "write_history",
]

HISTORY_FILE = "history.csv"
HISTORY_TRUTH_FILE = "truth.json"
BASELINE = 20  # the charts' default baseline: a drift must start after it
STEP_SIGMA = 2.0
DECLINE_SIGMA_PER_LOT = 0.1
START = date(2026, 1, 5)
CAR, VIABILITY, VCN = (
    "flow.car_pct_of_viable_cd3",
    "flow.viability_pct_of_cd45",
    "derived.vcn_per_transduced_cell",
)


@dataclass(frozen=True)
class Stable:
    """An attribute's in-control process and its spec limits."""

    mean: float
    sd: float
    lsl: float | None
    usl: float | None
    decimals: int


ATTRIBUTES: dict[str, Stable] = {
    VIABILITY: Stable(91.0, 1.5, 80.0, None, 2),
    CAR: Stable(38.0, 4.0, 15.0, None, 2),
    VCN: Stable(2.6, 0.35, None, 5.0, 3),
}


@dataclass(frozen=True)
class HistoryTruth:
    seed: int
    lots: int
    sites: int
    shift_at: int
    decline_from: int
    charts: list[dict[str, object]]
    files: dict[str, str]
    raw: dict[str, Any] | None = None  # the raw lot folders, with --raw

    def drifts(self) -> list[dict[str, Any]]:
        step = {"kind": "step", "attribute": CAR, "site": "site-1", "from_lot": self.shift_at}
        decline = {"kind": "decline", "attribute": VIABILITY, "site": None}
        return [
            {**step, "size_sigma": STEP_SIGMA, "chart": "by-site"},
            {**decline, "from_lot": self.decline_from, "sigma_per_lot": DECLINE_SIGMA_PER_LOT,
             "chart": "pooled"},
        ]  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": "cytorelease.history-truth/1",
            "seed": self.seed,
            "lots": self.lots,
            "sites": self.sites,
            "baseline": BASELINE,
            "drifts": self.drifts(),
            "charts": self.charts,
            "files": self.files,
            **({} if self.raw is None else {"raw": self.raw}),
        }


@dataclass(frozen=True)
class PlannedLot:
    """One lot of the history: its number, id, site, date and values as history.csv holds them."""

    number: int
    lot: str
    site: str
    day: date
    values: dict[str, str]


def _lot(i: int) -> str:
    return f"CAR-H{i:04d}"


def _site(i: int, sites: int) -> str:
    return f"site-{(i - 1) % sites + 1}"


def _check(lots: int, sites: int, shift_at: int, out: Path) -> None:
    site1_before = sum(1 for i in range(1, shift_at) if _site(i, sites) == "site-1")
    if sites < 1 or lots < 2 * BASELINE:
        raise InputError(f"needs at least {2 * BASELINE} lots and one site", path=out)
    if site1_before < BASELINE or shift_at > lots:
        raise InputError(
            f"--shift-at {shift_at}: site-1 makes {site1_before} lots before it; the step must "
            f"come after site-1's {BASELINE}-lot baseline and at most at lot {lots}",
            path=out,
        )


def _charts(lots: int, sites: int, shift_at: int, decline_from: int) -> list[dict[str, object]]:
    numbers = range(1, lots + 1)
    step = [_lot(i) for i in numbers if i >= shift_at and _site(i, sites) == "site-1"]
    decline = [_lot(i) for i in numbers if i >= decline_from]
    charts: list[dict[str, object]] = []
    for attribute in ATTRIBUTES:
        affected = decline if attribute == VIABILITY else []
        charts.append({"attribute": attribute, "site": None, "by_site": False,
                       "affected_lots": affected})  # fmt: skip
        for s in range(1, sites + 1):
            site = f"site-{s}"
            hit = [lot for lot in decline if _site(int(lot[5:]), sites) == site]
            affected = step if (attribute == CAR and site == "site-1") else []
            affected = hit if attribute == VIABILITY else affected
            charts.append({"attribute": attribute, "site": site, "by_site": True,
                           "affected_lots": affected})  # fmt: skip
    return charts


def write_history(
    out: Path,
    *,
    lots: int = 60,
    sites: int = 2,
    seed: int = 1,
    shift_at: int | None = None,
    overwrite: bool = False,
    raw_events: int | None = None,
) -> HistoryTruth:
    """Write ``out/history.csv`` and ``out/truth.json``; the same arguments give the same bytes.

    ``raw_events``: also write each lot's raw files, ``raw_events`` events per flow tube, into
    ``out/raw/<lot>/`` (:mod:`cytorelease.synth.history_raw`); history.csv is the same either way.
    """
    from cytorelease.provenance import file_sha256

    shift_at = shift_at if shift_at is not None else lots * 3 // 4
    decline_from = lots // 2 + 1
    _check(lots, sites, shift_at, out)
    targets = [out / HISTORY_FILE, out / HISTORY_TRUTH_FILE]
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise InputError(
            "a history is already here; pass --force to overwrite it", path=existing[0]
        )
    if raw_events is not None:
        from cytorelease.synth.history_raw import check_raw_destination

        check_raw_destination(out, [_lot(i) for i in range(1, lots + 1)], overwrite=overwrite)
    rng = random.Random(seed)
    rows = ["lot,date,attribute,value,site,lsl,usl"]
    planned = []
    for i in range(1, lots + 1):
        site, day = _site(i, sites), START + timedelta(days=3 * (i - 1))
        values: dict[str, str] = {}
        for attribute, process in ATTRIBUTES.items():
            value = rng.gauss(process.mean, process.sd)
            if attribute == CAR and site == "site-1" and i >= shift_at:
                value += STEP_SIGMA * process.sd
            if attribute == VIABILITY and i >= decline_from:
                value -= DECLINE_SIGMA_PER_LOT * process.sd * (i - decline_from + 1)
            limits = ["" if v is None else f"{v:g}" for v in (process.lsl, process.usl)]
            values[attribute] = f"{value:.{process.decimals}f}"
            rows.append(
                f"{_lot(i)},{day.isoformat()},{attribute},{values[attribute]},{site},"
                f"{','.join(limits)}"
            )
        planned.append(PlannedLot(i, _lot(i), site, day, values))
    raw = None
    if raw_events is not None:
        from cytorelease.synth.history_raw import write_raw_lots

        raw = write_raw_lots(out, planned, seed=seed, events=raw_events, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    targets[0].write_text("\n".join(rows) + "\n", encoding="utf-8")
    files = {HISTORY_FILE: file_sha256(targets[0])}
    truth = HistoryTruth(seed, lots, sites, shift_at, decline_from,
                         _charts(lots, sites, shift_at, decline_from), files, raw)  # fmt: skip
    targets[1].write_text(json.dumps(truth.to_dict(), indent=2) + "\n", encoding="utf-8")
    return truth
