"""The CoA's "out of trend" section, from the record's ``out_of_trend`` block alone.

The block is written at release (``cytorelease.trend.oot``) when the data folder holds a frozen
baseline for the product. The page shows nothing for a record without one (no block, or a block
whose ``baseline`` is null): the record alone says that no baseline was found. With a baseline
the section names it (id, site or pooled, version, SHA-256) and lists each attribute whose new value breaks a
chart rule, with the rules and a sparkline of the last lots: the frozen limits drawn, this lot's
point marked. Every text from the record is escaped; the SVG holds numbers and escaped text
only, so it is inlined as it is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = ["out_of_trend_view", "sparkline_svg"]

_W, _H, _PAD_X, _PAD_Y = 220, 46, 4, 5


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def sparkline_svg(attribute: Mapping[str, Any]) -> str:
    """A small SVG of the attribute's last points: centre and control limits, the line of
    values, this lot's point (the last) marked, red when it is out of trend."""
    points = [
        (str(p.get("lot")), v)
        for p in attribute.get("sparkline") or []
        if isinstance(p, Mapping) and (v := _number(p.get("value"))) is not None
    ]
    limits = [v for k in ("ucl", "center", "lcl") if (v := _number(attribute.get(k))) is not None]
    if not points or not limits:
        return ""
    values = [v for _, v in points]
    low, high = min(*values, *limits), max(*values, *limits)
    span = (high - low) or 1.0

    def y(v: float) -> float:
        return _PAD_Y + (high - v) / span * (_H - 2 * _PAD_Y)

    step = (_W - 2 * _PAD_X) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return _PAD_X + i * step

    name = escape(str(attribute.get("attribute")))
    out = attribute.get("status") == "out_of_trend"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="oot-spark" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" style="max-width: 100%; height: auto" role="img"><title>{name}: last {len(points)} lots, '
        "frozen control limits</title>"
    ]
    for key, colour, dash in (("ucl", "#b3261e", "3 2"), ("center", "#4a535d", ""),
                              ("lcl", "#b3261e", "3 2")):  # fmt: skip
        value = _number(attribute.get(key))
        if value is not None:
            style = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{_PAD_X}" y1="{y(value):.1f}" x2="{_W - _PAD_X}" y2="{y(value):.1f}" '
                f'stroke="{colour}" stroke-width="0.8"{style}/>'
            )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f3b5c" stroke-width="1"/>')
    lot, last = points[-1]
    parts.append(
        f'<circle cx="{x(len(points) - 1):.1f}" cy="{y(last):.1f}" r="3" '
        f'fill="{"#b3261e" if out else "#1f3b5c"}"><title>{escape(lot)}: {last:g}</title></circle>'
    )
    parts.append("</svg>")
    return "".join(parts)


def out_of_trend_view(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the section shows, or None when the record names no baseline (nothing is shown)."""
    block = record.get("out_of_trend")
    if not isinstance(block, Mapping) or not isinstance(block.get("baseline"), Mapping):
        return None
    baseline = block["baseline"]
    attributes = [a for a in block.get("attributes") or [] if isinstance(a, Mapping)]
    flagged = [
        {
            "attribute": str(a.get("attribute")),
            "value": _fmt(a.get("value"), "g"),
            "limits": f"{_fmt(a.get('lcl'))} – {_fmt(a.get('ucl'))} (centre {_fmt(a.get('center'))})",
            "rules": [
                f"rule {r.get('rule')}: {r.get('description')}"
                for r in a.get("rules") or []
                if isinstance(r, Mapping)
            ],
            "sparkline": Markup(sparkline_svg(a)),
        }
        for a in attributes
        if a.get("status") == "out_of_trend"
    ]  # fmt: skip
    return {
        "baseline": f"{baseline.get('id')}{_scope(baseline)} version {baseline.get('version')}",
        "baseline_sha256": str(baseline.get("sha256")),
        "frozen": f"frozen {baseline.get('frozen_at')} by {baseline.get('frozen_by')}",
        "checked": len(attributes),
        "flagged": flagged,
        "unchecked": [str(a.get("attribute")) for a in attributes if a.get("status") == "no_value"],
    }


def _scope(baseline: Mapping[str, Any]) -> str:
    """Which of the product's baselines judged the lot (records before per-site baselines name
    no scope: theirs was the pooled one, shown as it was)."""
    if baseline.get("scope") == "site":
        return f", site {baseline.get('site')},"
    if baseline.get("scope") == "pooled":
        return " (pooled, all sites),"
    return ""


def _fmt(value: Any, form: str = ".4g") -> str:
    number = _number(value)
    return "—" if number is None else format(number, form)
