"""The trend report as one self-contained HTML page: nothing loaded, nothing run, printable.

Each chart is inline SVG (checked inert by the CoA's own ``safe_inline_svg``), followed by its
frozen baseline and its findings. The whole report record is embedded as JSON (``<`` escaped,
so no text from the table can close the element), so the limits a page shows are the limits it
records. Every text from the table is escaped.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from cytorelease.report.svg import safe_inline_svg
from cytorelease.trend.chart import Chart
from cytorelease.trend.nelson import RULES
from cytorelease.trend.report import TrendReport
from cytorelease.trend.svg import chart_svg

__all__ = ["render_page", "write_page"]

_CSS = """
body { font-family: sans-serif; font-size: 11pt; margin: 2em; color: #202124; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #c0c6cc; padding: 2px 6px; text-align: left; vertical-align: top; }
svg { max-width: 100%; height: auto; }
section { break-inside: avoid; page-break-inside: avoid; }
@media print { body { margin: 0; } @page { margin: 12mm; } }
"""


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _rows(rows: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)


def _findings(chart: Chart) -> str:
    items = [
        f"<li>rule {v.rule} ({escape(RULES[v.rule])}){' in the baseline' if v.in_baseline else ''}"
        f": {escape(', '.join(v.lots))}</li>"
        for v in chart.violations
    ]
    for name, signals in (("EWMA", chart.ewma), ("CUSUM", chart.cusum)):
        if signals:
            lots = ", ".join(f"{s.lot} ({s.side})" for s in signals)
            items.append(f"<li>{name}: {escape(lots)}</li>")
    if chart.mr_signals:
        items.append(f"<li>moving range above its UCL: {escape(', '.join(chart.mr_signals))}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No signal.</p>"


def _section(chart: Chart, index: int) -> str:
    s, b, p = chart.series, chart.baseline, chart.performance
    title = s.attribute + (f" at site {s.site}" if s.site is not None else "")
    ppk = "-" if p is None else f"{p.ppk:.3f} (95 % CI {p.ci[0]:.3f} to {p.ci[1]:.3f}, n {p.n})"
    facts = [
        ("lots", str(len(s.values))),
        ("baseline", f"first {b.n} lots: {b.lots[0]} to {b.lots[-1]}"),
        ("centre", _number(b.center)),
        ("UCL / LCL", f"{_number(b.ucl)} / {_number(b.lcl)}"),
        ("MR-bar / MR UCL", f"{_number(b.mr_bar)} / {_number(b.mr_ucl)}"),
        ("sigma (MR-bar / 1.128)", _number(b.sigma)),
        ("LSL / USL", f"{_number(s.lsl)} / {_number(s.usl)}"),
        ("Ppk", ppk),
    ]
    figure = safe_inline_svg(chart_svg(chart), title=f"chart {index}")
    return (
        f"<section><h2>{index}. {escape(title)}</h2>{figure}"
        f"<table>{_rows(facts)}</table><h3>Findings</h3>{_findings(chart)}</section>"
    )


def render_page(report: TrendReport) -> str:
    """The HTML text of ``report``."""
    record = json.dumps(report.to_dict(), sort_keys=True, ensure_ascii=True, allow_nan=False)
    record = record.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    source = [
        ("source", str(report.source)),
        ("SHA-256", report.source_sha256),
        ("lot order", "by date, then by lot id"),
        ("baseline", f"the first {report.baseline_n} lots of each chart, frozen"),
    ]
    sections = "".join(_section(chart, i) for i, chart in enumerate(report.charts, start=1))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Trend report</title><style>{_CSS}</style></head><body>"
        f"<h1>Trend report</h1><table>{_rows(source)}</table>{sections}"
        f'<script type="application/json" id="trend-record">{record}</script>'
        "</body></html>\n"
    )


def write_page(report: TrendReport, out: Path) -> Path:
    """Write the page to ``out`` (replacing an earlier report there), never over its source."""
    from cytorelease.errors import InputError

    if out.exists() and out.resolve() == report.source.resolve():
        raise InputError("is the table the report is drawn from; choose another --out", path=out)
    out.write_text(render_page(report), encoding="utf-8")
    return out
