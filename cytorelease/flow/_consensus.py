"""Consensus metaclustering of SOM nodes (Monti et al. 2003, as ConsensusClusterPlus and FlowSOM
run it).

``resamples`` times, a random ``fraction`` of the nodes is clustered hierarchically (average
linkage on Euclidean distances between node codes) and cut into k groups; the consensus of two
nodes is the share of the resamples holding both in which they fell into the same group. The
metaclusters are the average-linkage clustering of ``1 - consensus``, cut into k groups.

With no k given, k is chosen as FlowSOM does, at the elbow of the within-metacluster sum of
squares of the node codes over k = 1..max_k; here the elbow is the k after the largest relative
drop (see :func:`_elbow`), and nodes count by their events.

Everything is seeded by a numpy ``Generator``; the cuts are computed by replaying the linkage's
merges, so the number of groups is always exactly k (``fcluster`` may return fewer on ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

__all__ = ["ConsensusResult", "consensus_metaclusters"]


@dataclass(frozen=True)
class ConsensusResult:
    """Metacluster of each node (0..k-1 in order of first appearance), the k used, and, when k
    was chosen, the within-metacluster sum of squares for k = 1..max_k."""

    labels: np.ndarray
    k: int
    sse_by_k: tuple[float, ...] = ()


def _cuts(merges: np.ndarray, n: int, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Labels of ``n`` items cut into each k of ``ks`` groups, from a scipy linkage matrix."""
    parent = np.arange(2 * n - 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    wanted = {n - k: k for k in ks if 1 <= k <= n}
    out: dict[int, np.ndarray] = {}
    for step in range(n):
        if step in wanted:
            roots = np.array([root(i) for i in range(n)])
            _, labels = np.unique(roots, return_inverse=True)
            out[wanted[step]] = _first_appearance(labels)
        if step < n - 1:
            a, b = int(merges[step, 0]), int(merges[step, 1])
            parent[a] = parent[b] = n + step
    return out


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0, 1, ... in the order they first occur."""
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty(order.size, dtype=np.int64)
    remap[order] = np.arange(order.size)
    _, inverse = np.unique(labels, return_inverse=True)
    return remap[inverse].astype(np.int32)


def _consensus_matrices(
    codes: np.ndarray, ks: Sequence[int], resamples: int, fraction: float, rng: np.random.Generator
) -> dict[int, np.ndarray]:
    n = codes.shape[0]
    size = max(2, int(n * fraction))
    together = {k: np.zeros((n, n)) for k in ks}
    sampled = np.zeros((n, n))
    for _ in range(resamples):
        picked = np.sort(rng.choice(n, size=size, replace=False))
        tree = linkage(codes[picked], method="average", metric="euclidean")
        sampled[np.ix_(picked, picked)] += 1.0
        for k, labels in _cuts(tree, size, ks).items():
            together[k][np.ix_(picked, picked)] += labels[:, None] == labels[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            k: np.where(sampled > 0, m / np.maximum(sampled, 1.0), 0.0) for k, m in together.items()
        }


def _cluster_consensus(consensus: np.ndarray, k: int) -> np.ndarray:
    distance = 1.0 - consensus
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return _cuts(tree, consensus.shape[0], [k])[k]


def _sse(codes: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """Within-metacluster sum of squares of the codes, each weighted by its node's events."""
    total = 0.0
    for label in np.unique(labels):
        members, w = codes[labels == label], weights[labels == label]
        centre = (members * w[:, None]).sum(axis=0) / w.sum()
        total += float((w[:, None] * (members - centre) ** 2).sum())
    return total


def _elbow(sse: Sequence[float]) -> int:
    """1-based k after the largest relative drop of the sum of squares.

    The curve is first made non-increasing (a k whose consensus partition fits worse than a
    smaller k's brings no improvement), and 1 % of the total sum of squares is added to every
    value, so drops among leftovers too small to matter cannot win by their ratio.
    """
    y = np.minimum.accumulate(np.asarray(sse, dtype=np.float64))
    if y.size < 2 or y[0] <= 0:
        return 1
    floored = y + 0.01 * y[0]
    return int(np.argmax(floored[:-1] / floored[1:])) + 2


def consensus_metaclusters(
    codes: np.ndarray,
    *,
    k: int | None,
    weights: np.ndarray | None = None,
    max_k: int = 20,
    resamples: int = 100,
    fraction: float = 0.9,
    rng: np.random.Generator,
) -> ConsensusResult:
    """Metaclusters of the nodes' ``codes`` (nodes x markers): k given, or chosen up to max_k.

    ``weights`` (events per node): nodes without events take no part in the clustering (an
    empty node's code is a leftover of the shrinking neighbourhood, often between populations,
    where it would take a metacluster of its own or bridge two); each joins the metacluster of
    the nearest node with events. The sum of squares that picks k weighs nodes by their events.
    """
    n = codes.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    active = np.flatnonzero(w > 0)
    if active.size < 2:
        return ConsensusResult(np.zeros(n, dtype=np.int32), 1)
    used = codes[active]
    if k is not None:
        k = min(k, active.size)
        consensus = _consensus_matrices(used, [k], resamples, fraction, rng)[k]
        return ConsensusResult(_spread(codes, active, _cluster_consensus(consensus, k)), k)
    ks = list(range(2, min(max_k, active.size) + 1))
    matrices = _consensus_matrices(used, ks, resamples, fraction, rng)
    labels = {1: np.zeros(active.size, dtype=np.int32)}
    labels.update({kk: _cluster_consensus(matrices[kk], kk) for kk in ks})
    sse = tuple(_sse(used, labels[kk], w[active]) for kk in sorted(labels))
    chosen = _elbow(sse)
    return ConsensusResult(_spread(codes, active, labels[chosen]), chosen, sse)


def _spread(codes: np.ndarray, active: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Labels of every node: active nodes keep theirs, the others take their nearest's."""
    out = np.empty(codes.shape[0], dtype=np.int32)
    out[active] = labels
    idle = np.setdiff1d(np.arange(codes.shape[0]), active)
    if idle.size:
        gaps = ((codes[idle, None, :] - codes[None, active, :]) ** 2).sum(axis=-1)
        out[idle] = labels[np.argmin(gaps, axis=1)]
    return out
