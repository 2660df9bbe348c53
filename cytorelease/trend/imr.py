"""The individuals and moving-range (I-MR) chart's limits, frozen from a Phase I baseline.

From the first N lots: centre = their mean; MR-bar = the mean of their N - 1 moving ranges
|x_i - x_(i-1)|; individuals limits = centre +- 2.66 MR-bar; MR UCL = 3.267 MR-bar (MR LCL 0).
2.66 is 3 / d2 and 3.267 is D4, the constants for subgroups of two (d2 = 1.128), so
sigma = MR-bar / 1.128 is the short-term standard deviation the zones, EWMA and CUSUM use
(Montgomery, *Introduction to Statistical Quality Control*, the chart for individual
measurements; NIST/SEMATECH e-Handbook 6.3.2.2).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.trend.series import Series

__all__ = ["D2", "Baseline", "freeze_baseline", "moving_ranges"]

D2 = 1.128
E2 = 2.66
D4 = 3.267


@dataclass(frozen=True)
class Baseline:
    """The frozen Phase I limits: recorded with every report drawn against them."""

    lots: tuple[str, ...]
    center: float
    mr_bar: float

    @property
    def n(self) -> int:
        return len(self.lots)

    @property
    def sigma(self) -> float:
        return self.mr_bar / D2

    @property
    def ucl(self) -> float:
        return self.center + E2 * self.mr_bar

    @property
    def lcl(self) -> float:
        return self.center - E2 * self.mr_bar

    @property
    def mr_ucl(self) -> float:
        return D4 * self.mr_bar

    def to_dict(self) -> dict[str, object]:
        return {
            "lots": list(self.lots),
            "n": self.n,
            "center": self.center,
            "ucl": self.ucl,
            "lcl": self.lcl,
            "mr_bar": self.mr_bar,
            "mr_ucl": self.mr_ucl,
            "sigma": self.sigma,
        }


def moving_ranges(values: tuple[float, ...] | list[float]) -> list[float]:
    """|x_i - x_(i-1)| for i = 1 .. n-1."""
    return [abs(b - a) for a, b in itertools.pairwise(values)]


def freeze_baseline(series: Series, n: int, path: Path) -> Baseline:
    """The limits from the series' first ``n`` lots, or a refusal saying why there are none."""
    where = series.attribute + (f" at site {series.site!r}" if series.site is not None else "")
    if len(series.values) < n:
        raise InputError(
            f"{where} has {len(series.values)} lot{'s' if len(series.values) != 1 else ''}; "
            f"the baseline needs {n}",
            path=path,
            hint="lower --baseline or add lots",
        )
    values = series.values[:n]
    mr_bar = sum(moving_ranges(values)) / (n - 1)
    if mr_bar == 0.0:
        raise InputError(
            f"{where}: the {n} baseline values are all equal, so the limits would have no width",
            path=path,
        )
    return Baseline(series.lots[:n], sum(values) / n, mr_bar)
