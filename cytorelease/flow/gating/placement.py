"""Data-driven gate placement on plain arrays (values already compensated and transformed).

Each function looks at one parent population's events and returns the geometry of a gate:
a threshold, a singlet band (a polygon), a scatter population (an ellipse and a polygon). None of
them guesses: when the data do not show what the method needs (one mode where two are
expected, too few events) the result says why and carries no geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit, prange

__all__ = [
    "ScatterPopulation",
    "SingletBand",
    "Valley",
    "control_percentile",
    "density_valley",
    "kde_on_grid",
    "scatter_population",
    "singlet_band",
]

_MIN_EVENTS = 50  # below this, no density estimate is meaningful


def _single_threaded() -> Any:
    """BLAS/OpenMP on one thread: these fits are small, and on a shared machine the thread
    pools' contention made a 2-D Gaussian mixture 50x slower than a single thread."""
    return _thread_pools().limit(limits=1)


@lru_cache(maxsize=1)
def _thread_pools() -> Any:
    # Found once: looking the pools up takes milliseconds, each fit needs them twice per tube.
    # The libraries the fits use are imported first, so their pools are among those found.
    import sklearn.cluster
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@dataclass(frozen=True, slots=True)
class Valley:
    """A density-valley threshold, or ``threshold is None`` with the ``reason``."""

    threshold: float | None
    modes: tuple[float, ...] = ()
    valley_ratio: float | None = None  # density at the valley / density of the lower mode
    bandwidth: float | None = None
    reason: str | None = None
    tail_rule: bool = False  # the threshold is the unimodal fallback, not a valley


_BIN_CHUNKS = 8  # fixed, not the thread count: the sums' order, so the result, never varies


@njit(cache=True, parallel=True)
def _linear_bins(
    values: np.ndarray,
    where: np.ndarray,
    lo: float,
    dx: float,
    points: int,
    keep_lo: float,
    keep_hi: float,
) -> tuple[np.ndarray, int]:
    """Linear binning onto ``points`` grid nodes from ``lo`` (spacing ``dx``) of the values in
    ``[keep_lo, keep_hi]`` that fall on the grid; also how many values lie in the keep range.
    Only values whose ``where`` is true count (an empty ``where``: all of them). Chunks of the
    values are binned in parallel and their counts summed in chunk order."""
    n = values.shape[0]
    masked = where.shape[0] > 0
    hi = lo + (points - 1) * dx
    partial = np.zeros((_BIN_CHUNKS, points + 1))
    kept = np.zeros(_BIN_CHUNKS, dtype=np.int64)
    size = (n + _BIN_CHUNKS - 1) // _BIN_CHUNKS
    for chunk in prange(_BIN_CHUNKS):
        counts = partial[chunk]
        for k in range(chunk * size, min(n, (chunk + 1) * size)):
            if masked and not where[k]:
                continue
            v = values[k]
            if not (v >= keep_lo and v <= keep_hi):  # NaN fails too
                continue
            kept[chunk] += 1
            if v < lo or v > hi:
                continue
            position = (v - lo) / dx
            left = int(position)  # position >= 0: truncation is the floor
            frac = position - left
            counts[left] += 1.0 - frac
            counts[min(left + 1, points)] += frac
    total = partial[0].copy()
    for chunk in range(1, _BIN_CHUNKS):
        total += partial[chunk]
    return total[:points], int(kept.sum())


@njit(cache=True, parallel=True)
def _finite_count(values: np.ndarray, where: np.ndarray) -> int:
    """How many values are finite (of those whose ``where`` is true; an empty ``where``: all)."""
    masked = where.shape[0] > 0
    count = 0
    for k in prange(values.shape[0]):
        if (not masked or where[k]) and np.isfinite(values[k]):
            count += 1
    return count


_EVERY = np.zeros(0, dtype=np.bool_)  # "no mask" for the kernels above


