"""The figures of a comparison as plain SVG: a Bland-Altman plot per paired attribute, the two
empirical distribution functions per unpaired one, laid out like the trend charts (the same
width, margins and labelled limit lines); every text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from cytorelease.compare.analysis import AttributeComparison

__all__ = ["attribute_svg", "bland_altman_svg", "ecdf_svg"]

# the trend charts' width and margins, so the two reports read alike
_W, _H, _LEFT, _RIGHT = 720, 360, 70, 110
_TOP, _PLOT_H = 40, _H - 40 - 60


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


def _frame(title: str, subtitle: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="10" role="img">',
        f"<title>{escape(title)}: {escape(subtitle)}</title>",
        f'<text x="{_LEFT}" y="16" font-size="13">{escape(title)}</text>',
        f'<text x="{_LEFT}" y="30" fill="#4a5868">{escape(subtitle)}</text>',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" height="{_PLOT_H}" '
        'fill="none" stroke="#c0c6cc"/>',
    ]


def _axis_labels(x_lo: float, x_hi: float, x_label: str, y_label: str) -> list[str]:
    bottom = _TOP + _PLOT_H
    return [
        f'<text x="{_LEFT}" y="{bottom + 14}" fill="#4a5868">{x_lo:.4g}</text>',
        f'<text x="{_W - _RIGHT}" y="{bottom + 14}" fill="#4a5868" text-anchor="end">'
        f"{x_hi:.4g}</text>",
        f'<text x="{(_LEFT + _W - _RIGHT) / 2:.0f}" y="{bottom + 30}" fill="#4a5868" '
        f'text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="12" y="{_TOP + _PLOT_H / 2:.0f}" fill="#4a5868" transform="rotate(-90 12 '
        f'{_TOP + _PLOT_H / 2:.0f})" text-anchor="middle">{escape(y_label)}</text>',
    ]


def _x_scale(lo: float, hi: float) -> tuple[float, float, Callable[[float], float]]:
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    width = _W - _LEFT - _RIGHT
    return lo, hi, lambda v: _LEFT + (v - lo) / (hi - lo) * width


def bland_altman_svg(c: AttributeComparison) -> str:
    """Difference B - A against the mean of A and B, with bias, limits of agreement and margin."""
    s = c.stats
    unit = f" ({c.unit})" if c.unit else ""
    parts = _frame(
        c.attribute, f"Bland-Altman: B - A against the mean of A and B, {len(c.pairs)} lots"
    )
    if not c.pairs:
        parts.append(f'<text x="{_LEFT + 10}" y="{_TOP + 20}">no lot in both sets</text></svg>')
        return "\n".join(parts) + "\n"
    means = [(a + b) / 2 for _, a, b in c.pairs]
    diffs = [b - a for _, a, b in c.pairs]
    lines = [
        v
        for v in (s.bias, getattr(s, "loa_low", None), getattr(s, "loa_high", None))
        if v is not None
    ]
    if c.margin is not None:
        lines += [-c.margin, c.margin]
    sy = _scale(min(*diffs, *lines), max(*diffs, *lines), _TOP, _PLOT_H)
    x_lo, x_hi, sx = _x_scale(min(means), max(means))
    if s.bias is not None:
        parts.append(_hline(sy(s.bias), f"bias {s.bias:.4g}", "#202124"))
    for name in ("loa_low", "loa_high"):
        value = getattr(s, name, None)
        if value is not None:
            parts.append(_hline(sy(value), f"LoA {value:.4g}", "#c5221f", "5 3"))
    if c.margin is not None:
        parts.append(_hline(sy(c.margin), f"+margin {c.margin:.4g}", "#e37400", "1 2"))
        parts.append(_hline(sy(-c.margin), f"-margin {c.margin:.4g}", "#e37400", "1 2"))
    parts.append(_hline(sy(0.0), "", "#9aa0a6", "2 4"))  # no difference; unlabelled
    for (lot, a, b), x, d in zip(c.pairs, means, diffs, strict=True):
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(d):.1f}" r="2.6" fill="#1a73e8">'
            f"<title>{escape(lot)}: A {a:.4g}, B {b:.4g}, B - A {d:.4g}</title></circle>"
        )
    parts += _axis_labels(x_lo, x_hi, f"mean of A and B{unit}", f"B - A{unit}")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def ecdf_svg(c: AttributeComparison) -> str:
    """The empirical distribution functions of A (blue) and B (orange), as steps."""
    unit = f" ({c.unit})" if c.unit else ""
    parts = _frame(
        c.attribute,
        f"distributions: A (blue, {len(c.values_a)} lots) and B (orange, {len(c.values_b)} lots)",
    )
    values = c.values_a + c.values_b
    if not values:
        parts.append(f'<text x="{_LEFT + 10}" y="{_TOP + 20}">no values</text></svg>')
        return "\n".join(parts) + "\n"
    x_lo, x_hi, sx = _x_scale(min(values), max(values))
    sy = _scale(0.0, 1.0, _TOP, _PLOT_H)
    for data, colour in ((c.values_a, "#1a73e8"), (c.values_b, "#e37400")):
        if not data:
            continue
        points = [f"{sx(x_lo):.1f},{sy(0.0):.1f}"]
        for i, v in enumerate(sorted(data)):
            points += [
                f"{sx(v):.1f},{sy(i / len(data)):.1f}",
                f"{sx(v):.1f},{sy((i + 1) / len(data)):.1f}",
            ]
        points.append(f"{sx(x_hi):.1f},{sy(1.0):.1f}")
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
    parts += _axis_labels(x_lo, x_hi, f"value{unit}", "fraction of lots at or below")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def attribute_svg(c: AttributeComparison) -> str:
    return bland_altman_svg(c) if c.paired else ecdf_svg(c)
