"""Time and memory of the release panel on a 1M-event tube, against FlowKit on the same gates.

    python bench/bench_gating.py [--events 1000000] [--fmo-events 200000] [--seed 3]

Simulates a stained tube (and its FMO) with the lot generator, writes them as FCS 3.1 and reads
them back. Then, with the samples already in memory:

1. cytorelease, full panel: ``gate_sample`` places every data-driven gate (time QC, scatter
   mixture, singlet band, density valleys, FMO percentile) and applies them;
2. cytorelease, fixed gates: the placed gates (as a ``GatingStrategy``) applied again;
3. FlowKit: the same placed gates exported as GatingML 2.0, loaded with
   ``flowkit.parse_gating_xml`` and applied with ``GatingStrategy.gate_sample`` to a
   ``flowkit.Sample`` of the same file (counts are checked equal).

Each is timed (median of ``--repeat`` runs, wall clock) and its peak traced memory
(tracemalloc, one separate run) is reported as a multiple of the raw event matrix (events x
channels as stored, float32). Targets: the panel >= 5x faster than FlowKit, peak memory
<= 3x the raw event matrix.

Then the compiled kernels on the panel's hot path, each against the library code it replaces,
on the same tube (results checked equal or within the stated tolerance):

- the scatter gate's Gaussian mixture (EM, 2-D, full covariances) vs scikit-learn's
  ``GaussianMixture`` on the fit sample;
- compensation of the tube's fluorescence columns vs ``np.linalg.solve`` in blocks;
- point-in-polygon of every event in the placed cell gate vs ``flowutils.gating``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import write_fcs
from cytorelease.flow.gating.gatingml_export import export_gatingml
from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.preprocess import preprocessed_events
from cytorelease.flow.gating.template import load_template
from cytorelease.synth import random_params, simulate_tube

TARGET_SPEEDUP = 5.0
TARGET_MEMORY = 3.0


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _peak(run: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _write_tubes(folder: Path, events: int, fmo_events: int, seed: int) -> tuple[Path, Path]:
    params = replace(random_params(seed), n_events=events, fmo_events=fmo_events)
    paths = []
    for name, n, fmo in (("stained.fcs", events, False), ("fmo.fcs", fmo_events, True)):
        tube = simulate_tube(n, seed=(seed, int(fmo) + 1), params=params, fmo=fmo)
        keywords = {"$TIMESTEP": f"{tube.timestep_s:g}"}
        paths.append(
            write_fcs(
                folder / name, tube.events, tube.channels, keywords=keywords, spill=tube.spill
            )
        )
    return paths[0], paths[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--fmo-events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import flowkit

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stained_path, fmo_path = _write_tubes(folder, args.events, args.fmo_events, args.seed)
        stained, fmo = read_fcs(stained_path), read_fcs(fmo_path)
        raw_bytes = stained.events.nbytes
        panel = load_template("cd19-car-t-panel")
        gate_sample(stained, panel, control=fmo)  # warm-up: numba compilation, imports

        ours_s, result = _timed(lambda: gate_sample(stained, panel, control=fmo), args.repeat)
        ours_peak = _peak(lambda: gate_sample(stained, panel, control=fmo))
        events = preprocessed_events(stained)
        fixed_s, _ = _timed(lambda: result.strategy.apply(stained, events=events), args.repeat)
        fixed_peak = _peak(lambda: result.strategy.apply(stained, events=events))

        xml = folder / "placed.xml"
        export_gatingml(result.strategy, xml, sample=stained)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            strategy = flowkit.parse_gating_xml(str(xml))
            fk_sample = flowkit.Sample(str(stained_path))
            fk_s, fk_result = _timed(lambda: strategy.gate_sample(fk_sample), args.repeat)
            fk_peak = _peak(lambda: strategy.gate_sample(fk_sample))
        theirs = dict(zip(fk_result.report["gate_name"], fk_result.report["count"], strict=True))
        ours = {row.gate_id: int(row.count) for row in result.populations.itertuples()}
        same = all(theirs[g] == c for g, c in ours.items())
        kernel_lines = _kernels(stained, result, args.repeat)

    gates = len(result.strategy.population_ids)
    print(
        f"tube: {args.events:,} events x {stained.events.shape[1]} channels "
        f"(raw {raw_bytes / 1e6:.1f} MB), FMO {args.fmo_events:,} events; {gates} gates"
    )
    print(f"counts equal to FlowKit's: {same}")
    rows = [
        ("cytorelease panel (place + apply)", ours_s, ours_peak),
        ("cytorelease fixed gates (apply)", fixed_s, fixed_peak),
        ("FlowKit GatingStrategy.gate_sample", fk_s, fk_peak),
    ]
    for name, seconds, peak in rows:
        print(
            f"{name:38s} {seconds:7.3f} s   peak {peak / 1e6:8.1f} MB "
            f"= {peak / raw_bytes:5.2f}x raw"
        )
    print(
        f"speed-up vs FlowKit: panel {fk_s / ours_s:.2f}x, fixed gates {fk_s / fixed_s:.2f}x "
        f"(target >= {TARGET_SPEEDUP:g}x)"
    )
    print(
        f"peak memory: panel {ours_peak / raw_bytes:.2f}x raw, FlowKit "
        f"{fk_peak / raw_bytes:.2f}x raw (target <= {TARGET_MEMORY:g}x)"
    )
    print("\n".join(kernel_lines))


def _kernels(stained: Any, result: Any, repeat: int) -> list[str]:
    import numpy as np
    from flowutils.gating import points_in_polygon as flowutils_pip
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    from cytorelease.flow.compensation import sample_spillover
    from cytorelease.flow.gating._mixture_kernel import fit_mixture_2d
    from cytorelease.flow.gating._polygon_kernel import points_in_polygon

    rows = []
    # the mixture: the scatter gate's own fit sample (log FSC-A, SSC-A of 8,000 events)
    events = stained.events
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(events), 8000, replace=False))
    xy = np.log(
        np.maximum(
            events[pick][:, [stained.channel_index(c) for c in ("FSC-A", "SSC-A")]], 1.0
        ).astype(np.float64)
    )
    with threadpool_limits(limits=1):
        theirs_s, theirs = _timed(
            lambda: GaussianMixture(5, covariance_type="full", random_state=0).fit(xy), repeat
        )
        ours_s, ours = _timed(lambda: fit_mixture_2d(xy, 5, seed=0), repeat)
    agree = float(np.abs(ours.means - theirs.means_).max())
    rows.append(
        (
            "mixture EM, 8,000 x 2, 5 components",
            "scikit-learn",
            theirs_s,
            ours_s,
            f"max |mean difference| {agree:.1e}",
        )
    )
    # compensation of the tube's spillover columns
    spill = sample_spillover(stained)
    columns = [events[:, stained.channel_index(d)] for d in spill.detectors]

    def numpy_solve() -> np.ndarray:
        out = np.empty((len(columns), len(events)))
        for start in range(0, len(events), 1 << 16):
            block = np.stack(
                [np.asarray(c[start : start + (1 << 16)], np.float64) for c in columns]
            )
            out[:, start : start + (1 << 16)] = np.linalg.solve(spill.matrix.T, block)
        return out

    theirs_s, theirs = _timed(numpy_solve, repeat)
    ours_s, ours = _timed(lambda: spill.compensate_columns(columns), repeat)
    rel = float(np.max(np.abs(np.asarray(ours) - theirs) / np.maximum(np.abs(theirs), 1.0)))
    rows.append(
        (
            f"compensation, {len(events):,} x {len(columns)}",
            "numpy solve",
            theirs_s,
            ours_s,
            f"max relative difference {rel:.1e}",
        )
    )
    # point-in-polygon: the placed cell gate on every event
    cells = next(g for p in result.placed if p.id == "cells" for g in p.gates)
    vertices = np.asarray(cells.vertices)
    x = np.asarray(events[:, stained.channel_index("FSC-A")], np.float64)
    y = np.asarray(events[:, stained.channel_index("SSC-A")], np.float64)
    points = np.column_stack([x, y])
    theirs_s, theirs = _timed(lambda: flowutils_pip(vertices, points), repeat)
    ours_s, ours = _timed(lambda: points_in_polygon(vertices, x, y), repeat)
    same = bool(np.array_equal(np.asarray(theirs, bool), ours))
    rows.append(
        (
            f"point in polygon, {len(vertices)} vertices",
            "flowutils",
            theirs_s,
            ours_s,
            f"memberships equal: {same}",
        )
    )
    lines = ["kernels on the hot path vs the library code they replace:"]
    for name, library, theirs_s, ours_s, check in rows:
        lines.append(
            f"  {name:38s} {library:13s} {theirs_s * 1e3:8.1f} ms   ours {ours_s * 1e3:7.1f} ms "
            f"({theirs_s / ours_s:5.1f}x)   {check}"
        )
    return lines


if __name__ == "__main__":
    main()
