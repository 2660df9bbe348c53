"""The export's rows as arrays, and what both VCN paths (qPCR and dPCR) share.

An export's table is turned into plain arrays once (masks over arrays are cheap; over a
DataFrame they are not), and the per-sample result is the same ratio whichever path measured
the two targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cytorelease.errors import AssayError
from cytorelease.qpcr.acceptance import Check
from cytorelease.qpcr.dpcr import Z95
from cytorelease.qpcr.stdcurve import StandardCurve
from cytorelease.qpcr.table import QpcrExport
from cytorelease.qpcr.vcn_result import SampleVcn, TargetAmount

__all__ = ["RunArrays", "TargetAnalysis", "resolve_target", "sample_groups", "vcn_ratio"]


@dataclass(frozen=True)
class RunArrays:
    """The export's rows as plain arrays; ``usable`` = not excluded by the instrument's call."""

    sample: np.ndarray
    target: np.ndarray
    task: np.ndarray
    well: np.ndarray
    cq: np.ndarray
    quantity: np.ndarray
    partitions: np.ndarray
    positives: np.ndarray
    volume: np.ndarray  # nL per partition of each well (dPCR; NaN when not known)
    reported: np.ndarray  # the instrument's copies/µL of each well (dPCR)
    usable: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame, digital: bool) -> RunArrays:
        def col(name: str, dtype: Any) -> np.ndarray:
            if name not in table:
                return np.full(len(table), np.nan)
            return table[name].to_numpy(dtype)

        return cls(
            sample=col("sample", object),
            target=col("target", object),
            task=col("task", object),
            well=col("well", object),
            cq=col("cq", np.float64),
            quantity=col("quantity", np.float64),
            partitions=col("partitions", np.float64) if digital else np.empty(0),
            positives=col("positives", np.float64) if digital else np.empty(0),
            volume=col("volume_nl", np.float64) if digital else np.empty(0),
            reported=col("concentration", np.float64) if digital else np.empty(0),
            usable=~table["excluded"].to_numpy(bool),
        )


@dataclass(frozen=True)
class TargetAnalysis:
    """One target's acceptance checks, its standard curve (qPCR only) and each sample's amount."""

    checks: list[Check]
    curve: StandardCurve | None
    amounts: dict[str, TargetAmount | None]


def resolve_target(run: RunArrays, names: list[str], role: str, export: QpcrExport) -> str:
    """The first of the assay's names for a target that the export holds."""
    present = set(pd.unique(run.target).tolist())
    for name in names:
        if name in present:
            return name
    raise AssayError(
        f"{role} target {' / '.join(names)} is not in the export (targets present: "
        f"{', '.join(sorted(present)) or 'none'})",
        path=export.path,
        hint="check the assay's target names against the export",
    )


def sample_groups(samples: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of each sample among the rows in ``mask``."""
    index = np.flatnonzero(mask)
    codes, names = pd.factorize(samples[index])
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(names)))[:-1]
    return {str(n): g for n, g in zip(names, np.split(index[order], bounds), strict=True)}


def vcn_ratio(
    sample: str, role: str | None, t: TargetAmount | None, r: TargetAmount | None, cpdg: float
) -> SampleVcn:
    """Transgene copies per diploid genome, its interval from both targets' log-scale errors."""
    replicates = {"transgene": t.replicates if t else 0, "reference": r.replicates if r else 0}
    if t is None or not t.value > 0:
        return SampleVcn(
            sample=sample,
            role=role,
            replicates=replicates,
            transgene_detected=False,
            vcn=None,
            ci_low=None,
            ci_high=None,
            transgene=None,
            reference=r.value if r else None,
            note="transgene not detected",
        )
    if r is None or not r.value > 0:  # the reference check fails the run in this case
        return SampleVcn(
            sample=sample,
            role=role,
            replicates=replicates,
            transgene_detected=True,
            vcn=None,
            ci_low=None,
            ci_high=None,
            transgene=t.value,
            reference=None,
            note="reference not amplified",
        )
    vcn = cpdg * t.value / r.value
    se = math.hypot(t.log_se, r.log_se)  # independent errors on the log scale
    return SampleVcn(
        sample=sample,
        role=role,
        replicates=replicates,
        transgene_detected=True,
        vcn=vcn,
        ci_low=vcn * math.exp(-Z95 * se),
        ci_high=vcn * math.exp(Z95 * se),
        transgene=t.value,
        reference=r.value,
    )
