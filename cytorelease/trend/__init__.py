"""Across lots: control charts of an attribute's history (continued process verification).

An individuals and moving-range chart per attribute (per site with ``by_site``) whose limits
are frozen from a Phase I baseline, the Nelson rules, EWMA and tabular CUSUM for small shifts,
and Ppk against the spec limits. The source is a historical table (``--from-csv``) or the lots
dataset of a data folder's record store (``--data-dir``, :mod:`cytorelease.trend.from_store`).
"""

from __future__ import annotations

from pathlib import Path

from cytorelease.trend.report import DEFAULT_BASELINE, TrendReport, trend_from_csv

__all__ = ["DEFAULT_BASELINE", "TrendReport", "render_page", "trend_from_csv", "write_page"]


def render_page(report: TrendReport) -> str:
    """The self-contained HTML page of ``report`` (see :mod:`cytorelease.trend.page`)."""
    from cytorelease.trend.page import render_page as render

    return render(report)


def write_page(report: TrendReport, out: Path) -> Path:
    """Write the HTML page of ``report`` to ``out`` (never over the table it was drawn from)."""
    from cytorelease.trend.page import write_page as write

    return write(report, out)
