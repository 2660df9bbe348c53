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

__all__ = [
    "Check",
    "curve_checks",
    "dpcr_checks",
    "loq_check",
    "ntc_check",
    "reference_check",
    "replicate_sd_check",
]


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


def replicate_sd_check(
    samples: np.ndarray, cq: np.ndarray, target: str, limits: Acceptance
) -> Check:
    """The largest Cq SD among replicate groups (sample x target, >= 2 amplified wells)."""
    keep = np.isfinite(cq)
    codes, names = pd.factorize(samples[keep])
    values = cq[keep]
    count = np.bincount(codes, minlength=len(names)).astype(np.float64)
    total = np.bincount(codes, values, minlength=len(names))
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    squares = np.bincount(codes, (values - mean[codes]) ** 2, minlength=len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(count > 1, np.sqrt(squares / (count - 1)), np.nan)
    has = np.isfinite(sd)
    worst = float(sd[has].max()) if has.any() else 0.0
    worst_sample = str(names[np.nanargmax(np.where(has, sd, -1.0))]) if has.any() else None
    return Check(
        f"replicate Cq SD ({target})",
        _r(worst, 3),
        f"<= {limits.replicate_cq_sd_max:g}",
        worst <= limits.replicate_cq_sd_max,
        {"worst_sample": worst_sample} if worst_sample else {},
    )


def _no_ntc(target: str, limit: str) -> Check:
    return Check(f"NTC ({target})", "no NTC wells", limit, False, {"ntc_wells": 0})


def ntc_check(ntc_cq: np.ndarray, target: str, limits: Acceptance) -> Check:
    if ntc_cq.size == 0 and limits.require_ntc:
        return _no_ntc(target, f"undetermined or Cq > {limits.ntc_cq_min:g}")
    amplified = ntc_cq[np.isfinite(ntc_cq)]
    lowest = float(amplified.min()) if amplified.size else None
    return Check(
        f"NTC ({target})",
        _r(lowest, 2) if lowest is not None else "undetermined",
        f"undetermined or Cq > {limits.ntc_cq_min:g}",
        lowest is None or lowest > limits.ntc_cq_min,
        {"ntc_wells": int(ntc_cq.size)},
    )


def loq_check(samples: np.ndarray, cq: np.ndarray, curve: StandardCurve) -> Check:
    """Amplified unknown wells must sit inside the standards' Cq span (no extrapolation)."""
    low, high = curve.cq_range
    outside_mask = np.isfinite(cq) & ((cq < low) | (cq > high))
    outside = int(outside_mask.sum())
    names = sorted({str(s) for s in samples[outside_mask]})
    return Check(
        f"unknowns within standards range ({curve.target})",
        outside,
        f"0 wells outside Cq {low:.2f}-{high:.2f}",
        outside == 0,
        {"samples": names} if names else {},
    )


def reference_check(amplified: dict[str, bool], reference: str) -> Check:
    """Every test sample's reference must amplify: without it there is no denominator."""
    missing = sorted(name for name, ok in amplified.items() if not ok)
    return Check(
        f"reference amplified ({reference})",
        ", ".join(missing) if missing else "all samples",
        "every test sample",
        not missing,
        {"samples_without_reference": missing} if missing else {},
    )


def dpcr_checks(
    wells: np.ndarray,
    is_ntc: np.ndarray,
    partitions: np.ndarray,
    positives: np.ndarray,
    target: str,
    settings: DpcrSettings,
    *,
    require_ntc: bool,
) -> list[Check]:
    estimate = poisson_estimate(
        positives, partitions, min_partitions=settings.min_accepted_partitions
    )
    fewest = float(np.nanmin(partitions)) if np.isfinite(partitions).any() else math.nan
    short = [
        str(w)
        for w, f in zip(wells, estimate.flags, strict=True)
        if DpcrFlag.TOO_FEW_PARTITIONS in f or DpcrFlag.NO_PARTITIONS in f
    ]
    saturated = [
        str(w) for w, f in zip(wells, estimate.flags, strict=True) if DpcrFlag.SATURATED in f
    ]
    ntc_pos = positives[is_ntc]
    ntc_pos = ntc_pos[np.isfinite(ntc_pos)]
    ntc_max = int(ntc_pos.max()) if ntc_pos.size else 0
    ntc_limit = f"<= {settings.ntc_max_positives} positive partitions per well"
    ntc = (
        _no_ntc(target, ntc_limit)
        if require_ntc and not is_ntc.any()
        else Check(
            f"NTC ({target})",
            ntc_max,
            ntc_limit,
            ntc_max <= settings.ntc_max_positives,
            {"ntc_wells": int(is_ntc.sum())},
        )
    )
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
        ntc,
    ]
