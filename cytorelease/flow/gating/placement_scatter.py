"""The cell population on FSC-A/SSC-A: a Gaussian mixture whose low-FSC components are debris."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cytorelease.flow.gating.placement import (
    MIN_FIT_EVENTS,
    kde_on_grid,
    middle_of_minimum,
    rows_to_fit,
    silverman_bandwidth,
    single_threaded,
)

__all__ = ["ScatterPopulation", "scatter_population"]


@dataclass(frozen=True, slots=True)
class ScatterPopulation:
    """The cell population on a scatter plot: a polygon (data units) and its moment ellipse.

    Component means are in the space the mixture was fitted in (log units with ``log_scale``).
    """

    polygon: tuple[tuple[float, float], ...]
    mean: tuple[float, float]  # of the events inside the polygon (data units)
    covariance: tuple[tuple[float, float], tuple[float, float]]
    distance_square: float
    cell_means: tuple[tuple[float, float], ...]
    debris_means: tuple[tuple[float, float], ...]
    weights: tuple[float, ...]
    log_scale: bool
    converged: bool = True  # the mixture's EM met its tolerance within its iteration limit


def scatter_population(
    x: np.ndarray,
    y: np.ndarray,
    *,
    components: int = 5,
    debris_fraction: float = 0.35,
    coverage: float = 0.999,
    fit_events: int = 8000,
    log_scale: bool = True,
    seed: int = 0,
    where: np.ndarray | None = None,
) -> ScatterPopulation | None:
    """Cells on FSC-A/SSC-A: a Gaussian mixture whose low-FSC components are debris.

    Scatter of cells and debris is close to log-normal, so the mixture is fitted to log values
    (``log_scale``). A component is debris when its mean FSC is below ``debris_fraction`` of
    the heaviest component's (the main cell population). The gate is the convex hull of the
    kept components' ellipses at the chi-square ``coverage`` quantile, cut between each debris
    component and the kept component nearest to it at the density minimum along their
    discriminant direction; then mapped back to data units as a polygon. ``where`` selects the
    parent population in whole columns (the same fit as on a copy of it).
    """
    from scipy.spatial import ConvexHull

    from cytorelease.flow.gating._mixture_kernel import fit_mixture_2d

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if where is not None:
        ok &= where
    rng = np.random.default_rng(seed)
    fit = rows_to_fit(ok, fit_events, rng, minimum=max(MIN_FIT_EVENTS, 10 * components))
    if fit is None:
        return None
    points = np.column_stack([x[fit], y[fit]])
    floor = np.maximum(np.percentile(points, 0.5, axis=0), 1.0)
    to_work, from_work = _work_space(log_scale, floor, np.median(np.abs(points), axis=0))
    data = to_work(points)
    with single_threaded():
        gmm = fit_mixture_2d(data, components, seed=seed)
    if gmm is None:
        return None
    means, covs = gmm.means, gmm.covariances
    main = int(np.argmax(gmm.weights))
    x_means = from_work(means)[:, 0]
    cells = x_means >= debris_fraction * x_means[main]
    d2 = -2.0 * math.log(1.0 - coverage)  # chi-square quantile with 2 degrees of freedom
    kept = np.flatnonzero(cells)
    boundary = np.vstack([_ellipse_points(means[i], covs[i], d2, 32) for i in kept])
    hull = boundary[ConvexHull(boundary).vertices]
    for d in np.flatnonzero(~cells):
        # cut against the kept component nearest to this debris component: the one it touches
        c = kept[np.argmin([_separation(means[d], covs[d], means[k], covs[k]) for k in kept])]
        hull = _clip(hull, *_debris_cut(data, means[d], covs[d], means[c], covs[c]))
    # few vertices: the gate is tested against every event, at a cost linear in its edges
    polygon = from_work(_densify(hull, 3) if log_scale else hull)
    from cytorelease.flow.gating._polygon_kernel import points_in_polygon

    inside = points_in_polygon(polygon, points[:, 0], points[:, 1])
    chosen = points[inside] if inside.sum() >= 3 else points
    covariance = np.cov(chosen.T)
    return ScatterPopulation(
        polygon=tuple((float(px), float(py)) for px, py in polygon),
        mean=(float(chosen[:, 0].mean()), float(chosen[:, 1].mean())),
        covariance=(
            (float(covariance[0, 0]), float(covariance[0, 1])),
            (float(covariance[1, 0]), float(covariance[1, 1])),
        ),
        distance_square=d2,
        cell_means=tuple((float(m[0]), float(m[1])) for m in from_work(means[cells])),
        debris_means=tuple((float(m[0]), float(m[1])) for m in from_work(means[~cells])),
        weights=tuple(float(w) for w in gmm.weights[cells]),
        log_scale=log_scale,
        converged=gmm.converged,
    )


def _work_space(log_scale: bool, floor: np.ndarray, scale: np.ndarray) -> tuple[Any, Any]:
    """Maps to and from the space the mixture is fitted in (log, or unit-scaled linear)."""
    if log_scale:
        return (lambda p: np.log(np.maximum(p, floor)), np.exp)
    scale = np.where(scale > 0, scale, 1.0)
    return (lambda p: p / scale, lambda q: q * scale)


def _densify(polygon: np.ndarray, pieces: int) -> np.ndarray:
    """Each edge cut into ``pieces``: straight in the work space, nearly so once mapped back."""
    nxt = np.roll(polygon, -1, axis=0)
    steps = np.arange(pieces)[None, :, None] / pieces
    return (polygon[:, None, :] + (nxt - polygon)[:, None, :] * steps).reshape(-1, 2)


def _separation(m_a: np.ndarray, c_a: np.ndarray, m_b: np.ndarray, c_b: np.ndarray) -> float:
    u = m_b - m_a
    return math.sqrt(float(u @ np.linalg.solve(c_a, u))) + math.sqrt(
        float(u @ np.linalg.solve(c_b, u))
    )


def _debris_cut(
    points: np.ndarray, m_out: np.ndarray, c_out: np.ndarray, m_in: np.ndarray, c_in: np.ndarray
) -> tuple[np.ndarray, float]:
    """Half-plane ``normal . p >= offset`` on the kept side: along the discriminant direction
    of the two components, at the density minimum of the events between their means."""
    normal = np.linalg.solve((c_out + c_in) / 2, m_in - m_out)
    normal /= np.linalg.norm(normal)
    low, high = float(normal @ m_out), float(normal @ m_in)
    projected = points @ normal
    between = projected[(projected >= low) & (projected <= high)]
    if len(between) < MIN_FIT_EVENTS:
        return normal, (low + high) / 2
    bandwidth = max(silverman_bandwidth(between), (high - low) / 100)
    grid, density = kde_on_grid(between, low, high, bandwidth, points=256)
    return normal, float(grid[middle_of_minimum(density)])


def _clip(polygon: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Sutherland-Hodgman: the part of a convex polygon with ``normal . p >= offset``."""
    out: list[np.ndarray] = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        da, db = normal @ a - offset, normal @ b - offset
        if da >= 0:
            out.append(a)
        if (da >= 0) != (db >= 0):
            out.append(a + (b - a) * (da / (da - db)))
    return np.asarray(out) if len(out) >= 3 else polygon


def _ellipse_points(mean: np.ndarray, cov: np.ndarray, d2: float, n: int = 64) -> np.ndarray:
    angles = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    circle = np.column_stack([np.cos(angles), np.sin(angles)]) * math.sqrt(d2)
    return mean + circle @ np.linalg.cholesky(cov).T
