"""Simulated release tubes written as FCS files, for the gating tests (not a test module)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import write_fcs
from cytorelease.flow.sample import Sample
from cytorelease.synth import random_params, realised_measurements, simulate_tube


@dataclass(frozen=True)
class Lot:
    stained: Sample
    fmo: Sample
    truth: dict[str, Any]
    labels: Any  # per-event population codes of the stained tube
    params: Any


def simulated_lot(
    folder: Path, seed: int, *, n_events: int = 30_000, fmo_events: int = 20_000
) -> Lot:
    """The stained and FMO tubes of ``random_params(seed)`` as FCS files, read back."""
    params = replace(random_params(seed), n_events=n_events, fmo_events=fmo_events)
    stained = simulate_tube(n_events, seed=(seed, 1), params=params)
    fmo = simulate_tube(fmo_events, seed=(seed, 2), params=params, fmo=True)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, tube in (("tube1_stained.fcs", stained), ("tube2_fmo_car.fcs", fmo)):
        keywords = {"$TIMESTEP": f"{tube.timestep_s:g}"}
        paths.append(
            write_fcs(
                folder / name, tube.events, tube.channels, keywords=keywords, spill=tube.spill
            )
        )
    truth = realised_measurements(stained.labels, stained.qc_segment)["measurements"]
    return Lot(read_fcs(paths[0]), read_fcs(paths[1]), truth, stained.labels, params)
