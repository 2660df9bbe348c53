"""Time the logicle transform: cytorelease's numba kernel against flowutils, same data, same run.

    python bench/bench_logicle.py [--events 1000000] [--channels 12] [--repeat 3]

Data: ``events x channels`` float64 values shaped like compensated flow data (a spread of
negatives around zero and four decades of positives). Reports the best of ``--repeat`` runs for
cytorelease ``LogicleTransform.apply`` (T=262144, W=0.5, M=4.5, A=0), for flowutils'
``transforms.logicle`` on the same array, their ratio (target >= 10x) and the largest absolute
difference between the two on the 0..1 scale (target < 1e-6). Also times the hyperlog and the
inverse logicle for the record.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cytorelease.flow.transforms import HyperlogTransform, LogicleTransform

TARGET_RATIO = 10.0
TARGET_AGREEMENT = 1e-6
T, W, M, A = 262144.0, 0.5, 4.5, 0.0


def _best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def _data(n_events: int, n_channels: int) -> np.ndarray:
    rng = np.random.default_rng(12)
    dim = rng.normal(0.0, 150.0, size=(n_events, n_channels))
    bright = 10.0 ** rng.uniform(1.0, 5.3, size=(n_events, n_channels))
    return np.where(rng.random((n_events, n_channels)) < 0.4, dim, bright)


def run(n_events: int, n_channels: int, repeat: int) -> dict[str, float]:
    from flowutils import transforms as reference

    data = _data(n_events, n_channels)
    logicle = LogicleTransform(T=T, W=W, M=M, A=A)
    hyperlog = HyperlogTransform(T=T, W=W, M=M, A=A)
    logicle.apply(data[:10])  # compile / load the kernels outside the timing
    logicle.apply(data[:100_000])
    hyperlog.apply(data[:100_000])
    logicle.inverse(data[:100_000] / T)

    ours, ours_values = _best_of(repeat, lambda: logicle.apply(data))
    theirs, their_values = _best_of(
        repeat, lambda: reference.logicle(data, None, t=T, m=M, w=W, a=A)
    )
    hyper, _ = _best_of(repeat, lambda: hyperlog.apply(data))
    hyper_ref, _ = _best_of(
        max(1, repeat // 2), lambda: reference.hyperlog(data, None, t=T, m=M, w=W, a=A)
    )
    scaled = ours_values
    inverse, _ = _best_of(repeat, lambda: logicle.inverse(scaled))
    inverse_ref, _ = _best_of(
        max(1, repeat // 2), lambda: reference.logicle_inverse(scaled, None, t=T, m=M, w=W, a=A)
    )
    return {
        "cytorelease logicle": ours,
        "flowutils logicle": theirs,
        "cytorelease hyperlog": hyper,
        "flowutils hyperlog": hyper_ref,
        "cytorelease logicle inverse": inverse,
        "flowutils logicle inverse": inverse_ref,
        "max |ours - flowutils|": float(np.max(np.abs(ours_values - their_values))),
    }


def report(results: dict[str, float], n_events: int, n_channels: int) -> str:
    lines = [f"{n_events:,} events x {n_channels} channels = {n_events * n_channels:,} values"]
    for name, value in results.items():
        if name.startswith("max"):
            continue
        lines.append(f"  {name:<30} {value * 1000:9.1f} ms")
    ratio = results["flowutils logicle"] / results["cytorelease logicle"]
    lines.append(f"logicle: flowutils / cytorelease = {ratio:.1f}x (target >= {TARGET_RATIO:g}x)")
    hyper_ratio = results["flowutils hyperlog"] / results["cytorelease hyperlog"]
    lines.append(f"hyperlog: flowutils / cytorelease = {hyper_ratio:.1f}x")
    inv_ratio = results["flowutils logicle inverse"] / results["cytorelease logicle inverse"]
    lines.append(f"logicle inverse: flowutils / cytorelease = {inv_ratio:.1f}x")
    diff = results["max |ours - flowutils|"]
    lines.append(
        f"max |cytorelease - flowutils| on the 0..1 scale = {diff:.2e} "
        f"(target < {TARGET_AGREEMENT:g})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    results = run(args.events, args.channels, args.repeat)
    print(report(results, args.events, args.channels))
    return results


if __name__ == "__main__":
    main()
