"""Ground truth of a simulated tube: realised fractions computed from the per-event true labels.

Definitions (the gating template's hierarchy: QC > cells > singlets > CD45+ > viable > ...):

- *evaluated events*: every event outside the clog/burst segment (``qc_segment``);
- *CD45+ singlet cells*: evaluated events that are not debris, doublets or CD45- events, i.e.
  dead cells + every viable leukocyte;
- ``flow.viability_pct_of_cd45`` = viable leukocytes / CD45+ singlet cells x 100;
- ``flow.cd3_pct_of_viable_cd45`` = T cells (any CD4/CD8, CAR or not) / viable leukocytes x 100;
- ``flow.car_pct_of_viable_cd3`` = T cells generated CAR-expressing / T cells x 100;
- ``flow.cd4_cd8_ratio`` = CD4+ T / CD8+ T; ``flow.cd4_pct_of_cd3`` and ``flow.cd8_pct_of_cd3``
  = CD4+ T (CD8+ T) / T cells x 100 (double negatives count in the denominator only);
- ``flow.cd19_pct_of_viable`` = B cells / viable leukocytes x 100;
- ``flow.acquisition_qc_removed_pct`` = events in the QC segment / all events x 100.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cytorelease.synth.panel import CAR_T_CELLS, T_CELLS, VIABLE_LEUKOCYTES, Population

__all__ = ["DEFINITIONS", "population_counts", "realised_measurements"]

DEFINITIONS: dict[str, str] = {
    "evaluated_events": "events outside the clog/burst time segment (qc_segment false)",
    "cd45_singlet_cells": "evaluated events that are dead cells or viable leukocytes "
    "(not debris, doublets or CD45- events)",
    "flow.viability_pct_of_cd45": "viable leukocytes / CD45+ singlet cells x 100",
    "flow.cd3_pct_of_viable_cd45": "T cells / viable leukocytes x 100",
    "flow.car_pct_of_viable_cd3": "T cells generated CAR-expressing / T cells x 100 "
    "(an FMO 99.5th-percentile gate is expected to read 0.005 x (100 - truth) points higher)",
    "flow.cd4_cd8_ratio": "CD4+ T cells / CD8+ T cells (viable)",
    "flow.cd4_pct_of_cd3": "CD4+ T cells / T cells x 100 (viable)",
    "flow.cd8_pct_of_cd3": "CD8+ T cells / T cells x 100 (viable)",
    "flow.cd19_pct_of_viable": "B cells (CD19+ CD3-) / viable leukocytes x 100",
    "flow.acquisition_qc_removed_pct": "events in the clog/burst segment / all events x 100",
    "car_pct_expected_with_fmo_p99_5_gate": "truth + 0.005 x (100 - truth): what a CAR+ gate at "
    "the FMO's 99.5th percentile reads, since 0.5 % of CAR- cells lie above any such threshold",
    "fmo_tube": "the FMO tube lacks the CAR reagent: its CAR-expressing cells (labelled as such) "
    "show autofluorescence only in the CAR channel",
}

_CD4 = (Population.T_CD4, Population.T_CD4_CAR)
_CD8 = (Population.T_CD8, Population.T_CD8_CAR)


def population_counts(labels: np.ndarray, mask: np.ndarray | None = None) -> dict[str, int]:
    """Events per population slug (restricted to ``mask`` when given)."""
    chosen = labels if mask is None else labels[mask]
    counts = np.bincount(chosen, minlength=len(Population))
    return {p.slug: int(counts[p]) for p in Population}


def _ratio(numerator: int, denominator: int, scale: float = 100.0) -> float | None:
    return None if denominator == 0 else scale * numerator / denominator


def realised_measurements(labels: np.ndarray, qc_segment: np.ndarray) -> dict[str, Any]:
    """The truth's measurements (attribute name -> value, None when undefined) and the counts
    they come from, computed over the events outside ``qc_segment``."""
    counts = np.bincount(labels[~qc_segment], minlength=len(Population))

    def total(populations: Any) -> int:
        return int(sum(counts[p] for p in populations))

    viable = total(VIABLE_LEUKOCYTES)
    cd45_cells = viable + int(counts[Population.DEAD])
    t_cells = total(T_CELLS)
    cd4, cd8 = total(_CD4), total(_CD8)
    n_all = int(labels.size)
    measurements = {
        "flow.viability_pct_of_cd45": _ratio(viable, cd45_cells),
        "flow.cd3_pct_of_viable_cd45": _ratio(t_cells, viable),
        "flow.car_pct_of_viable_cd3": _ratio(total(CAR_T_CELLS), t_cells),
        "flow.cd4_cd8_ratio": _ratio(cd4, cd8, scale=1.0),
        "flow.cd4_pct_of_cd3": _ratio(cd4, t_cells),
        "flow.cd8_pct_of_cd3": _ratio(cd8, t_cells),
        "flow.cd19_pct_of_viable": _ratio(int(counts[Population.B_CELL]), viable),
        "flow.acquisition_qc_removed_pct": _ratio(int(np.count_nonzero(qc_segment)), n_all),
    }
    denominators = {
        "all_events": n_all,
        "evaluated_events": int(n_all - np.count_nonzero(qc_segment)),
        "cd45_singlet_cells": cd45_cells,
        "viable_cd45": viable,
        "viable_cd3": t_cells,
        "car_t": total(CAR_T_CELLS),
        "cd4_t": cd4,
        "cd8_t": cd8,
        "b_cells": int(counts[Population.B_CELL]),
    }
    return {"measurements": measurements, "counts": denominators}
