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


if __name__ == "__main__":
    main()
