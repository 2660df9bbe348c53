"""Data-driven gate placement on plain arrays (values already compensated and transformed).

Each function looks at one parent population's events and returns the geometry of a gate:
a threshold here (density valley, control percentile), a singlet band
(:mod:`~cytorelease.flow.gating.placement_singlet`), a scatter population
(:mod:`~cytorelease.flow.gating.placement_scatter`). None of them guesses: when the data do not
show what the method needs (one mode where two are expected, too few events) the result says
why and carries no geometry. The density estimate and the helpers the others share live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit, prange

__all__ = [
    "MIN_FIT_EVENTS",
    "Valley",
    "control_percentile",
    "density_valley",
    "kde_on_grid",
    "middle_of_minimum",
    "rows_to_fit",
    "silverman_bandwidth",
    "single_threaded",
]

MIN_FIT_EVENTS = 50  # below this, no density estimate is meaningful


def single_threaded() -> Any:
    """BLAS/OpenMP on one thread: these fits are small, and on a shared machine the thread
    pools' contention made a 2-D Gaussian mixture 50x slower than a single thread."""
    return _thread_pools().limit(limits=1)


@lru_cache(maxsize=1)
def _thread_pools() -> Any:
    # Found once: looking the pools up takes milliseconds, each fit needs them twice per tube.
    # The fits are numpy and numba (numpy's BLAS is loaded by now); scikit-learn, whose
    # import cost a gating process about 2 s, is no longer among them.
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


_EVERY = np.zeros(0, dtype=np.bool_)  # "no mask" for the kernel above


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
    # numpy, not a kernel: counting is ~1 ms on 1M events, less than loading a cached kernel
    finite = np.isfinite(values)
    count = int(np.count_nonzero(finite if where is None else finite & where))
    if count < MIN_FIT_EVENTS:
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
    from cytorelease.flow.gating._peaks import find_peaks  # scipy.signal would load scipy.stats

    # The range and the bandwidth come from an evenly strided subsample (about 20,000 of the
    # population's events): percentiles of a million values cost more than the whole density
    # estimate.
    step = max(1, count // 20_000)
    probe = values[::step] if where is None else values[::step][where[::step]]
    probe = probe[np.isfinite(probe)]
    low, high = (float(v) for v in np.percentile(probe, [0.1, 99.9]))
    lo = low if search_min is None else search_min
    hi = high if search_max is None else search_max
    too_few = Valley(None, reason=f"fewer than {MIN_FIT_EVENTS} events in the search range")
    if not hi > lo:
        return too_few
    if bandwidth is None:
        probe = probe[(probe >= lo) & (probe <= hi)]
        bw = max(silverman_bandwidth(probe, max_n=1000), 0.02 * (hi - lo))
    else:
        bw = bandwidth
    pad = 3 * bw
    grid, density, kept = _binned_kde(values, lo - pad, hi + pad, bw, 1024, (lo, hi), where)
    if kept < MIN_FIT_EVENTS:
        return too_few
    peaks = find_peaks(density, prominence=min_mode_fraction * density.max())
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
        valley = left + middle_of_minimum(density[left : right + 1])
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


def rows_to_fit(
    ok: np.ndarray, size: int, rng: np.random.Generator, minimum: int = MIN_FIT_EVENTS
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


def middle_of_minimum(density: np.ndarray) -> int:
    """Index of the density minimum; the middle of a flat-bottomed stretch, not its edge."""
    floor = float(density.min())
    near = density <= floor + 1e-3 * (float(density.max()) - floor)
    run_start = run_end = int(np.argmin(density))
    while run_start > 0 and near[run_start - 1]:
        run_start -= 1
    while run_end + 1 < len(near) and near[run_end + 1]:
        run_end += 1
    return (run_start + run_end) // 2
