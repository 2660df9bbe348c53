"""k-means labels that start the scatter gate's Gaussian mixture, in plain numpy.

The mixture EM (:mod:`._mixture_kernel`) starts from one-hot k-means labels, as scikit-learn's
``GaussianMixture`` does. Importing scikit-learn for that one call cost a gating process about
2 s of its start-up, more than the panel itself; these few thousand points in two dimensions
need nothing of it. The algorithm follows scikit-learn's ``KMeans(n_clusters=k, n_init=1,
random_state=np.random.RandomState(seed))`` step for step, so the labels are the same (a test
compares them): the data are centred; greedy k-means++ picks the first centre uniformly and
each next one as the best of ``2 + int(log k)`` candidates drawn in proportion to the squared
distance to the nearest centre, with the same calls on the same ``RandomState``; then Lloyd
iterations assign each point to its nearest centre (the first on a tie) and move each centre to
its points' mean, an emptied cluster taking the point farthest from its centre, until the
labels repeat or the centres' squared shift falls within ``tol`` times the mean variance
(after which the points are assigned once more to the final centres).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kmeans_labels"]


def _squared_distances(centres: np.ndarray, x: np.ndarray, x_norms: np.ndarray) -> np.ndarray:
    centre_norms = np.einsum("ij,ij->i", centres, centres)[:, np.newaxis]
    distances = -2 * (centres @ x.T)
    distances += centre_norms
    distances += x_norms[np.newaxis, :]
    return np.maximum(distances, 0, out=distances)


def _plus_plus(
    x: np.ndarray, k: int, x_norms: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    n = len(x)
    weight = np.ones(n)
    trials = 2 + int(np.log(k))
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.choice(n, p=weight / weight.sum())]
    closest = _squared_distances(centres[0, np.newaxis], x, x_norms)
    potential = closest @ weight
    for c in range(1, k):
        draws = rng.uniform(size=trials) * potential
        candidates = np.searchsorted(np.cumsum(weight * closest), draws)
        np.clip(candidates, None, closest.size - 1, out=candidates)
        to_candidates = _squared_distances(x[candidates], x, x_norms)
        np.minimum(closest, to_candidates, out=to_candidates)
        potentials = to_candidates @ weight.reshape(-1, 1)
        best = int(np.argmin(potentials))
        potential = potentials[best]
        closest = to_candidates[best]
        centres[c] = x[candidates[best]]
    return centres


def _assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    distances = np.einsum("ij,ij->i", centres, centres)[np.newaxis, :] - 2.0 * (x @ centres.T)
    return np.argmin(distances, axis=1)  # the first of equal distances, as scikit-learn's loop


def _new_centres(x: np.ndarray, labels: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    sums: np.ndarray = np.stack(
        [np.bincount(labels, x[:, j], minlength=k) for j in range(x.shape[1])], 1
    )
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        distances = ((x - centres[labels]) ** 2).sum(axis=1)
        far = np.argpartition(distances, -len(empty))[: -len(empty) - 1 : -1]
        for cluster, row in zip(empty, far, strict=True):
            old = labels[row]
            sums[old] -= x[row]
            sums[cluster] = x[row]
            counts[cluster] = 1.0
            counts[old] -= 1.0
    filled = counts > 0
    sums[filled] /= counts[filled, np.newaxis]
    sums[~filled] = centres[~filled]
    return sums


def kmeans_labels(
    x: np.ndarray, k: int, *, seed: int, max_iter: int = 300, tol: float = 1e-4
) -> np.ndarray:
    """Cluster labels (int64, 0..k-1) of the rows of ``x`` (n x d, float64)."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.RandomState(seed)
    tolerance = float(np.mean(np.var(x, axis=0))) * tol
    x = x - x.mean(axis=0)
    x_norms = np.einsum("ij,ij->i", x, x)
    centres = _plus_plus(x, k, x_norms, rng)
    previous = np.full(len(x), -1)
    for _ in range(max_iter):
        labels = _assign(x, centres)
        moved = _new_centres(x, labels, centres, k)
        shift = float((np.sqrt(((moved - centres) ** 2).sum(axis=1)) ** 2).sum())
        centres = moved
        if np.array_equal(labels, previous):
            return labels.astype(np.int64)
        if shift <= tolerance:
            break
        previous = labels
    return _assign(x, centres).astype(np.int64)
