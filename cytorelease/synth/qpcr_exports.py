"""Synthetic VCN exports for an example lot: a Biomark 96.96 run and a QX Manager run.

Both are simulated from known copy numbers, so a test can compare the computed VCN with the
truth. The Biomark chip holds five plasmid standards (1e2-1e6 copies per reaction), NTCs, the
lot's drug product (DP) and an untransduced control (UTD) on 96 sample inlets, against the CAR
assay on inlets A01-A48 and RPP30 on A49-A96. Cq follows the amplification law
Cq = c0 - log10(N) / log10(1 + E) with Poisson sampling of N and read noise; NTCs and the UTD's
CAR chambers do not amplify (Ct 999); a few chambers get a "Fail" call while keeping their Ct,
as real chips do. The QX Manager run is a FAM (CAR) / HEX (RPP30) duplex whose positives are
binomial draws for lambda = concentration x 0.85 nL. Bytes depend on the seed only.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BIOMARK_FILE", "QX_FILE", "write_qpcr_exports"]

BIOMARK_FILE = "qpcr/biomark_96.96_table_results.csv"
QX_FILE = "qpcr/qx_manager_results.csv"
ASSAY_ID = "vcn-car-rpp30"
STANDARDS = {f"STD-1e{k}": 10.0**k for k in (6, 5, 4, 3, 2)}
TRANSGENE, REFERENCE = "CAR", "RPP30"
# Amplification: Cq of one copy and efficiency per assay (within the 90-110% window).
_C0 = {TRANSGENE: 37.6, REFERENCE: 38.1}
_EFFICIENCY = {TRANSGENE: 0.97, REFERENCE: 0.99}
_READ_SD = 0.10
_FAIL_RATE = 0.004
_DROPLET_NL = 0.85

_QX_HEADER = (
    "Well,Sample description 1,Sample description 2,Sample description 3,Sample description 4,"
    "Target,Conc(copies/µL),pg/µL,Status,Status Reason,Experiment,SampleType,TargetType,"
    "Supermix,DyeName(s),Copies/20µLWell,TotalConfMax,TotalConfMin,PoissonConfMax,PoissonConfMin,"
    "Accepted Droplets,Positives,Negatives"
)


def _sample_plan(sample: str, control: str) -> list[tuple[str, str]]:
    """(name, Biomark sample type) for the 96 sample inlets."""
    plan: list[tuple[str, str]] = []
    for name in STANDARDS:
        plan += [(name, "Standard")] * 4
    plan += [("NTC", "NTC")] * 8
    plan += [(sample, "Unknown")] * 34
    plan += [(control, "Unknown")] * 34
    return plan


def _cq(rng: np.random.Generator, copies: float, target: str) -> float:
    n = rng.poisson(copies)
    if n == 0:
        return math.nan
    slope = 1.0 / math.log10(1.0 + _EFFICIENCY[target])
    return _C0[target] - slope * math.log10(n) + rng.normal(0.0, _READ_SD)


def _biomark_bytes(
    rng: np.random.Generator, vcn: float, cells: float, sample: str, control: str
) -> bytes:
    out = io.StringIO()
    out.write(
        "Chip Run Filename,D:\\Biomark\\ChipRuns\\1362000001\\ChipRun.bml\r\n"
        "Application Version,4.5.2\r\nApplication Build,20180525.0936\r\n"
        "Export Type,Table Results\r\nNumber of Chambers,9216\r\nQuality Threshold,0.65\r\n"
        "Baseline Correction Method,Linear (Derivative)\r\nCt Threshold Method,Auto (Global)\r\n"
        "\r\n\r\n"
    )
    out.write(",".join(["Experiment Information"] * 6 + ["FAM-MGB"] * 4) + "\r\n")
    out.write("Chamber,Sample,Sample,Sample,FAM-MGB,FAM-MGB,Ct,Ct,Ct,Ct\r\n")
    out.write("ID,Name,Type,rConc,Name,Type,Value,Quality,Call,Threshold\r\n")
    plan = _sample_plan(sample, control)
    amounts = {
        sample: {TRANSGENE: vcn * cells, REFERENCE: 2.0 * cells},
        control: {TRANSGENE: 0.0, REFERENCE: 2.0 * cells},
        "NTC": {TRANSGENE: 0.0, REFERENCE: 0.0},
    }
    for s_index, (name, kind) in enumerate(plan, start=1):
        for a_index in range(1, 97):
            target = TRANSGENE if a_index <= 48 else REFERENCE
            copies = STANDARDS[name] if name in STANDARDS else amounts[name][target]
            cq = _cq(rng, copies, target) if copies > 0 else math.nan
            r_conc = f"{STANDARDS[name]:g}" if name in STANDARDS else "1"
            if math.isnan(cq):
                value, quality, call = "999", "0", "Fail"
            elif rng.random() < _FAIL_RATE:
                value, quality, call = f"{cq:.10g}", f"{rng.uniform(0.2, 0.6):.2f}", "Fail"
            else:
                value, quality, call = f"{cq:.10g}", f"{rng.uniform(0.8, 0.97):.2f}", "Pass"
            assay_type = "Test" if target == TRANSGENE else "Reference"
            out.write(
                f"S{s_index:02d}-A{a_index:02d},{name},{kind},{r_conc},{target},{assay_type},"
                f"{value},{quality},{call},0.0315\r\n"
            )
    return out.getvalue().encode("utf-8")


def _qx_bytes(
    rng: np.random.Generator, vcn: float, ref_per_ul: float, sample: str, control: str
) -> bytes:
    wells = [(f"{r}01", sample, "Unknown") for r in "ABCD"]
    wells += [("E01", control, "Unknown"), ("F01", control, "Unknown")]
    wells += [("G01", "NTC", "NTC"), ("H01", "NTC", "NTC")]
    lines = [_QX_HEADER]
    for well, name, kind in wells:
        accepted = int(rng.normal(17_000, 1_200))
        for target, dye, ttype in ((TRANSGENE, "FAM", "Unknown"), (REFERENCE, "HEX", "Reference")):
            if name == "NTC":
                positives = int(rng.poisson(0.2))
            else:
                per_ul = ref_per_ul * (vcn / 2.0 if target == TRANSGENE else 1.0)
                if name == control and target == TRANSGENE:
                    per_ul = 0.0
                lam = per_ul * _DROPLET_NL * 1e-3
                positives = int(rng.binomial(accepted, -math.expm1(-lam)))
            negatives = accepted - positives
            conc = -math.log(negatives / accepted) / (_DROPLET_NL * 1e-3)
            lines.append(
                f"{well},{name},,,,{target},{conc:.6f},,OK,,ABS,{kind},{ttype},"
                f"ddPCR Supermix for Probes (No dUTP),{dye},{conc * 20:.4f},,,,,"
                f"{accepted},{positives},{negatives}"
            )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def write_qpcr_exports(
    lot_dir: str | Path,
    *,
    seed: int | Sequence[int],
    vcn_truth: float,
    sample: str = "DP",
    negative_control: str = "UTD",
    cells_per_reaction: float = 5_000.0,
    reference_copies_per_ul: float = 600.0,
) -> dict[str, Any]:
    """Write both exports into ``lot_dir/qpcr/``; returns their relative paths and the truth.

    ``vcn_truth`` is copies per diploid genome of the ``sample`` (the lot's drug product);
    ``negative_control`` is untransduced (VCN 0). Returns ``{"files": {"biomark": ...,
    "qx": ...}, "assay": "vcn-car-rpp30", "truth": {...}}`` with paths relative to ``lot_dir``.
    """
    if not 0 < vcn_truth <= 50:
        raise ValueError(f"vcn_truth must be in (0, 50], got {vcn_truth}")
    lot_dir = Path(lot_dir)
    rng = np.random.default_rng(seed)
    biomark = _biomark_bytes(rng, vcn_truth, cells_per_reaction, sample, negative_control)
    qx = _qx_bytes(rng, vcn_truth, reference_copies_per_ul, sample, negative_control)
    for relative, data in ((BIOMARK_FILE, biomark), (QX_FILE, qx)):
        path = lot_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {
        "files": {"biomark": BIOMARK_FILE, "qx": QX_FILE},
        "assay": ASSAY_ID,
        "truth": {
            "vcn_per_diploid_genome": vcn_truth,
            "sample": sample,
            "negative_control": negative_control,
            "standards_copies_per_reaction": dict(STANDARDS),
            "biomark_cells_per_reaction": cells_per_reaction,
            "qx_reference_copies_per_ul": reference_copies_per_ul,
        },
    }
