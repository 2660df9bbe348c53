"""Run-acceptance checks: each reports what it measured, against which limit, and the verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cytorelease.qpcr.assay import Acceptance, DpcrSettings
from cytorelease.qpcr.dpcr import DpcrFlag, poisson_estimate
from cytorelease.qpcr.stdcurve import StandardCurve
from cytorelease.qpcr.table import Task

__all__ = ["Check", "dpcr_checks", "qpcr_checks", "reference_checks"]


@dataclass(frozen=True, slots=True)
class Check:
    check: str
    value: Any
    limit: str
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"check": self.check, "value": self.value, "limit": self.limit, "passed": self.passed}
        if self.detail:
            out["detail"] = self.detail
        return out


def _r(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def curve_checks(curve: StandardCurve, limits: Acceptance) -> list[Check]:
    eff = curve.efficiency_pct
    window = limits.efficiency_pct
    return [
        Check(
            f"efficiency ({curve.target})",
            _r(eff, 2),
            f"{window.min:g}-{window.max:g} %",
            window.min <= eff <= window.max,
            {"slope": _r(curve.slope), "intercept": _r(curve.intercept)},
        ),
        Check(
            f"R^2 ({curve.target})",
            _r(curve.r_squared),
            f">= {limits.r_squared_min:g}",
            curve.r_squared >= limits.r_squared_min,
        ),
        Check(
            f"standard levels ({curve.target})",
            curve.levels,
            f">= {limits.min_standard_levels}",
            curve.levels >= limits.min_standard_levels,
        ),
    ]


def replicate_sd_check(rows: pd.DataFrame, target: str, limits: Acceptance) -> Check:
    """The largest Cq SD among replicate groups (sample x target, >= 2 amplified wells)."""
    amplified = rows[np.isfinite(rows["cq"].to_numpy())]
    sd = amplified.groupby("sample")["cq"].std(ddof=1).dropna()
    worst = float(sd.max()) if len(sd) else 0.0
    worst_sample = str(sd.idxmax()) if len(sd) else None
    return Check(
        f"replicate Cq SD ({target})",
        _r(worst, 3),
        f"<= {limits.replicate_cq_sd_max:g}",
        worst <= limits.replicate_cq_sd_max,
        {"worst_sample": worst_sample} if worst_sample else {},
    )


def ntc_check(rows: pd.DataFrame, target: str, limits: Acceptance) -> Check:
    ntc = rows[rows["task"].to_numpy() == Task.NTC.value]["cq"].to_numpy()
    amplified = ntc[np.isfinite(ntc)]
    lowest = float(amplified.min()) if amplified.size else None
    return Check(
        f"NTC ({target})",
        _r(lowest, 2) if lowest is not None else "undetermined",
        f"undetermined or Cq > {limits.ntc_cq_min:g}",
        lowest is None or lowest > limits.ntc_cq_min,
        {"ntc_wells": int(ntc.size)},
    )


def loq_check(unknowns: pd.DataFrame, curve: StandardCurve) -> Check:
    """Amplified unknown wells must sit inside the standards' Cq span (no extrapolation)."""
    cq = unknowns["cq"].to_numpy()
    cq = cq[np.isfinite(cq)]
    low, high = curve.cq_range
    outside = int(((cq < low) | (cq > high)).sum())
    samples = sorted(
        set(unknowns[(unknowns["cq"] < low) | (unknowns["cq"] > high)]["sample"].astype(str))
    )
    return Check(
        f"unknowns within standards range ({curve.target})",
        outside,
        f"0 wells outside Cq {low:.2f}-{high:.2f}",
        outside == 0,
        {"samples": samples} if samples else {},
    )


def qpcr_checks(
    rows: pd.DataFrame, curve: StandardCurve, unknowns: pd.DataFrame, limits: Acceptance
) -> list[Check]:
    checks = curve_checks(curve, limits)
    checks.append(replicate_sd_check(rows, curve.target, limits))
    checks.append(ntc_check(rows, curve.target, limits))
    if limits.unknowns_within_standards:
        checks.append(loq_check(unknowns, curve))
    return checks


def reference_checks(unknowns: pd.DataFrame, reference: str, *, digital: bool) -> Check:
    """Every test sample's reference must amplify: without it there is no denominator."""
    missing = []
    for sample, group in unknowns.groupby("sample", sort=True):
        if digital:
            ok = bool((group["positives"].fillna(0) > 0).any())
        else:
            ok = bool(np.isfinite(group["cq"].to_numpy()).any())
        if not ok:
            missing.append(str(sample))
    return Check(
        f"reference amplified ({reference})",
        ", ".join(missing) if missing else "all samples",
        "every test sample",
        not missing,
        {"samples_without_reference": missing} if missing else {},
    )


def dpcr_checks(rows: pd.DataFrame, target: str, settings: DpcrSettings) -> list[Check]:
    partitions = rows["partitions"].to_numpy(np.float64)
    positives = rows["positives"].to_numpy(np.float64)
    estimate = poisson_estimate(
        positives, partitions, min_partitions=settings.min_accepted_partitions
    )
    fewest = float(np.nanmin(partitions)) if np.isfinite(partitions).any() else math.nan
    short = [
        str(w)
        for w, f in zip(rows["well"], estimate.flags, strict=True)
        if DpcrFlag.TOO_FEW_PARTITIONS in f or DpcrFlag.NO_PARTITIONS in f
    ]
    saturated = [
        str(w) for w, f in zip(rows["well"], estimate.flags, strict=True) if DpcrFlag.SATURATED in f
    ]
    ntc = rows[rows["task"].to_numpy() == Task.NTC.value]
    ntc_max = int(ntc["positives"].max()) if len(ntc) and ntc["positives"].notna().any() else 0
    return [
        Check(
            f"accepted partitions ({target})",
            None if math.isnan(fewest) else int(fewest),
            f">= {settings.min_accepted_partitions:,} per well",
            not short,
            {"wells": short} if short else {},
        ),
        Check(
            f"not saturated ({target})",
            len(saturated),
            "0 wells with < 1% negative partitions",
            not saturated,
            {"wells": saturated} if saturated else {},
        ),
        Check(
            f"NTC ({target})",
            ntc_max,
            f"<= {settings.ntc_max_positives} positive partitions per well",
            ntc_max <= settings.ntc_max_positives,
            {"ntc_wells": len(ntc)},
        ),
    ]
