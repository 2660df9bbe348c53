"""The simulated instrument and release panel: detectors, fluorochromes, spillover, populations.

A 3-laser (violet, blue, red) BD-style cytometer: detectors are named after the fluorochrome
they collect (``FITC-A``, ``PE-A``...), markers are the $PnS labels the gating template looks
for. Viability is 7-AAD, read in the PerCP-Cy5.5 detector; the CAR is detected with a
PE-labelled anti-FMC63 idiotype reagent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from cytorelease.flow.fcs_write import ChannelSpec
from cytorelease.flow.sample import Spill

__all__ = [
    "CHANNELS",
    "FLUOROCHROMES",
    "MARKERS",
    "POPULATION_DESCRIPTIONS",
    "SCATTER_RANGE",
    "SPILLOVER",
    "Fluorochrome",
    "Population",
    "spill",
]

SCATTER_RANGE = 262144.0


@dataclass(frozen=True, slots=True)
class Fluorochrome:
    marker: str  # $PnS
    detector: str  # $PnN
    reagent: str
    autofluorescence: float  # median of a resting lymphocyte, in true (compensated) units


# Order = detector order in the file (violet, blue, yellow-green/blue tandems, red laser).
FLUOROCHROMES: tuple[Fluorochrome, ...] = (
    Fluorochrome("CD3", "BV421-A", "anti-CD3 BV421", 180.0),
    Fluorochrome("CD45", "FITC-A", "anti-CD45 FITC", 220.0),
    Fluorochrome("CAR", "PE-A", "anti-FMC63 idiotype PE", 130.0),
    Fluorochrome("Viability", "PerCP-Cy5-5-A", "7-AAD", 90.0),
    Fluorochrome("CD8", "PE-Cy7-A", "anti-CD8 PE-Cy7", 70.0),
    Fluorochrome("CD19", "APC-A", "anti-CD19 APC", 50.0),
    Fluorochrome("CD4", "APC-H7-A", "anti-CD4 APC-H7", 45.0),
)
MARKERS: tuple[str, ...] = tuple(f.marker for f in FLUOROCHROMES)

# Spillover (rows: fluorochrome, columns: detector, as $SPILLOVER): observed = true @ SPILLOVER.
# Values typical of this panel on a conventional 3-laser instrument: FITC into PE and PE into
# the PerCP-Cy5.5 detector dominate; tandems spill into their donor's and neighbour's detectors.
SPILLOVER = np.array(
    [
        # BV421  FITC   PE     PerCP  PE-Cy7 APC    APC-H7
        [1.000, 0.030, 0.004, 0.000, 0.000, 0.000, 0.000],  # BV421
        [0.002, 1.000, 0.220, 0.045, 0.006, 0.000, 0.000],  # FITC
        [0.000, 0.012, 1.000, 0.150, 0.030, 0.001, 0.000],  # PE
        [0.000, 0.000, 0.050, 1.000, 0.120, 0.020, 0.040],  # 7-AAD (PerCP-Cy5.5 detector)
        [0.000, 0.000, 0.020, 0.035, 1.000, 0.000, 0.012],  # PE-Cy7
        [0.000, 0.000, 0.000, 0.010, 0.003, 1.000, 0.080],  # APC
        [0.000, 0.000, 0.000, 0.002, 0.020, 0.030, 1.000],  # APC-H7
    ]
)

CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("FSC-A", None, SCATTER_RANGE),
    ChannelSpec("FSC-H", None, SCATTER_RANGE),
    ChannelSpec("SSC-A", None, SCATTER_RANGE),
    *(ChannelSpec(f.detector, f.marker, SCATTER_RANGE) for f in FLUOROCHROMES),
    ChannelSpec("Time", None, SCATTER_RANGE),
)


def spill() -> Spill:
    """The panel's spillover matrix labelled by detector names ($PnN)."""
    return Spill(tuple(f.detector for f in FLUOROCHROMES), SPILLOVER.copy())


class Population(IntEnum):
    """True identity of one event; the uint8 code stored in labels.npz."""

    DEBRIS = 0
    DOUBLET = 1
    DEAD = 2
    CD45_NEGATIVE = 3
    MONOCYTE = 4
    B_CELL = 5
    NK_OTHER = 6
    T_CD4 = 7
    T_CD4_CAR = 8
    T_CD8 = 9
    T_CD8_CAR = 10
    T_DN = 11
    T_DN_CAR = 12

    @property
    def slug(self) -> str:
        return self.name.lower()


POPULATION_DESCRIPTIONS: dict[Population, str] = {
    Population.DEBRIS: "debris: low FSC/SSC fragments, some 7-AAD bright",
    Population.DOUBLET: "doublet: two cells in one event (FSC-A ~ sum, FSC-H does not double)",
    Population.DEAD: "dead CD45+ cell: 7-AAD bright, lower FSC, dimmer staining",
    Population.CD45_NEGATIVE: "CD45- non-leukocyte event (e.g. residual red cells)",
    Population.MONOCYTE: "monocyte: CD45+ CD3- CD4 dim, high SSC",
    Population.B_CELL: "B cell: CD45+ CD3- CD19+",
    Population.NK_OTHER: "NK / other CD3- CD19- lymphocyte (some CD8 dim)",
    Population.T_CD4: "T cell CD3+ CD4+, CAR-",
    Population.T_CD4_CAR: "T cell CD3+ CD4+, CAR-expressing",
    Population.T_CD8: "T cell CD3+ CD8+, CAR-",
    Population.T_CD8_CAR: "T cell CD3+ CD8+, CAR-expressing",
    Population.T_DN: "T cell CD3+ CD4- CD8-, CAR-",
    Population.T_DN_CAR: "T cell CD3+ CD4- CD8-, CAR-expressing",
}

T_CELLS = frozenset(
    {
        Population.T_CD4,
        Population.T_CD4_CAR,
        Population.T_CD8,
        Population.T_CD8_CAR,
        Population.T_DN,
        Population.T_DN_CAR,
    }
)
CAR_T_CELLS = frozenset({Population.T_CD4_CAR, Population.T_CD8_CAR, Population.T_DN_CAR})
VIABLE_LEUKOCYTES = frozenset(
    {Population.MONOCYTE, Population.B_CELL, Population.NK_OTHER, *T_CELLS}
)
