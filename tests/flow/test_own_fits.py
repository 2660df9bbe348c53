"""The gating path's own k-means, Huber line and peak finder against the libraries they replace.

Each stands in for a scikit-learn or scipy.signal call that cost a gating process seconds of
imports; each must give the same answer on the same data (labels, line and peaks equal, not
close), and gating must not load those libraries any more.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cytorelease.flow.gating._huber import huber_line
from cytorelease.flow.gating._kmeans import kmeans_labels
from cytorelease.flow.gating._peaks import find_peaks


def _blobs(seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    parts = [
        rng.normal(rng.normal(0, 5, 2), rng.uniform(0.3, 2), size=(int(rng.integers(200, 3000)), 2))
        for _ in range(k + 1)
    ]
    x = np.vstack(parts)
    return (np.log(np.abs(x) + 1.0) if seed % 2 else x), k


@pytest.mark.parametrize("seed", range(12))
def test_kmeans_labels_are_scikit_learns(seed: int) -> None:
    from sklearn.cluster import KMeans

    x, k = _blobs(seed)
    theirs = KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(x)
    np.testing.assert_array_equal(kmeans_labels(x, k, seed=seed), theirs.labels_)


def test_kmeans_labels_on_scatter_events_are_scikit_learns() -> None:
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(7)
    x = np.vstack(
        [
            rng.multivariate_normal([10.5, 9.8], [[0.05, 0.02], [0.02, 0.08]], 5000),
            rng.multivariate_normal([9.0, 9.0], [[0.4, 0.1], [0.1, 0.5]], 2000),
            rng.multivariate_normal([11.2, 10.8], [[0.03, 0.0], [0.0, 0.04]], 1000),
        ]
    )
    for seed in range(3):
        theirs = KMeans(n_clusters=5, n_init=1, random_state=np.random.RandomState(seed)).fit(x)
        np.testing.assert_array_equal(kmeans_labels(x, 5, seed=seed), theirs.labels_)


def test_kmeans_with_more_clusters_than_distinct_points_still_labels_every_point() -> None:
    from sklearn.cluster import KMeans

    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 0.0]]), 20, axis=0)
    with pytest.warns(Warning):  # scikit-learn warns of fewer distinct points than clusters
        theirs = KMeans(n_clusters=4, n_init=1, random_state=np.random.RandomState(0)).fit(x)
    ours = kmeans_labels(x, 4, seed=0)
    assert ours.min() >= 0 and ours.max() < 4
    np.testing.assert_array_equal(ours, theirs.labels_)


@pytest.mark.parametrize("seed", range(10))
def test_huber_line_is_scikit_learns(seed: int) -> None:
    from sklearn.linear_model import HuberRegressor

    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 5000))
    x = rng.uniform(0.2, 3, n)
    y = rng.uniform(0.5, 1.2) * x + rng.normal(0, 0.05, n) + rng.normal(0, 0.1)
    doublets = rng.random(n) < 0.2
    y[doublets] *= 0.5
    theirs = HuberRegressor(epsilon=1.35, max_iter=500).fit(x[:, None], y)
    slope, intercept = huber_line(x, y, epsilon=1.35, max_iter=500)
    assert (slope, intercept) == (float(theirs.coef_[0]), float(theirs.intercept_))


@pytest.mark.parametrize("seed", range(40))
def test_peaks_are_scipys(seed: int) -> None:
    from scipy.signal import find_peaks as scipy_find_peaks

    rng = np.random.default_rng(seed)
    x = np.convolve(rng.random(300), np.ones(int(rng.integers(1, 20))), "same")
    if seed % 3 == 0:
        x = np.round(x, 1)  # flat tops: one peak at the middle of the plateau
    prominence = rng.uniform(0, 0.3) * x.max()
    theirs, _ = scipy_find_peaks(x, prominence=prominence)
    np.testing.assert_array_equal(find_peaks(x, prominence=prominence), theirs)


_GATE_A_TUBE = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    import cytorelease.flow.gating
    imported = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn" or
                      m.startswith("scipy.stats") or m.startswith("scipy.signal"))
    from cytorelease.flow.gating import gate_sample, load_template
    from cytorelease.synth import random_params, simulate_tube
    from cytorelease.flow.fcs_write import write_fcs
    from cytorelease.flow.fcs import read_fcs
    import pathlib, tempfile
    folder = pathlib.Path(tempfile.mkdtemp())
    params = replace(random_params(3), n_events=20000, fmo_events=5000)
    paths = []
    for name, n, fmo in (("s.fcs", 20000, False), ("f.fcs", 5000, True)):
        tube = simulate_tube(n, seed=(3, int(fmo) + 1), params=params, fmo=fmo)
        paths.append(write_fcs(folder / name, tube.events, tube.channels,
                               keywords={"$TIMESTEP": f"{tube.timestep_s:g}"}, spill=tube.spill))
    gate_sample(read_fcs(paths[0]), load_template("cd19-car-t-panel"), control=read_fcs(paths[1]))
    gated = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn" or
                   m.startswith("scipy.stats") or m.startswith("scipy.signal"))
    print(repr((imported, gated)))
    """
)


def test_importing_and_running_gating_loads_neither_sklearn_nor_scipy_stats() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _GATE_A_TUBE], capture_output=True, text=True, check=True
    )
    imported, gated = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert imported == [], f"import cytorelease.flow.gating loaded {imported[:5]}"
    assert gated == [], f"gating a tube with its FMO loaded {gated[:5]}"
