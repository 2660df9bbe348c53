"""A chart as plain SVG: individuals over the moving ranges, limits and spec limits drawn.

The baseline lots are shaded; flagged points (any rule, EWMA, CUSUM or MR signal) are red and
labelled by lot. Every text from the table (attribute, site, lot ids) is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from cytorelease.trend.chart import Chart
from cytorelease.trend.imr import moving_ranges

__all__ = ["chart_svg"]

_W, _LEFT, _RIGHT = 720, 70, 110
_I_TOP, _I_H, _GAP, _MR_H, _BOTTOM = 40, 240, 40, 110, 30
_H = _I_TOP + _I_H + _GAP + _MR_H + _BOTTOM


def _scale(lo: float, hi: float, top: float, height: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    return lambda v: top + height - (v - lo) / (hi - lo) * height


def _hline(y: float, label: str, colour: str, dash: str = "") -> str:
    style = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" stroke="{colour}"{style}/>'
        f'<text x="{_W - _RIGHT + 4}" y="{y + 4:.1f}" fill="{colour}">{escape(label)}</text>'
    )


def chart_svg(chart: Chart) -> str:
    s, b = chart.series, chart.baseline
    n = len(s.values)
    flagged = chart.flagged
    limits = [b.ucl, b.lcl, *(v for v in (s.lsl, s.usl) if v is not None)]
    sy = _scale(min(*s.values, *limits), max(*s.values, *limits), _I_TOP, _I_H)
    step = (_W - _LEFT - _RIGHT) / max(n - 1, 1)

    def sx(i: int) -> float:
        return _LEFT + i * step

    title = s.attribute + (f" at {s.site}" if s.site is not None else "")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="10" role="img">',
        f"<title>{escape(title)}: individuals and moving range</title>",
        f'<text x="{_LEFT}" y="16" font-size="13">{escape(title)}</text>',
        f'<text x="{_LEFT}" y="30" fill="#4a5868">individuals; baseline: first {b.n} of {n} '
        "lots (shaded)</text>",
        f'<rect x="{_LEFT}" y="{_I_TOP}" width="{sx(b.n - 1) - _LEFT:.1f}" height="{_I_H}" '
        'fill="#eef2f7"/>',
        _hline(sy(b.center), f"CL {b.center:.4g}", "#202124"),
        _hline(sy(b.ucl), f"UCL {b.ucl:.4g}", "#c5221f", "5 3"),
        _hline(sy(b.lcl), f"LCL {b.lcl:.4g}", "#c5221f", "5 3"),
    ]
    for name, value in (("LSL", s.lsl), ("USL", s.usl)):
        if value is not None:
            parts.append(_hline(sy(value), f"{name} {value:.4g}", "#e37400", "1 2"))
    points = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in enumerate(s.values))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1a73e8" stroke-width="1"/>')
    for i, (lot, value) in enumerate(zip(s.lots, s.values, strict=True)):
        red = lot in flagged
        parts.append(
            f'<circle cx="{sx(i):.1f}" cy="{sy(value):.1f}" r="{3.2 if red else 2.4}" '
            f'fill="{"#c5221f" if red else "#1a73e8"}"><title>{escape(lot)} '
            f"({s.dates[i].isoformat()}): {value:.4g}</title></circle>"
        )
        if red:
            parts.append(
                f'<text x="{sx(i) + 4:.1f}" y="{sy(value) - 5:.1f}" fill="#c5221f" '
                f'font-size="9">{escape(lot)}</text>'
            )
    parts += _mr_panel(chart, sx)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _mr_panel(chart: Chart, sx: Callable[[int], float]) -> list[str]:
    b, s = chart.baseline, chart.series
    mrs = moving_ranges(s.values)
    top = _I_TOP + _I_H + _GAP
    sy = _scale(0.0, max(*mrs, b.mr_ucl), top, _MR_H)
    parts = [
        f'<text x="{_LEFT}" y="{top - 8}" fill="#4a5868">moving range</text>',
        _hline(sy(b.mr_bar), f"MR {b.mr_bar:.4g}", "#202124"),
        _hline(sy(b.mr_ucl), f"UCL {b.mr_ucl:.4g}", "#c5221f", "5 3"),
    ]
    points = " ".join(f"{sx(i + 1):.1f},{sy(v):.1f}" for i, v in enumerate(mrs))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1a73e8" stroke-width="1"/>')
    for i, value in enumerate(mrs):
        red = s.lots[i + 1] in chart.mr_signals
        parts.append(
            f'<circle cx="{sx(i + 1):.1f}" cy="{sy(value):.1f}" r="2.2" '
            f'fill="{"#c5221f" if red else "#1a73e8"}"/>'
        )
    return parts
