"""The standard curve as a plain SVG document (no plotting library): log concentration vs OD.

Standards are filled circles, samples in range are squares at their back-calculated in-well
concentration, the fitted curve is a line, the working range (LLOQ-ULOQ) is shaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from pathlib import Path

import numpy as np

from cytorelease.errors import InputError
from cytorelease.potency.elisa import ElisaResult

__all__ = ["curve_svg", "write_plots"]

_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 640, 420, 70, 20, 40, 60


def curve_svg(result: ElisaResult) -> str:
    """The SVG text of the standard curve with standards and samples."""
    nominal = [s.nominal for s in result.standards]
    lo, hi = math.log10(min(nominal)) - 0.5, math.log10(max(nominal)) + 0.5
    points = [(s.nominal, s.mean_od) for s in result.standards if s.mean_od is not None]
    samples = [
        (s.concentration / s.dilution, s.mean_od, s.name)
        for s in result.samples
        if s.concentration is not None and s.mean_od is not None
    ]
    ods = [od for _, od in points] + [od for _, od, _ in samples] + list(result.blank_ods)
    curve_x = np.logspace(lo, hi, 120)
    curve_y = result.fit.predict(curve_x) if result.fit.converged else np.array([])
    y_lo = min([0.0, *ods])
    y_hi = float(max([*ods, *(curve_y.tolist() if curve_y.size else [])] or [1.0])) * 1.05

    def sx(x: float) -> float:
        return _LEFT + (math.log10(x) - lo) / (hi - lo) * (_W - _LEFT - _RIGHT)

    def sy(y: float) -> float:
        return _H - _BOTTOM - (y - y_lo) / (y_hi - y_lo) * (_H - _TOP - _BOTTOM)

    title = f"{result.assay.assay.title} — {Path(result.plate.path).name}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_W / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    if result.lloq is not None and result.uloq is not None:
        x0, x1 = sx(result.lloq), sx(result.uloq)
        parts.append(
            f'<rect x="{x0:.1f}" y="{_TOP}" width="{x1 - x0:.1f}" height="{_H - _TOP - _BOTTOM}" '
            'fill="#e8f0fe"><title>working range (LLOQ-ULOQ)</title></rect>'
        )
    parts += _axes(lo, hi, y_lo, y_hi, sx, sy, result.assay.assay.reporting.unit)
    if curve_y.size:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}"
            for i, (x, y) in enumerate(zip(curve_x, curve_y, strict=True))
        )
        parts.append(f'<path d="{path}" fill="none" stroke="#1a73e8" stroke-width="2"/>')
    for x, y in points:
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#202124">'
            f"<title>standard {x:g}: OD {y:.3f}</title></circle>"
        )
    for x, y, name in samples:
        parts.append(
            f'<rect x="{sx(x) - 4:.1f}" y="{sy(y) - 4:.1f}" width="8" height="8" fill="#d93025">'
            f"<title>{escape(name)}: {x:.4g} in well, OD {y:.3f}</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _axes(
    lo: float,
    hi: float,
    y_lo: float,
    y_hi: float,
    sx: Callable[[float], float],
    sy: Callable[[float], float],
    unit: str,
) -> list[str]:
    bottom, right = _H - _BOTTOM, _W - _RIGHT
    out = [
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="black"/>',
        f'<text x="{(_LEFT + right) / 2}" y="{_H - 15}" text-anchor="middle">'
        f"concentration in well ({escape(unit)}, log scale)</text>",
        f'<text x="18" y="{(_TOP + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 18 {(_TOP + bottom) / 2})">optical density</text>',
    ]
    for decade in range(math.ceil(lo), math.floor(hi) + 1):
        x = sx(10.0**decade)
        out.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 5}" stroke="black"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">{10.0**decade:g}</text>'
        )
    for tick in np.linspace(y_lo, y_hi, 6):
        y = sy(float(tick))
        out.append(
            f'<line x1="{_LEFT - 5}" y1="{y:.1f}" x2="{_LEFT}" y2="{y:.1f}" stroke="black"/>'
        )
        out.append(f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    return out


def write_plots(result: ElisaResult, out_dir: str | Path) -> list[Path]:
    """Write ``<plate stem>_curve.svg`` into ``out_dir``; returns the files written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("is a file, not a folder for the plots", path=out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(result.plate.path).stem}_curve.svg"
    path.write_text(curve_svg(result), encoding="utf-8")
    return [path]
