"""A qPCR standard curve as a plain SVG document: Cq against log10 copies, with its fit.

The figure carries its own evidence (slope, efficiency, R^2) so a reviewer reading the CoA sees
the run acceptance, not just a line.
"""

from __future__ import annotations

import math
from html import escape

from cytorelease.qpcr.stdcurve import StandardCurve

__all__ = ["standard_curve_svg"]

_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 520, 360, 60, 20, 46, 50


def standard_curve_svg(curve: StandardCurve) -> str:
    xs = [p[0] for p in curve.points] or [math.log10(v) for v in curve.copies_range]
    ys = [p[1] for p in curve.points] or list(curve.cq_range)
    x_lo, x_hi = math.floor(min(xs)) - 0.25, math.ceil(max(xs)) + 0.25
    y_lo, y_hi = math.floor(min(ys)) - 1.0, math.ceil(max(ys)) + 1.0

    def sx(x: float) -> float:
        return _LEFT + (x - x_lo) / (x_hi - x_lo) * (_W - _LEFT - _RIGHT)

    def sy(y: float) -> float:
        return _H - _BOTTOM - (y - y_lo) / (y_hi - y_lo) * (_H - _TOP - _BOTTOM)

    bottom, right = _H - _BOTTOM, _W - _RIGHT
    title = f"Standard curve: {curve.target}"
    stats = (
        f"slope {curve.slope:.3f}, efficiency {curve.efficiency_pct:.1f} %, "
        f"R\u00b2 {curve.r_squared:.4f}, {curve.levels} levels"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_W / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<text x="{_W / 2}" y="34" text-anchor="middle" fill="#4a5868">{escape(stats)}</text>',
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="black"/>',
        f'<text x="{(_LEFT + right) / 2}" y="{_H - 12}" text-anchor="middle">copies per reaction (log scale)</text>',
        f'<text x="16" y="{(_TOP + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(_TOP + bottom) / 2})">Cq</text>',
    ]
    for decade in range(math.ceil(x_lo), math.floor(x_hi) + 1):
        x = sx(decade)
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 5}" stroke="black"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{bottom + 17}" text-anchor="middle">1e{decade}</text>')
    for tick in range(math.ceil(y_lo), math.floor(y_hi) + 1, 2):
        y = sy(tick)
        parts.append(
            f'<line x1="{_LEFT - 5}" y1="{y:.1f}" x2="{_LEFT}" y2="{y:.1f}" stroke="black"/>'
        )
        parts.append(f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    fit_lo, fit_hi = min(xs), max(xs)
    parts.append(
        f'<line x1="{sx(fit_lo):.1f}" y1="{sy(curve.slope * fit_lo + curve.intercept):.1f}" '
        f'x2="{sx(fit_hi):.1f}" y2="{sy(curve.slope * fit_hi + curve.intercept):.1f}" '
        'stroke="#1a73e8" stroke-width="2"/>'
    )
    for x, y in curve.points:
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="#202124">'
            f"<title>{10**x:.4g} copies: Cq {y:.2f}</title></circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
