"""SVG plots of placed gates: each gate drawn on its parent population, counts labelled.

Plain SVG text (no plotting library): a 2-D gate on a density plot of its two dimensions, a
1-D gate (threshold, range) on a histogram, acquisition QC as events per time segment with the
removed segments shaded. Values are shown on the scale the gate uses (transformed markers on
their transformed scale), so the drawn gate is exactly the applied one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cytorelease.flow.gating._placers import PlacedGate
    from cytorelease.flow.gating.events import SampleEvents
    from cytorelease.flow.gating.gates import Gate
    from cytorelease.flow.gating.result import GatingResult

__all__ = ["gate_plots", "write_gate_plots"]

_W, _H = 420, 330
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 14, 40, 46
_BINS = 72
_GATE_COLOUR = "#d62728"
# light to dark blue: density plots read at a glance and print in grey
_RAMP = ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")


@dataclass(frozen=True)
class _Axes:
    x0: float
    x1: float
    y0: float
    y1: float

    def px(self, x: np.ndarray | float) -> np.ndarray:
        return _LEFT + (np.asarray(x) - self.x0) / (self.x1 - self.x0) * (_W - _LEFT - _RIGHT)

    def py(self, y: np.ndarray | float) -> np.ndarray:
        return (
            _H - _BOTTOM - (np.asarray(y) - self.y0) / (self.y1 - self.y0) * (_H - _TOP - _BOTTOM)
        )


def _range(values: np.ndarray, extra: list[float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite, [0.2, 99.8]) if len(finite) else (0.0, 1.0)
    points = [float(lo), float(hi), *[v for v in extra if np.isfinite(v)]]
    lo, hi = min(points), max(points)
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _frame(title: str, x_label: str, y_label: str, axes: _Axes, body: list[str]) -> str:
    ticks = []
    for i in range(5):
        xv = axes.x0 + (axes.x1 - axes.x0) * i / 4
        yv = axes.y0 + (axes.y1 - axes.y0) * i / 4
        ticks.append(
            f'<text x="{axes.px(xv):.1f}" y="{_H - _BOTTOM + 14}" text-anchor="middle">'
            f"{_fmt(xv)}</text>"
        )
        ticks.append(
            f'<text x="{_LEFT - 5}" y="{axes.py(yv) + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>'
        )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
            f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="10">',
            f'<rect width="{_W}" height="{_H}" fill="white"/>',
            f'<text x="{_W / 2}" y="16" text-anchor="middle" font-size="12" '
            f'font-weight="bold">{escape(title)}</text>',
            *body,
            f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" '
            f'height="{_H - _TOP - _BOTTOM}" fill="none" stroke="#333"/>',
            *ticks,
            f'<text x="{(_LEFT + _W - _RIGHT) / 2}" y="{_H - 10}" text-anchor="middle">'
            f"{escape(x_label)}</text>",
            f'<text transform="translate(14,{(_TOP + _H - _BOTTOM) / 2}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>',
            "</svg>",
        ]
    )


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _density(x: np.ndarray, y: np.ndarray, axes: _Axes) -> list[str]:
    counts, _, _ = np.histogram2d(x, y, bins=_BINS, range=[[axes.x0, axes.x1], [axes.y0, axes.y1]])
    if counts.max() <= 0:
        return []
    level = np.log1p(counts) / np.log1p(counts.max())
    w = (_W - _LEFT - _RIGHT) / _BINS
    h = (_H - _TOP - _BOTTOM) / _BINS
    out = []
    for i, j in zip(*np.nonzero(counts), strict=True):
        colour = _RAMP[min(int(level[i, j] * len(_RAMP)), len(_RAMP) - 1)]
        out.append(
            f'<rect x="{_LEFT + i * w:.1f}" y="{_H - _BOTTOM - (j + 1) * h:.1f}" '
            f'width="{w + 0.3:.1f}" height="{h + 0.3:.1f}" fill="{colour}"/>'
        )
    return out


def _label(text: str) -> str:
    return (
        f'<text x="{_W - _RIGHT - 4}" y="{_TOP + 14}" text-anchor="end" fill="{_GATE_COLOUR}" '
        f'font-weight="bold">{escape(text)}</text>'
    )


def gate_plots(result: GatingResult) -> dict[str, str]:
    """One SVG document per placed gate (by gate id), drawn on its parent population."""
    rows = {r.gate_id: r for r in result.rows}
    source = _source(result)
    everything = result.gated_events()  # never the events left out for NaN/inf
    plots: dict[str, str] = {}
    for placed in result.placed:
        if not placed.placed:
            continue
        row = rows[placed.id]
        parent = everything if row.parent is None else result.membership[row.parent]
        parent_name = "all events" if row.parent is None else rows[row.parent].name
        title = f"{row.name} on {parent_name}"
        label = f"{row.name}: {row.count:,} ({row.percent_of_parent:.2f} % of {parent_name})"
        gate = placed.gates[-1]
        outline = gate.outline()
        if placed.kind.value == "time_qc":
            plots[placed.id] = _time_plot(placed, source, parent, title, label)
        elif outline is not None and outline.shape[1] == 2:
            plots[placed.id] = _plot_2d(gate, outline, source, parent, title, label)
        elif outline is not None:
            plots[placed.id] = _plot_1d(gate, outline, source, parent, title, label)
    return plots


_UNSAFE_IN_NAMES = re.compile(r'[/\\:*?"<>|]')


def write_gate_plots(result: GatingResult, folder: str | Path) -> list[Path]:
    """Write ``<gate id>.svg`` for every plotted gate; returns the paths. A character no file
    name may hold becomes ``_`` (a FlowJo workspace's gate ids are paths: ``CD3+/CD4+``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for gate_id, svg in gate_plots(result).items():
        path = folder / f"{_UNSAFE_IN_NAMES.sub('_', gate_id)}.svg"
        path.write_text(svg, encoding="utf-8")
        written.append(path)
    return written


def _source(result: GatingResult) -> SampleEvents:
    from cytorelease.flow.gating.events import SampleEvents
    from cytorelease.flow.gating.preprocess import preprocessed_events

    return SampleEvents(
        result.sample,
        dict(result.strategy.spillovers),
        events=preprocessed_events(result.sample),
    )


def _drawn(outline: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """The outline with its open ends (+-inf) drawn at the edge of the plotted data."""
    drawn = outline.copy()
    for j, values in enumerate(columns):
        column = drawn[:, j]
        lo, hi = _range(values, [float(v) for v in column if np.isfinite(v)])
        column[column == -np.inf] = lo
        column[column == np.inf] = hi
    return drawn


def _plot_2d(
    gate: Gate,
    outline: np.ndarray,
    source: SampleEvents,
    parent: np.ndarray,
    title: str,
    label: str,
) -> str:
    dx, dy = gate.dimensions
    x = dx.values(source)[parent]
    y = dy.values(source)[parent]
    outline = _drawn(outline, [x, y])
    axes = _Axes(*_range(x, list(outline[:, 0])), *_range(y, list(outline[:, 1])))
    closed = np.vstack([outline, outline[:1]])
    points = " ".join(
        f"{px:.1f},{py:.1f}"
        for px, py in zip(axes.px(closed[:, 0]), axes.py(closed[:, 1]), strict=True)
    )
    body = [
        *_density(x, y, axes),
        f'<polyline points="{points}" fill="none" stroke="{_GATE_COLOUR}" stroke-width="1.6"/>',
        _label(label),
    ]
    return _frame(title, dx.label, dy.label, axes, body)


def _plot_1d(
    gate: Gate,
    outline: np.ndarray,
    source: SampleEvents,
    parent: np.ndarray,
    title: str,
    label: str,
) -> str:
    (dim,) = gate.dimensions
    values = dim.values(source)[parent]
    bounds = [float(v) for v in outline[:, 0] if np.isfinite(v)]
    x0, x1 = _range(values, bounds)
    (lo, hi) = _drawn(outline, [values])[:, 0]
    counts, edges = np.histogram(values, bins=120, range=(x0, x1))
    axes = _Axes(x0, x1, 0.0, float(counts.max() or 1) * 1.1)
    top = axes.py(counts)
    path = " ".join(
        f"{px:.1f},{py:.1f}"
        for px, py in zip(axes.px((edges[:-1] + edges[1:]) / 2), top, strict=True)
    )
    left = axes.px(lo)
    right = axes.px(hi)
    body = [
        f'<rect x="{left:.1f}" y="{_TOP}" width="{max(right - left, 0):.1f}" '
        f'height="{_H - _TOP - _BOTTOM}" fill="{_GATE_COLOUR}" fill-opacity="0.08"/>',
        f'<polyline points="{path}" fill="none" stroke="#08519c" stroke-width="1.2"/>',
        *[
            f'<line x1="{axes.px(b):.1f}" x2="{axes.px(b):.1f}" y1="{_TOP}" '
            f'y2="{_H - _BOTTOM}" stroke="{_GATE_COLOUR}" stroke-width="1.6"/>'
            for b in bounds
        ],
        _label(label),
    ]
    return _frame(title, dim.label, "events", axes, body)


def _time_plot(
    placed: PlacedGate, source: SampleEvents, parent: np.ndarray, title: str, label: str
) -> str:
    time = placed.gates[0].dimensions[0].values(source)[parent]
    segments = int(placed.details["segments"])
    counts, edges = np.histogram(time, bins=segments)
    axes = _Axes(float(edges[0]), float(edges[-1]), 0.0, float(counts.max() or 1) * 1.1)
    kept = placed.details["kept_intervals"]  # [first, last) time of every kept interval
    shade = []
    previous = edges[0]
    for lo, hi in [*kept, (edges[-1], None)]:
        start = edges[0] if lo is None else lo
        if start > previous:
            shade.append(
                f'<rect x="{axes.px(previous):.1f}" y="{_TOP}" '
                f'width="{axes.px(start) - axes.px(previous):.1f}" '
                f'height="{_H - _TOP - _BOTTOM}" fill="{_GATE_COLOUR}" fill-opacity="0.25"/>'
            )
        previous = edges[-1] if hi is None else hi
    bars = " ".join(
        f"{px:.1f},{py:.1f}"
        for px, py in zip(axes.px((edges[:-1] + edges[1:]) / 2), axes.py(counts), strict=True)
    )
    body = [
        *shade,
        f'<polyline points="{bars}" fill="none" stroke="#08519c" stroke-width="1.2"/>',
        _label(label),
    ]
    return _frame(title, "Time", "events per segment", axes, body)
