"""Singlets from the FSC-A/FSC-H relation: a robust line and a band around it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cytorelease.flow.gating._huber import huber_line
from cytorelease.flow.gating.placement import (
    MIN_FIT_EVENTS,
    kde_on_grid,
    rows_to_fit,
    silverman_bandwidth,
    single_threaded,
)

__all__ = ["SingletBand", "singlet_band"]


@dataclass(frozen=True, slots=True)
class SingletBand:
    """height = slope * area + intercept, kept within ``k`` robust SDs, SD = c0 + c1 * area."""

    slope: float
    intercept: float
    sd_intercept: float
    sd_slope: float
    k: float
    x_range: tuple[float, float]
    method: str

    def bounds(self, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre = self.slope * area + self.intercept
        half = self.k * (self.sd_intercept + self.sd_slope * area)
        return centre - half, centre + half

    def vertices(self) -> list[tuple[float, float]]:
        """The band as a four-vertex polygon (area on x, height on y) over ``x_range``."""
        (x0, x1) = self.x_range
        low, high = self.bounds(np.array([x0, x1], dtype=np.float64))
        return [
            (x0, float(low[0])),
            (x1, float(low[1])),
            (x1, float(high[1])),
            (x0, float(high[0])),
        ]


def _grouped_medians(
    groups: np.ndarray, values: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Count and median (as ``np.median`` gives it; NaN when empty) of the values of each
    group ``0 .. n_groups - 1``, with one sort for all groups."""
    ordered = values[np.lexsort((values, groups))]
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    medians = np.full(n_groups, np.nan)
    filled = counts > 0
    low = starts[filled] + (counts[filled] - 1) // 2
    high = starts[filled] + counts[filled] // 2
    medians[filled] = (ordered[low] + ordered[high]) / 2
    return counts, medians


def _band_spread(x: np.ndarray, residual: np.ndarray) -> tuple[float, float]:
    """Residual SD as ``c0 + c1 * x``, from area deciles.

    Only residuals above the line count: doublets all fall below it, singlets on both sides,
    so the median positive residual is the singlets' MAD.
    """
    edges = np.quantile(x, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, 9)
    above = residual > 0
    counts, x_medians = _grouped_medians(bins[above], x[above], 10)
    _, r_medians = _grouped_medians(bins[above], residual[above], 10)
    centres = [float(m) for m in x_medians[counts >= 10]]
    spreads = [1.4826 * float(m) for m in r_medians[counts >= 10]]
    if not spreads:
        return float(np.std(residual)) or 1.0, 0.0
    c1, c0 = np.polyfit(centres, spreads, 1) if len(centres) >= 2 else (0.0, spreads[0])
    c1 = max(float(c1), 0.0)
    c0 = max(float(c0), 1e-6 * max(spreads))
    return c0, c1


def _robust_line(x: np.ndarray, y: np.ndarray, method: str, seed: int) -> tuple[float, float]:
    scale = float(np.median(np.abs(x))) or 1.0  # conditioning: fit on unit-scale values
    xs, ys = x[:, None] / scale, y / scale
    with single_threaded():
        return _fit_line(xs, ys, method, seed, scale)


def _fit_line(
    xs: np.ndarray, ys: np.ndarray, method: str, seed: int, scale: float
) -> tuple[float, float]:
    # the default (Huber) is the project's own; scikit-learn loads only for the other two
    if method == "theil_sen":
        from sklearn.linear_model import TheilSenRegressor

        model = TheilSenRegressor(random_state=seed, max_subpopulation=2000).fit(xs, ys)
        slope, intercept = float(model.coef_[0]), float(model.intercept_)
    elif method == "ransac":
        from sklearn.linear_model import RANSACRegressor

        model = RANSACRegressor(random_state=seed).fit(xs, ys)
        slope = float(model.estimator_.coef_[0])
        intercept = float(model.estimator_.intercept_)
    else:
        slope, intercept = huber_line(xs[:, 0], ys, epsilon=1.35, max_iter=500)
    return slope, intercept * scale


def singlet_band(
    area: np.ndarray,
    height: np.ndarray,
    *,
    method: str = "huber",
    k: float = 4.0,
    fit_events: int = 5000,
    ratio_window: float = 0.25,
    seed: int = 0,
    where: np.ndarray | None = None,
) -> SingletBand | None:
    """A robust line through height vs area and a band whose width may grow with area.

    Doublets sit below the line (more area for their height) and are a minority, so a robust
    fit follows the singlets. The residual spread is modelled as linear in area (median absolute
    residual in area deciles), which covers both constant and proportional noise. ``where``
    selects the parent population in whole columns (the same fit as on a copy of it).
    """
    area = np.asarray(area, dtype=np.float64)
    height = np.asarray(height, dtype=np.float64)
    ok = np.isfinite(area) & np.isfinite(height)
    if where is not None:
        ok &= where
    index = rows_to_fit(ok, fit_events, np.random.default_rng(seed))
    if index is None:
        return None
    x, y = area[index], height[index]
    # Seed the fit with the events near the most common height/area ratio (the singlets' ratio
    # whatever the doublet fraction), then fit robustly and trim.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y / x
    usable = np.isfinite(ratio) & (x > 0)
    seed_rows = usable.copy()
    if usable.sum() >= MIN_FIT_EVENTS:
        r = ratio[usable]
        lo_r, hi_r = np.percentile(r, [1, 99])
        grid, density = kde_on_grid(r, lo_r, hi_r, max(silverman_bandwidth(r), 1e-6), 512)
        mode = float(grid[np.argmax(density)])
        seed_rows &= np.abs(ratio / mode - 1.0) <= ratio_window
    if seed_rows.sum() < MIN_FIT_EVENTS:
        seed_rows = np.ones(len(x), dtype=bool)
    slope, intercept = _robust_line(x[seed_rows], y[seed_rows], method, seed)
    c0, c1 = _band_spread(x[seed_rows], (y - (slope * x + intercept))[seed_rows])
    # Refit on the events inside the band (trimmed least squares), the spread from them alone,
    # so that the line and the band settle on the singlets.
    for _ in range(3):
        inside = np.abs(y - (slope * x + intercept)) <= k * (c0 + c1 * x)
        if inside.sum() < MIN_FIT_EVENTS:
            break
        slope, intercept = (float(v) for v in np.polyfit(x[inside], y[inside], 1))
        c0, c1 = _band_spread(x[inside], (y - (slope * x + intercept))[inside])
    low = float(np.min(area, where=ok, initial=np.inf))
    high = float(np.max(area, where=ok, initial=-np.inf))
    span = (high - low) or 1.0
    x_range = (low - 0.01 * span, high + 0.01 * span)
    return SingletBand(slope, intercept, c0, c1, k, x_range, method)