def kde_on_grid(
    values: np.ndarray,
    lo: float,
    hi: float,
    bandwidth: float,
    points: int = 1024,
    *,
    keep: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian KDE on a regular grid: linear binning, then a Gaussian filter.

    Linear binning keeps the estimate within O(dx^2) of the exact KDE and makes it O(n) in one
    compiled pass, so it runs on a million events in milliseconds. The density is per value
    given (values off the grid count in the total, not in the bins); with ``keep``, only the
    values inside it count at all (as if the others had been filtered out first).
    """
    grid, density, _ = _binned_kde(values, lo, hi, bandwidth, points, keep)
    return grid, density


def _binned_kde(
    values: np.ndarray,
    lo: float,
    hi: float,
    bandwidth: float,
    points: int,
    keep: tuple[float, float] | None,
    where: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`kde_on_grid` (of the values ``where`` selects), and how many values it counted."""
    from scipy.ndimage import gaussian_filter1d

    grid = np.linspace(lo, hi, points)
    dx = grid[1] - grid[0]
    keep_lo, keep_hi = keep if keep is not None else (-np.inf, np.inf)
    values = np.ascontiguousarray(values, dtype=np.float64)
    mask = _EVERY if where is None else np.ascontiguousarray(where, dtype=np.bool_)
    counts, kept = _linear_bins(values, mask, float(lo), float(dx), points, keep_lo, keep_hi)
    density = gaussian_filter1d(counts, bandwidth / dx, mode="constant")
    total = kept if keep is not None else len(values)
    return grid, density / max(total * dx, 1.0), kept


def silverman_bandwidth(values: np.ndarray, max_n: int | None = None) -> float:
    """Silverman's rule; ``max_n`` caps the event count so that a large sample does not shrink
    the bandwidth below the scale of its minor modes (which then split into noise peaks)."""
    sd = float(np.std(values))
    q75, q25 = np.percentile(values, [75, 25])
    spread = min(sd, float(q75 - q25) / 1.349) or sd or 1e-3
    n = len(values) if max_n is None else min(len(values), max_n)
    return 0.9 * spread * max(n, 1) ** -0.2


def density_valley(
    values: np.ndarray,
    *,
    where: np.ndarray | None = None,
    search_min: float | None = None,
    search_max: float | None = None,
    bandwidth: float | None = None,
    min_mode_fraction: float = 0.004,
    max_valley_ratio: float = 0.8,
    min_mode_separation: float = 0.05,
    unimodal: str | None = None,
    tail_sd: float = 5.0,
) -> Valley:
    """The density minimum between the two highest modes of ``values`` (transformed scale).

    Modes count when their prominence is at least ``min_mode_fraction`` of the highest mode and
    they lie at least ``min_mode_separation`` of the searched range apart. With fewer than two
    such modes, or a valley higher than ``max_valley_ratio`` of the lower mode, the data are
    unimodal and there is no threshold, unless the caller declares what a single mode is
    (``unimodal``): ``"negative"`` (the positive population may be truly absent, e.g. residual
    B cells) puts the threshold ``tail_sd`` robust SDs above the median, ``"positive"`` (the
    negative population may be absent, e.g. CD45- events in a leukocyte product) that far
    below it. The SD is measured on the side away from the threshold, which a small population
    beyond it cannot widen. The result says which rule placed the threshold.

    ``where`` selects the population among ``values`` (a parent gate's membership over a whole
    column): the density is binned from the column itself, with no copy of the population.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if where is not None:
        where = np.ascontiguousarray(where, dtype=np.bool_)
    count = int(_finite_count(values, _EVERY if where is None else where))
    if count < _MIN_EVENTS:
        return Valley(None, reason=f"only {count} events: too few for a density estimate")
    # the density is binned in one pass that skips undefined and unselected values: no
    # filtered copy unless a median is needed
    found = _two_mode_valley(
        values,
        where,
        count,
        search_min,
        search_max,
        bandwidth,
        min_mode_fraction,
        max_valley_ratio,
        min_mode_separation,
    )
    if found.threshold is not None or unimodal is None or len(found.modes) != 1:
        return found
    if where is not None:
        values = values[where]
    if count < len(values):
        values = values[np.isfinite(values)]
    median = float(np.median(values))
    if unimodal == "negative":
        threshold = median + tail_sd * (median - float(np.percentile(values, 15.87)))
    else:
        threshold = median - tail_sd * (float(np.percentile(values, 84.13)) - median)
    sign = "+" if unimodal == "negative" else "-"
    return Valley(
        threshold,
        modes=found.modes,
        bandwidth=found.bandwidth,
        reason=f"{found.reason} (taken as the {unimodal} population): threshold at median "
        f"{sign} {tail_sd:g} robust SD",
        tail_rule=True,
    )


def _two_mode_valley(
    values: np.ndarray,
    where: np.ndarray | None,
    count: int,
    search_min: float | None,
    search_max: float | None,
    bandwidth: float | None,
    min_mode_fraction: float,
    max_valley_ratio: float,
    min_mode_separation: float,
) -> Valley:
    from scipy.signal import find_peaks

    # The range and the bandwidth come from an evenly strided subsample (about 20,000 of the
    # population's events): percentiles of a million values cost more than the whole density
    # estimate.
    step = max(1, count // 20_000)
    probe = values[::step] if where is None else values[::step][where[::step]]
    probe = probe[np.isfinite(probe)]
    low, high = (float(v) for v in np.percentile(probe, [0.1, 99.9]))
    lo = low if search_min is None else search_min
    hi = high if search_max is None else search_max
    too_few = Valley(None, reason=f"fewer than {_MIN_EVENTS} events in the search range")
    if not hi > lo:
        return too_few
    if bandwidth is None:
        probe = probe[(probe >= lo) & (probe <= hi)]
        bw = max(silverman_bandwidth(probe, max_n=1000), 0.02 * (hi - lo))
    else:
        bw = bandwidth
    pad = 3 * bw
    grid, density, kept = _binned_kde(values, lo - pad, hi + pad, bw, 1024, (lo, hi), where)
    if kept < _MIN_EVENTS:
        return too_few
    peaks, _ = find_peaks(density, prominence=min_mode_fraction * density.max())
    peaks = peaks[(grid[peaks] >= lo) & (grid[peaks] <= hi)]
    if len(peaks) < 2:
        return Valley(None, modes=tuple(grid[peaks]), bandwidth=bw, reason="unimodal")
    # The highest mode and, of the modes far enough from it, the one behind the deepest valley:
    # a shoulder of the main population (monocytes beside lymphocytes) is not a second mode.
    first = int(peaks[np.argmax(density[peaks])])
    min_gap = min_mode_separation * (hi - lo)
    best: tuple[float, int, int, int] | None = None
    for other in peaks:
        if other == first or abs(grid[other] - grid[first]) < min_gap:
            continue
        left, right = sorted((first, int(other)))
        valley = left + _middle_of_minimum(density[left : right + 1])
        ratio = float(density[valley] / min(density[left], density[right]))
        if best is None or ratio < best[0]:
            best = (ratio, valley, left, right)
    if best is None:
        return Valley(None, modes=(float(grid[first]),), bandwidth=bw, reason="unimodal")
    ratio, valley, left, right = best
    modes = (float(grid[left]), float(grid[right]))
    if ratio > max_valley_ratio:
        return Valley(
            None,
            modes=modes,
            valley_ratio=ratio,
            bandwidth=bw,
            reason=f"modes not separated (valley at {ratio:.0%} of the lower mode)",
        )
    return Valley(float(grid[valley]), modes=modes, valley_ratio=ratio, bandwidth=bw)


def control_percentile(values: np.ndarray, percentile: float) -> float | None:
    """The ``percentile`` of the control population's values (None when it has no events)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    return float(np.percentile(values, percentile))


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


def _fit_rows(
    ok: np.ndarray, size: int, rng: np.random.Generator, minimum: int = _MIN_EVENTS
) -> np.ndarray | None:
    """Rows to fit on: at most ``size`` of the ``ok`` rows drawn without replacement (sorted),
    all of them when there are fewer; None below ``minimum``.

    The same rows as ``rng.choice(np.flatnonzero(ok), size, replace=False)``, without building
    the million-entry index when every row is usable.
    """
    usable = int(np.count_nonzero(ok))
    if usable < minimum:
        return None
    if usable <= size:
        return np.flatnonzero(ok)
    positions = rng.choice(usable, size, replace=False)
    if usable == len(ok):
        return np.sort(positions)
    return np.sort(np.flatnonzero(ok)[positions])


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
    with _single_threaded():
        return _fit_line(xs, ys, method, seed, scale)


def _fit_line(
    xs: np.ndarray, ys: np.ndarray, method: str, seed: int, scale: float
) -> tuple[float, float]:
    from sklearn.linear_model import HuberRegressor, RANSACRegressor, TheilSenRegressor

    if method == "theil_sen":
        model = TheilSenRegressor(random_state=seed, max_subpopulation=2000).fit(xs, ys)
        slope, intercept = float(model.coef_[0]), float(model.intercept_)
    elif method == "ransac":
        model = RANSACRegressor(random_state=seed).fit(xs, ys)
        slope = float(model.estimator_.coef_[0])
        intercept = float(model.estimator_.intercept_)
    else:
        model = HuberRegressor(epsilon=1.35, max_iter=500).fit(xs, ys)
        slope, intercept = float(model.coef_[0]), float(model.intercept_)
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
    index = _fit_rows(ok, fit_events, np.random.default_rng(seed))
    if index is None:
        return None
    x, y = area[index], height[index]
    # Seed the fit with the events near the most common height/area ratio (the singlets' ratio
    # whatever the doublet fraction), then fit robustly and trim.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y / x
    usable = np.isfinite(ratio) & (x > 0)
    seed_rows = usable.copy()
    if usable.sum() >= _MIN_EVENTS:
        r = ratio[usable]
        lo_r, hi_r = np.percentile(r, [1, 99])
        grid, density = kde_on_grid(r, lo_r, hi_r, max(silverman_bandwidth(r), 1e-6), 512)
        mode = float(grid[np.argmax(density)])
        seed_rows &= np.abs(ratio / mode - 1.0) <= ratio_window
    if seed_rows.sum() < _MIN_EVENTS:
        seed_rows = np.ones(len(x), dtype=bool)
    slope, intercept = _robust_line(x[seed_rows], y[seed_rows], method, seed)
    c0, c1 = _band_spread(x[seed_rows], (y - (slope * x + intercept))[seed_rows])
    # Refit on the events inside the band (trimmed least squares), the spread from them alone,
    # so that the line and the band settle on the singlets.
    for _ in range(3):
        inside = np.abs(y - (slope * x + intercept)) <= k * (c0 + c1 * x)
        if inside.sum() < _MIN_EVENTS:
            break
        slope, intercept = (float(v) for v in np.polyfit(x[inside], y[inside], 1))
        c0, c1 = _band_spread(x[inside], (y - (slope * x + intercept))[inside])
    low = float(np.min(area, where=ok, initial=np.inf))
    high = float(np.max(area, where=ok, initial=-np.inf))
    span = (high - low) or 1.0
    x_range = (low - 0.01 * span, high + 0.01 * span)
    return SingletBand(slope, intercept, c0, c1, k, x_range, method)


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
    fit = _fit_rows(ok, fit_events, rng, minimum=max(_MIN_EVENTS, 10 * components))
    if fit is None:
        return None
    points = np.column_stack([x[fit], y[fit]])
    floor = np.maximum(np.percentile(points, 0.5, axis=0), 1.0)
    to_work, from_work = _work_space(log_scale, floor, np.median(np.abs(points), axis=0))
    data = to_work(points)
    with _single_threaded():
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
    if len(between) < _MIN_EVENTS:
        return normal, (low + high) / 2
    bandwidth = max(silverman_bandwidth(between), (high - low) / 100)
    grid, density = kde_on_grid(between, low, high, bandwidth, points=256)
    return normal, float(grid[_middle_of_minimum(density)])


def _middle_of_minimum(density: np.ndarray) -> int:
    """Index of the density minimum; the middle of a flat-bottomed stretch, not its edge."""
    floor = float(density.min())
    near = density <= floor + 1e-3 * (float(density.max()) - floor)
    run_start = run_end = int(np.argmin(density))
    while run_start > 0 and near[run_start - 1]:
        run_start -= 1
    while run_end + 1 < len(near) and near[run_end + 1]:
        run_end += 1
    return (run_start + run_end) // 2


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
