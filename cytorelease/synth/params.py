"""The knobs of a synthetic lot: target fractions, event counts, acquisition artefacts.

Every percentage names its parent, as the gating template reports it. ``random_params`` spreads
the two fractions the release decision hinges on (CAR+ and viability) over their ranges with a
low-discrepancy sequence, so any 20 consecutive seeds cover CAR+ 5-60 % and viability 60-98 %
evenly instead of by luck.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from cytorelease.errors import InputError

__all__ = ["CAR_PCT_RANGE", "VIABILITY_PCT_RANGE", "LotParams", "random_params"]

CAR_PCT_RANGE = (5.0, 60.0)
VIABILITY_PCT_RANGE = (60.0, 98.0)

# Kronecker (additive recurrence) sequence steps: the golden ratio's fraction and sqrt(2) - 1.
# Any 20 consecutive seeds leave no gap wider than 0.09 of either range.
_KRONECKER_STEPS = (0.6180339887498949, 0.41421356237309515)


@dataclass(frozen=True)
class LotParams:
    """Target composition of a lot; realised fractions differ by sampling noise (see truth.json).

    Percentages of cells: ``viability_pct`` of CD45+ singlet cells; ``cd3_pct``, ``cd19_pct``
    and ``monocyte_pct`` of viable CD45+ cells (NK / other CD3- lymphocytes make up the rest);
    ``car_pct`` and ``dn_pct`` (CD4- CD8- T cells) of viable CD3+; ``cd4_cd8_ratio`` among the
    CD4+ and CD8+ T cells. Non-cell events as % of all events: ``debris_pct``, ``doublet_pct``,
    ``cd45_negative_pct``. ``clog`` adds a clog-then-burst segment of ``clog_fraction`` of the
    acquisition time that acquisition QC should remove.
    """

    car_pct: float = 35.0
    viability_pct: float = 90.0
    cd3_pct: float = 92.0
    cd4_cd8_ratio: float = 1.6
    dn_pct: float = 3.0
    cd19_pct: float = 0.6
    monocyte_pct: float = 1.5
    debris_pct: float = 8.0
    doublet_pct: float = 4.0
    cd45_negative_pct: float = 1.5
    n_events: int = 80_000
    fmo_events: int = 40_000
    event_rate_per_s: float = 1500.0
    clog: bool = True
    clog_fraction: float = 0.04

    def __post_init__(self) -> None:
        for name in (
            "car_pct",
            "viability_pct",
            "cd3_pct",
            "dn_pct",
            "cd19_pct",
            "monocyte_pct",
            "debris_pct",
            "doublet_pct",
            "cd45_negative_pct",
        ):
            _check_range(name, getattr(self, name), 0.0, 100.0)
        if self.cd3_pct + self.cd19_pct + self.monocyte_pct > 100.0:
            raise InputError(
                "cd3_pct + cd19_pct + monocyte_pct exceed 100 % of viable CD45+ cells "
                f"({self.cd3_pct} + {self.cd19_pct} + {self.monocyte_pct})",
                path="LotParams",
            )
        if self.debris_pct + self.doublet_pct + self.cd45_negative_pct >= 100.0:
            raise InputError(
                "debris_pct + doublet_pct + cd45_negative_pct leave no room for cells",
                path="LotParams",
            )
        if not (math.isfinite(self.cd4_cd8_ratio) and self.cd4_cd8_ratio > 0):
            raise InputError(
                f"cd4_cd8_ratio must be a positive number, got {self.cd4_cd8_ratio}",
                path="LotParams",
            )
        for name in ("n_events", "fmo_events"):
            if int(getattr(self, name)) < 1_000:
                raise InputError(
                    f"{name} must be at least 1000 for meaningful percentages, "
                    f"got {getattr(self, name)}",
                    path="LotParams",
                )
        if not self.event_rate_per_s > 0:
            raise InputError("event_rate_per_s must be positive", path="LotParams")
        _check_range("clog_fraction", self.clog_fraction, 0.0, 0.3)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LotParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown lot parameters: {', '.join(unknown)}", path="LotParams")
        return cls(**values)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise InputError(f"{name} must be within {low}-{high}, got {value}", path="LotParams")


def random_params(seed: int) -> LotParams:
    """Parameters of a plausible lot for ``seed``; CAR+ and viability follow a Kronecker sequence.

    Seeds 1..20 (or any 20 consecutive seeds) place CAR+ % within 5-60 and viability % within
    60-98 with no gap wider than about a tenth of each range; the other fractions are drawn from
    a generator seeded by ``seed``.
    """
    u_car = (0.5 + seed * _KRONECKER_STEPS[0]) % 1.0
    u_viability = (0.5 + seed * _KRONECKER_STEPS[1]) % 1.0
    rng = np.random.default_rng([seed, 0x5EED])
    monocyte = float(rng.uniform(0.3, 4.0))
    cd19 = float(rng.uniform(0.0, 2.5))
    cd3 = float(rng.uniform(75.0, 97.0 - monocyte - cd19))
    return LotParams(
        car_pct=round(CAR_PCT_RANGE[0] + u_car * (CAR_PCT_RANGE[1] - CAR_PCT_RANGE[0]), 3),
        viability_pct=round(
            VIABILITY_PCT_RANGE[0]
            + u_viability * (VIABILITY_PCT_RANGE[1] - VIABILITY_PCT_RANGE[0]),
            3,
        ),
        cd3_pct=round(cd3, 3),
        cd4_cd8_ratio=round(float(np.exp(rng.uniform(np.log(0.3), np.log(4.0)))), 3),
        dn_pct=round(float(rng.uniform(1.0, 6.0)), 3),
        cd19_pct=round(cd19, 3),
        monocyte_pct=round(monocyte, 3),
        debris_pct=round(float(rng.uniform(3.0, 15.0)), 3),
        doublet_pct=round(float(rng.uniform(2.0, 8.0)), 3),
        cd45_negative_pct=round(float(rng.uniform(0.5, 4.0)), 3),
        clog=bool(rng.uniform() < 0.8),
    )
