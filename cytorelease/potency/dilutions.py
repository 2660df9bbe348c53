"""A sample read off the standard curve: one dilution, or a dilution series.

Each dilution's replicate ODs give an in-well concentration; only a dilution inside the working
range (LLOQ-ULOQ) gives a number, which times its fold dilution is the undiluted concentration.
A sample measured at several dilutions reports the mean of its in-range dilution-corrected values
with their CV: a CV above the assay's ``dilution_cv_max_pct`` means the dilutions do not agree
(matrix effect, hook effect) and raises the ``dilution_linearity`` flag. No dilution in range
gives a bound, never an extrapolated number: below the range ``< LLOQ x`` the least-diluted fold
(the tightest bound the data allow), above it ``> ULOQ x`` the most-diluted fold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cytorelease.potency.assay import SampleRole
from cytorelease.potency.curve import CurveFit, RangeFlag

__all__ = ["DILUTION_LINEARITY", "DilutionResult", "SampleResult", "analyse_sample"]

DILUTION_LINEARITY = "dilution_linearity"


def od_stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = float(np.mean(values))
    if len(values) < 2 or mean == 0:
        return mean, None
    return mean, float(100.0 * np.std(values, ddof=1) / abs(mean))


@dataclass(frozen=True, slots=True)
class DilutionResult:
    dilution: float  # fold (>= 1)
    wells: tuple[str, ...]
    mean_od: float | None
    od_cv_pct: float | None
    concentration: float | None  # undiluted (in-well x fold); None outside the working range
    in_range: bool
    flag: str  # "", "< LLOQ", "> ULOQ", "no result"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dilution": self.dilution,
            "wells": list(self.wells),
            "mean_od": self.mean_od,
            "od_cv_pct": self.od_cv_pct,
            "concentration": self.concentration,
            "in_range": self.in_range,
            "flag": self.flag,
        }


@dataclass(frozen=True, slots=True)
class SampleResult:
    name: str
    role: SampleRole
    dilution: float  # the fold of a single dilution, or of the bound; the least diluted else
    dilutions: tuple[DilutionResult, ...]
    concentration: float | None  # undiluted; None for a bound or no result
    lower: float | None  # 95 % CI (one dilution only)
    upper: float | None
    cv_pct: float | None  # CV of the in-range dilutions' corrected values (two or more)
    flag: str  # "", "< LLOQ", "> ULOQ", "no result"
    reported: str  # "123.4", "< 78.1", "no result"
    flags: tuple[str, ...] = ()  # named flags the release shows: dilution_linearity
    notes: tuple[str, ...] = ()

    @property
    def wells(self) -> tuple[str, ...]:
        return tuple(w for d in self.dilutions for w in d.wells)

    @property
    def mean_od(self) -> float | None:
        return self.dilutions[0].mean_od if len(self.dilutions) == 1 else None

    @property
    def od_cv_pct(self) -> float | None:
        return self.dilutions[0].od_cv_pct if len(self.dilutions) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sample": self.name,
            "role": self.role.value,
            "dilution": self.dilution,
            "wells": list(self.wells),
            "mean_od": self.mean_od,
            "od_cv_pct": self.od_cv_pct,
            "concentration": self.concentration,
            "ci95": [self.lower, self.upper] if self.lower is not None else None,
            "cv_pct": self.cv_pct,
            "flag": self.flag,
            "flags": list(self.flags),
            "reported": self.reported,
            "dilutions": [d.to_dict() for d in self.dilutions],
            "notes": list(self.notes),
        }


def analyse_sample(
    name: str,
    role: SampleRole,
    steps: list[tuple[float, list[str], list[float]]],
    fit: CurveFit,
    lloq: float | None,
    uloq: float | None,
    *,
    decimals: int,
    replicate_cv_max_pct: float,
    dilution_cv_max_pct: float,
) -> SampleResult:
    """``steps``: (fold dilution, wells, their numeric ODs) for each dilution of the sample."""
    notes: list[str] = []
    usable = fit.converged and lloq is not None and uloq is not None
    results: list[DilutionResult] = []
    cis: list[tuple[float | None, float | None]] = []
    for fold, wells, values in steps:
        mean, cv = od_stats(values)
        if cv is not None and cv > replicate_cv_max_pct:
            notes.append(
                f"replicate CV {cv:.1f}% exceeds {replicate_cv_max_pct:g}%"
                + (f" at dilution {fold:g}" if len(steps) > 1 else "")
            )
        flag, value = "no result", None
        ci: tuple[float | None, float | None] = (None, None)
        if mean is not None and usable:
            assert lloq is not None and uloq is not None
            back = fit.back_calculate(values)
            in_well = back.concentration
            if back.side is RangeFlag.BELOW or (in_well is not None and in_well < lloq):
                flag = RangeFlag.BELOW.value
            elif back.side is RangeFlag.ABOVE or (in_well is not None and in_well > uloq):
                flag = RangeFlag.ABOVE.value
            elif in_well is not None:
                flag, value = "", in_well * fold
                ci = (
                    back.lower * fold if back.lower is not None else None,
                    back.upper * fold if back.upper is not None else None,
                )
        results.append(DilutionResult(fold, tuple(wells), mean, cv, value, flag == "", flag))
        cis.append(ci)

    def done(
        flag: str, reported: str, dilution: float, value: float | None = None, **extra: Any
    ) -> SampleResult:
        return SampleResult(
            name,
            role,
            dilution,
            tuple(results),
            value,
            extra.get("lower"),
            extra.get("upper"),
            extra.get("cv"),
            flag,
            reported,
            tuple(extra.get("flags", ())),
            tuple(notes) + tuple(extra.get("why", ())),
        )

    folds = [r.dilution for r in results]
    least = min(folds)
    if all(r.mean_od is None for r in results):
        return done("no result", "no result", least, why=["no numeric reading in its wells"])
    if not usable:
        return done("no result", "no result", least, why=["no accepted standard curve"])
    assert lloq is not None and uloq is not None
    inside = [r for r in results if r.in_range and r.concentration is not None]
    if not inside:
        sides = {r.flag for r in results if r.mean_od is not None}
        if sides == {RangeFlag.BELOW.value}:
            return done(RangeFlag.BELOW.value, f"< {lloq * least:.{decimals}f}", least)
        if sides == {RangeFlag.ABOVE.value}:
            most = max(folds)
            return done(RangeFlag.ABOVE.value, f"> {uloq * most:.{decimals}f}", most)
        # above the range at one dilution and below it at another: the series contradicts itself
        return done(
            "no result",
            "no result",
            least,
            flags=[DILUTION_LINEARITY],
            why=["no dilution inside the working range; dilutions fall on both sides of it"],
        )
    values = [r.concentration for r in inside if r.concentration is not None]
    mean = float(np.mean(values))
    if len(inside) == 1:
        index = results.index(inside[0])
        lower, upper = cis[index]
        spread: float | None = None
    else:
        lower = upper = None
        spread = float(100.0 * np.std(values, ddof=1) / mean) if mean else None
    flags, why = [], []
    if spread is not None and math.isfinite(spread) and spread > dilution_cv_max_pct:
        flags.append(DILUTION_LINEARITY)
        why.append(
            f"dilution-corrected values of {len(inside)} dilutions differ by CV {spread:.1f}% "
            f"(above {dilution_cv_max_pct:g}%)"
        )
    shown = inside[0].dilution if len(inside) == 1 else least
    return done(
        "",
        f"{mean:.{decimals}f}",
        shown,
        mean,
        lower=lower,
        upper=upper,
        cv=spread,
        flags=flags,
        why=why,
    )
