"""The dPCR path of a VCN run: each sample's wells pooled per target (Poisson, Wilson interval).

Copies/µL come from each well's own partition volume: the assay's volume for the platform when
it states one, else the export's per well, never an average over other wells or samples (an
export-wide mean was 4.1 % off in copies/µL on a real QIAcuity plate).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from cytorelease.qpcr.acceptance import dpcr_checks
from cytorelease.qpcr.assay import QpcrAssay
from cytorelease.qpcr.dpcr import (
    Z95,
    concentration,
    differs_from_reported,
    poisson_estimate,
    pooled_concentration,
)
from cytorelease.qpcr.table import QpcrExport
from cytorelease.qpcr.vcn_result import SampleVcn, TargetAmount
from cytorelease.qpcr.vcn_run import RunArrays, TargetAnalysis

__all__ = [
    "analyse_dpcr_target",
    "dpcr_wells",
    "in_copies_per_ul",
    "volume_flags",
    "well_volumes",
]


def _amount(
    partitions: np.ndarray, positives: np.ndarray, volume: np.ndarray, min_positives: int
) -> TargetAmount | None:
    """Pooled copies/partition (the VCN ratio's unit) and copies/µL of one sample's wells."""
    usable = np.isfinite(partitions)
    partitions, positives, volume = partitions[usable], positives[usable], volume[usable]
    if partitions.size == 0:
        return None
    if np.nansum(positives) < min_positives:
        per_ul = None if pooled_concentration(positives, partitions, volume) is None else 0.0
        return TargetAmount(0.0, math.inf, int(partitions.size), per_ul)
    per_ul = pooled_concentration(np.nan_to_num(positives), partitions, volume)
    est = poisson_estimate(np.nansum(positives), partitions.sum())
    lam, low, high = float(est.lambda_[0]), float(est.lambda_low[0]), float(est.lambda_high[0])
    if not math.isfinite(lam):
        return TargetAmount(math.nan, math.inf, int(partitions.size), per_ul)
    se = (math.log(high) - math.log(max(low, 1e-300))) / (2 * Z95)
    return TargetAmount(lam, se, int(partitions.size), per_ul)


def well_volumes(run: RunArrays, export: QpcrExport, assay: QpcrAssay) -> np.ndarray:
    """nL per partition of each well: the assay's value for the platform, else the export's."""
    configured = assay.dpcr.partition_volume_nl.get(export.format.value)
    if configured is not None:
        return np.full(run.volume.shape, configured)
    return run.volume


def analyse_dpcr_target(
    run: RunArrays,
    target: str,
    *,
    on: np.ndarray,
    ntc: np.ndarray,
    is_ntc: np.ndarray,
    groups: dict[str, np.ndarray],
    samples: list[str],
    volume: np.ndarray,
    min_positives: int,
    assay: QpcrAssay,
) -> TargetAnalysis:
    """Partition and NTC checks, and each sample's pooled amount (None without wells)."""
    wells = on | ntc
    checks = dpcr_checks(
        run.well[wells],
        is_ntc[wells],
        run.partitions[wells],
        run.positives[wells],
        target,
        assay.dpcr,
        require_ntc=assay.acceptance.require_ntc,
    )
    amounts = {
        s: _amount(run.partitions[g], run.positives[g], volume[g], min_positives)
        if (g := groups.get(s)) is not None
        else None
        for s in samples
    }
    return TargetAnalysis(checks, None, amounts)


def in_copies_per_ul(
    result: SampleVcn, t: TargetAmount | None, r: TargetAmount | None
) -> SampleVcn:
    """Copies per partition -> copies/µL when every well of the sample has its volume."""
    shown = [(a, v) for a, v in ((t, result.transgene), (r, result.reference)) if v is not None]
    if not shown or any(a is None or a.per_ul is None for a, _ in shown):
        return replace(result, amount_unit="copies/partition")
    return replace(
        result,
        transgene=None if result.transgene is None or t is None else t.per_ul,
        reference=None if result.reference is None or r is None else r.per_ul,
        amount_unit="copies/uL",
    )


def dpcr_wells(run: RunArrays, mask: np.ndarray, volume: np.ndarray) -> list[dict[str, Any]]:
    """Each well's own copies/µL (its partitions, its volume) beside the instrument's."""

    def num(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    ours = concentration(run.positives, run.partitions, volume)
    differs = differs_from_reported(ours, run.reported)
    return [
        {
            "well": str(run.well[i]),
            "sample": str(run.sample[i]),
            "target": str(run.target[i]),
            "partitions": num(run.partitions[i]),
            "positives": num(run.positives[i]),
            "volume_nl": num(volume[i]),
            "concentration": num(ours[i]),
            "reported_concentration": num(run.reported[i]),
            "differs_from_reported": bool(differs[i]),
        }
        for i in np.flatnonzero(mask)
    ]


def volume_flags(wells: list[dict[str, Any]]) -> list[str]:
    """A flag when our copies/µL of a well is not the instrument's: the volume is not its."""
    apart = [w["well"] for w in wells if w["differs_from_reported"]]
    if not apart:
        return []
    shown = ", ".join(dict.fromkeys(apart[:8])) + (", ..." if len(apart) > 8 else "")
    return [
        f"dPCR concentration differs: {len(apart)} of {len(wells)} wells' copies/uL from their "
        f"partitions and partition volume differ from the export's by over 1 % ({shown}); the "
        "partition volume used is not the instrument's"
    ]
