"""Paying the numba compile once per environment: ``cytorelease warmup``.

The flow kernels are compiled by numba on first use and cached on disk (``cache=True``). The
first run after an install, on a new worker machine or in a new container, otherwise compiles
every kernel it reaches on a user's or an instrument's time (minutes on a small machine).
:func:`warm_up` runs each kernel once, through the same library calls as the commands (so with
the dtypes and layouts of a real run), on a small synthetic tube and its FMO gated with the
release panel, the same at 60,000 events (above the kernels' one-thread thresholds, so past
every size-dependent branch a 1M-event tube takes), the tubes read, inspected and
clustered, and the bundled sample lot's FCS files gated as the demo gates them. What is already
in the cache only loads. It reports, per kernel, how many specializations it holds, how many
were compiled now and how many loaded from the cache, and how long each step took.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_MODULES", "KernelState", "WarmupReport", "warm_up"]

# every module that defines numba kernels (a test checks this list against the sources)
KERNEL_MODULES = (
    "cytorelease.flow._biexp_kernel",
    "cytorelease.flow._compensation_kernel",
    "cytorelease.flow._som_kernel",
    "cytorelease.flow.gating._mixture_kernel",
    "cytorelease.flow.gating._polygon_kernel",
    "cytorelease.flow.gating._range_kernel",
    "cytorelease.flow.gating.placement",
)

_SMALL_EVENTS = 4_000
_LARGE_EVENTS = 60_000  # above the biexponential (50,000) and polygon (20,000) thresholds


@dataclass(frozen=True, slots=True)
class KernelState:
    name: str  # module.function
    specializations: int
    compiled: int  # compiled by this run (not found in the cache)
    loaded: int  # loaded from the on-disk cache by this run
    # already in this process before the run (a library caller that gated before warming up)
    in_memory: int = 0


@dataclass(frozen=True, slots=True)
class WarmupReport:
    seconds: float
    steps: tuple[tuple[str, float], ...]
    kernels: tuple[KernelState, ...] = field(default=())

    @property
    def compiled(self) -> int:
        return sum(k.compiled for k in self.kernels)

    @property
    def loaded(self) -> int:
        return sum(k.loaded for k in self.kernels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "compiled": self.compiled,
            "loaded": self.loaded,
            "steps": [{"step": s, "seconds": round(t, 3)} for s, t in self.steps],
            "kernels": [
                {
                    "kernel": k.name,
                    "specializations": k.specializations,
                    "compiled": k.compiled,
                    "loaded": k.loaded,
                    "in_memory": k.in_memory,
                }
                for k in self.kernels
            ],
        }


def _dispatchers() -> list[tuple[str, Any]]:
    from numba.core.registry import CPUDispatcher

    found = []
    for module_name in KERNEL_MODULES:
        module = importlib.import_module(module_name)
        for name, value in sorted(vars(module).items()):
            if isinstance(value, CPUDispatcher) and value.__module__ == module_name:
                found.append((f"{module_name.removeprefix('cytorelease.')}.{name}", value))
    return found


def _write_tubes(folder: Path, events: int, seed: int) -> tuple[Path, Path]:
    from cytorelease.flow.fcs_write import write_fcs
    from cytorelease.synth import random_params, simulate_tube

    fmo_events = max(events // 4, 2_000)
    params = replace(random_params(seed), n_events=events, fmo_events=fmo_events)
    paths = []
    for name, n, fmo in (
        (f"stained-{events}.fcs", events, False),
        (f"fmo-{events}.fcs", fmo_events, True),
    ):
        tube = simulate_tube(n, seed=(seed, int(fmo) + 1), params=params, fmo=fmo)
        keywords = {"$TIMESTEP": f"{tube.timestep_s:g}"}
        paths.append(
            write_fcs(
                folder / name, tube.events, tube.channels, keywords=keywords, spill=tube.spill
            )
        )
    return paths[0], paths[1]


def _gate_sample_lot() -> None:
    """Gate the bundled sample lot's tubes as a release does (the real files' dtypes)."""
    from cytorelease.demo import find_sample_lot
    from cytorelease.lot.release import release_lot

    with tempfile.TemporaryDirectory(prefix="cytorelease-warmup-") as out:
        release_lot(find_sample_lot(), out=out)


def warm_up() -> WarmupReport:
    """Compile (or load from the numba cache) every kernel the commands use; see the module."""
    from cytorelease.flow.cluster import cluster_file
    from cytorelease.flow.gating.run import gate_file
    from cytorelease.flow.inspect import inspect_fcs

    start = time.perf_counter()
    steps: list[tuple[str, float]] = []

    def step(name: str, run: Callable[[], object]) -> None:
        begun = time.perf_counter()
        run()
        steps.append((name, time.perf_counter() - begun))

    step("import kernels", _dispatchers)
    before = {name: _counts(d) for name, d in _dispatchers()}
    present = {name: len(d.signatures) for name, d in _dispatchers()}
    with tempfile.TemporaryDirectory(prefix="cytorelease-warmup-") as tmp:
        folder = Path(tmp)
        for events in (_SMALL_EVENTS, _LARGE_EVENTS):
            stained, fmo = _write_tubes(folder, events, seed=3)
            step(
                f"flow gate ({events:,} events + FMO)",
                partial(gate_file, stained, "cd19-car-t-panel", control=fmo),
            )
            step(f"flow inspect --stats ({events:,})", partial(inspect_fcs, stained, stats=True))
            step(
                f"flow cluster ({events:,})",
                partial(cluster_file, stained, grid=(4, 4), metaclusters=4),
            )
    step("release of the sample lot", _gate_sample_lot)
    kernels = []
    for name, dispatcher in _dispatchers():
        if not dispatcher.signatures:
            continue  # inlined into its callers, or used by no command: nothing of its own
        hits, misses = _counts(dispatcher)
        old_hits, old_misses = before.get(name, (0, 0))
        kernels.append(
            KernelState(
                name,
                len(dispatcher.signatures),
                misses - old_misses,
                hits - old_hits,
                present.get(name, 0),
            )
        )
    return WarmupReport(time.perf_counter() - start, tuple(steps), tuple(kernels))


def _counts(dispatcher: Any) -> tuple[int, int]:
    stats = dispatcher.stats
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
