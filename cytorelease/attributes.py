"""The catalogue of attributes that analyses produce: the vocabulary specs are written in.

A spec criterion may only name an attribute listed here (or a derived attribute it declares), so
a typo in a spec is caught when it is validated, not when a lot comes back "missing".
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["ATTRIBUTES", "MANUAL_SOURCE", "Attribute", "is_known"]

# what produces a manual attribute: a person, whose entry a second person verifies
MANUAL_SOURCE = "manual entry"


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    unit: str
    kind: str  # "numeric" or "qualitative"
    produced_by: str  # the analysis that produces it
    description: str


_ALL = (
    Attribute(
        "flow.viability_pct_of_cd45",
        "%",
        "numeric",
        "flow gating",
        "viable cells, % of CD45+ singlets",
    ),
    Attribute(
        "flow.cd3_pct_of_viable_cd45",
        "%",
        "numeric",
        "flow gating",
        "CD3+ T cells, % of viable CD45+",
    ),
    Attribute(
        "flow.car_pct_of_viable_cd3", "%", "numeric", "flow gating", "CAR+ cells, % of viable CD3+"
    ),
    Attribute(
        "flow.cd4_cd8_ratio", "ratio", "numeric", "flow gating", "CD4+ / CD8+ among viable CD3+"
    ),
    Attribute(
        "flow.cd19_pct_of_viable", "%", "numeric", "flow gating", "CD19+ CD3- B cells, % of viable"
    ),
    Attribute("flow.cd4_pct_of_cd3", "%", "numeric", "flow gating", "CD4+, % of viable CD3+"),
    Attribute("flow.cd8_pct_of_cd3", "%", "numeric", "flow gating", "CD8+, % of viable CD3+"),
    Attribute(
        "flow.acquisition_qc_removed_pct",
        "%",
        "numeric",
        "flow gating",
        "events removed by acquisition QC",
    ),
    Attribute(
        "qpcr.transgene_detected",
        "",
        "qualitative",
        "qPCR/dPCR",
        "CAR transgene detected / not detected",
    ),
    Attribute(
        "qpcr.vcn_per_diploid_genome",
        "copies/diploid genome",
        "numeric",
        "qPCR/dPCR",
        "vector copies per diploid genome",
    ),
    Attribute(
        "qpcr.vcn_per_transduced_cell",
        "copies/transduced cell",
        "numeric",
        "qPCR/dPCR",
        "VCN divided by the CAR+ fraction",
    ),
    Attribute(
        "potency.ifng_pg_ml",
        "pg/mL",
        "numeric",
        "ELISA",
        "IFN-gamma released on antigen-positive targets",
    ),
    Attribute(
        "potency.ifng_fold_over_negative",
        "fold",
        "numeric",
        "ELISA",
        "IFN-gamma over antigen-negative co-culture",
    ),
    Attribute(
        "potency.relative_potency",
        "ratio",
        "numeric",
        "ELISA",
        "relative potency against the reference standard",
    ),
    Attribute(
        "potency.cytotoxicity_pct",
        "%",
        "numeric",
        "flow killing assay",
        "% specific lysis of targets",
    ),
    Attribute("manual.appearance", "", "qualitative", "manual entry", "visual appearance"),
    Attribute("manual.endotoxin_eu_ml", "EU/mL", "numeric", "manual entry", "endotoxin (LAL)"),
    Attribute("manual.sterility", "", "qualitative", "manual entry", "sterility culture"),
    Attribute("manual.mycoplasma", "", "qualitative", "manual entry", "mycoplasma (NAT)"),
    Attribute("manual.rcl", "", "qualitative", "manual entry", "replication-competent lentivirus"),
    Attribute(
        "manual.total_viable_cells",
        "cells",
        "numeric",
        "manual entry",
        "total viable nucleated cells in the lot",
    ),
    Attribute(
        "derived.car_viable_t_cells",
        "cells",
        "numeric",
        "derived",
        "dose: total viable cells x CAR+ fraction",
    ),
)

ATTRIBUTES: MappingProxyType[str, Attribute] = MappingProxyType({a.name: a for a in _ALL})


def is_known(name: str) -> bool:
    return name in ATTRIBUTES
