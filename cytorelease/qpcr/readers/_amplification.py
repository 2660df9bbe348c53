"""Cq from raw amplification curves, for RDML files that carry fluorescence but no Cq.

A fixed-threshold method: each curve loses a straight baseline fitted over early cycles; one
threshold per target and run is set at a fraction of the typical plateau; Cq is where the
curve first crosses it, interpolated on the log scale between the two cycles around the
crossing (amplification is exponential there). Curves whose rise never reaches the threshold,
or stays within the baseline noise, are undetermined (NaN).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["threshold_cq"]

BASELINE_CYCLES = (3.0, 12.0)
THRESHOLD_FRACTION = 0.1  # of the 90th-percentile plateau among the target's curves
NOISE_MULTIPLE = 10.0  # a rise must exceed this many baseline SDs to count as amplification


def _net(cycles: np.ndarray, fluor: np.ndarray) -> tuple[np.ndarray, float]:
    window = (cycles >= BASELINE_CYCLES[0]) & (cycles <= BASELINE_CYCLES[1])
    if window.sum() < 3:
        window = np.arange(cycles.size) < max(3, cycles.size // 4)
    slope, intercept = np.polyfit(cycles[window], fluor[window], 1)
    net = fluor - (slope * cycles + intercept)
    noise = float(np.std(net[window])) if window.sum() > 2 else 0.0
    return net, noise


def _crossing(cycles: np.ndarray, net: np.ndarray, threshold: float) -> float:
    above = np.nonzero(net >= threshold)[0]
    # Ignore crossings inside the baseline window (spikes); take the first later one.
    above = above[cycles[above] > BASELINE_CYCLES[1]]
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(cycles[0])
    lo, hi = max(net[i - 1], threshold * 1e-3), net[i]
    fraction = (math.log(threshold) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return float(cycles[i - 1] + fraction * (cycles[i] - cycles[i - 1]))


def threshold_cq(curves: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """Cq of each (cycles, fluorescence) curve of one target in one run; NaN when none."""
    nets = [_net(c, f) if c.size >= 5 else (np.zeros(0), 0.0) for c, f in curves]
    rises = [float(n[-5:].mean()) if n.size else 0.0 for n, _ in nets]
    amplified = [
        rise > max(NOISE_MULTIPLE * noise, 0.0) and rise > 0
        for rise, (_, noise) in zip(rises, nets, strict=True)
    ]
    plateaus = [r for r, ok in zip(rises, amplified, strict=True) if ok]
    if not plateaus:
        return [math.nan] * len(curves)
    threshold = THRESHOLD_FRACTION * float(np.percentile(plateaus, 90))
    out: list[float] = []
    for (cycles, _), (net, _), ok in zip(curves, nets, amplified, strict=True):
        out.append(_crossing(cycles, net, threshold) if ok and rises else math.nan)
    return out
