"""A trend report: every chart asked for, with the source it was drawn from (file and SHA-256)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cytorelease.trend.chart import Chart, build_chart
from cytorelease.trend.series import ORDERING, split_series
from cytorelease.trend.table import TrendTable, read_table

__all__ = ["DEFAULT_BASELINE", "TrendReport", "report_of", "trend_from_csv"]

DEFAULT_BASELINE = 20
SCHEMA = "cytorelease.trend/1"


@dataclass(frozen=True)
class TrendReport:
    source: Path
    source_sha256: str
    baseline_n: int
    by_site: bool
    charts: tuple[Chart, ...]

    def to_dict(self) -> dict[str, object]:
        from cytorelease import __version__

        return {
            "schema": SCHEMA,
            "software_version": __version__,
            "source": {"path": str(self.source), "sha256": self.source_sha256},
            "ordering": ORDERING,
            "baseline_n": self.baseline_n,
            "by_site": self.by_site,
            "charts": [chart.to_dict() for chart in self.charts],
        }


def trend_from_csv(
    path: Path,
    attributes: tuple[str, ...],
    *,
    baseline: int = DEFAULT_BASELINE,
    by_site: bool = False,
) -> TrendReport:
    """Charts of ``attributes`` from a historical table (see :mod:`cytorelease.trend.table`)."""
    return report_of(read_table(path, attributes), attributes, baseline=baseline, by_site=by_site)


def report_of(
    table: TrendTable, attributes: tuple[str, ...], *, baseline: int, by_site: bool
) -> TrendReport:
    """Charts of ``attributes`` from a table read from any source (file or lots dataset)."""
    if baseline < 2:
        raise ValueError("a baseline needs at least two lots (one moving range)")
    charts = tuple(
        build_chart(series, baseline, table.path)
        for series in split_series(table, attributes, by_site=by_site)
    )
    return TrendReport(table.path, table.sha256, baseline, by_site, charts)
