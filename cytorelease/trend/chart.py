"""One control chart: a series against its frozen baseline, every signal found on it.

The Nelson rules run over every lot (a violation completed inside the baseline is marked
``in_baseline``); EWMA and CUSUM run on the lots after the baseline only, starting from the
baseline's centre. The Nelson zones are the drawn limits' thirds (sigma = 2.66 MR-bar / 3), so
rule 1 fires exactly at the chart's limits; EWMA and CUSUM use sigma = MR-bar / 1.128.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cytorelease.trend.capability import Performance, ppk
from cytorelease.trend.imr import E2, Baseline, freeze_baseline, moving_ranges
from cytorelease.trend.nelson import Violation, nelson_violations
from cytorelease.trend.series import Series
from cytorelease.trend.smallshift import Signal, cusum_signals, ewma_signals

__all__ = ["Chart", "build_chart"]


@dataclass(frozen=True)
class Chart:
    series: Series
    baseline: Baseline
    violations: tuple[Violation, ...]
    mr_signals: tuple[str, ...]  # lots whose moving range is above the MR UCL
    ewma: tuple[Signal, ...]
    cusum: tuple[Signal, ...]
    performance: Performance | None

    @property
    def flagged(self) -> set[str]:
        """Every lot a signal names (labelled on the chart)."""
        lots = {lot for v in self.violations for lot in v.lots} | set(self.mr_signals)
        return lots | {s.lot for s in (*self.ewma, *self.cusum)}

    def to_dict(self) -> dict[str, object]:
        s, b, p = self.series, self.baseline, self.performance
        mrs = [None, *moving_ranges(s.values)]
        return {
            "attribute": s.attribute,
            "site": s.site,
            "n": len(s.values),
            "baseline_n": b.n,
            "center": b.center,
            "ucl": b.ucl,
            "lcl": b.lcl,
            "mr_bar": b.mr_bar,
            "mr_ucl": b.mr_ucl,
            "sigma": b.sigma,
            "baseline": b.to_dict(),
            "lsl": s.lsl,
            "usl": s.usl,
            "violations": [v.to_dict() for v in self.violations],
            "mr_signals": list(self.mr_signals),
            "ewma_signals": [x.to_dict() for x in self.ewma],
            "cusum_signals": [x.to_dict() for x in self.cusum],
            "ppk": None if p is None else p.ppk,
            "ppk_ci": None if p is None else list(p.ci),
            "lots": [
                {"lot": lot, "date": day.isoformat(), "value": value, "mr": mr}
                for lot, day, value, mr in zip(s.lots, s.dates, s.values, mrs, strict=True)
            ],
        }


def build_chart(series: Series, baseline_n: int, path: Path) -> Chart:
    baseline = freeze_baseline(series, baseline_n, path)
    violations = nelson_violations(
        series.values,
        series.lots,
        center=baseline.center,
        sigma=E2 * baseline.mr_bar / 3.0,
        baseline_n=baseline.n,
    )
    mrs = moving_ranges(series.values)
    mr_signals = tuple(series.lots[i + 1] for i, mr in enumerate(mrs) if mr > baseline.mr_ucl)
    after_lots, after = list(series.lots[baseline.n :]), list(series.values[baseline.n :])
    return Chart(
        series,
        baseline,
        tuple(violations),
        mr_signals,
        tuple(ewma_signals(after_lots, after, baseline.center, baseline.sigma)),
        tuple(cusum_signals(after_lots, after, baseline.center, baseline.sigma)),
        ppk(series.values, series.lsl, series.usl),
    )
