"""The example lot's flow killing assay: a tube of targets with effectors, a tube of targets alone.

Targets carry a cell-tracker dye (CellTrace Violet), dead cells take up the viability dye, and a
fixed number of counting beads is added to every tube (bright in their own channel, small in
scatter). Each tube is acquired only in part (a different, random fraction), as real tubes are:
absolute counts only compare through the beads. In expectation the live targets left with
effectors are ``1 - cytotoxicity/100`` of those alone; the returned dictionary is the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KILLING_CHANNELS", "write_killing_assay"]

KILLING_CHANNELS = (
    ("FSC-A", None),
    ("SSC-A", None),
    ("Time", None),
    ("BV421-A", "CTV"),  # target-cell tracker
    ("PerCP-Cy5.5-A", "7-AAD"),  # viability: dead cells bright
    ("PE-A", "Beads"),  # counting beads
)


def _cells(rng: np.random.Generator, n: int, *, target: bool, dead_fraction: float) -> np.ndarray:
    dead = rng.random(n) < dead_fraction
    fsc = rng.normal(np.where(dead, 60_000, 95_000), 9_000)
    ssc = rng.normal(np.where(dead, 45_000, 40_000), 7_000)
    ctv = rng.lognormal(np.log(40_000 if target else 250), 0.35, n)
    viability = rng.lognormal(np.where(dead, np.log(25_000), np.log(300)), 0.4)
    beads = rng.lognormal(np.log(150), 0.5, n)
    return np.column_stack([fsc, ssc, np.zeros(n), ctv, viability, beads])


def _beads(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack(
        [
            rng.normal(20_000, 2_000, n),
            rng.normal(15_000, 1_500, n),
            np.zeros(n),
            rng.lognormal(np.log(3_000), 0.2, n),
            rng.lognormal(np.log(2_000), 0.2, n),
            rng.lognormal(np.log(120_000), 0.1, n),
        ]
    )


def _tube(
    path: Path,
    parts: list[np.ndarray],
    rng: np.random.Generator,
    fraction: float,
    tube_volume_nl: float | None,
    identity: dict[str, str],
) -> dict[str, Any]:
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    events = np.concatenate(parts)
    events = events[rng.random(events.shape[0]) < fraction]  # the part of the tube acquired
    events = events[rng.permutation(events.shape[0])]
    events[:, 2] = np.sort(rng.uniform(0, 120_000, events.shape[0]))  # Time, ms-like ticks
    events = np.clip(events, 0, 262_143).astype(np.float32)
    keywords = {"$CYT": "cytorelease synthetic", "$TIMESTEP": "0.001", **identity}
    if tube_volume_nl is not None:  # a volumetric cytometer records what it drew (nL)
        keywords["$VOL"] = f"{tube_volume_nl * fraction:.1f}"
    write_fcs(
        path,
        events,
        [ChannelSpec(name, label) for name, label in KILLING_CHANNELS],
        keywords=keywords,
    )
    return {"file": path.name, "events": int(events.shape[0]), "acquired_fraction": fraction}


def write_killing_assay(
    lot_dir: str | Path,
    *,
    seed: int,
    cytotoxicity_truth_pct: float,
    target_cells: int = 20_000,
    effector_to_target: float = 5.0,
    beads: int = 10_000,
    spontaneous_death: float = 0.08,
    file_names: tuple[str, str] = ("killing_with_effectors.fcs", "killing_targets_alone.fcs"),
    tube_volume_nl: float | None = None,
    lot_id: str | None = None,
) -> dict[str, Any]:
    """Write the tube pair into ``lot_dir``; return the truth and the files (with effectors first).

    ``tube_volume_nl`` set: each file records the volume it acquired as ``$VOL`` (nL).
    """
    if not 0 <= cytotoxicity_truth_pct < 100:
        raise ValueError("cytotoxicity_truth_pct must be in [0, 100)")
    rng = np.random.default_rng(seed)
    lot_dir = Path(lot_dir)
    lot_dir.mkdir(parents=True, exist_ok=True)
    killed = cytotoxicity_truth_pct / 100.0
    # with effectors: a fraction of the otherwise-live targets is killed (dead, dimmer, or gone)
    live_left = 1.0 - spontaneous_death
    dead_with = 1.0 - live_left * (1.0 - killed)
    with_effectors = [
        _cells(rng, target_cells, target=True, dead_fraction=dead_with),
        _cells(rng, int(target_cells * effector_to_target), target=False, dead_fraction=0.1),
        _beads(rng, beads),
    ]
    alone = [
        _cells(rng, target_cells, target=True, dead_fraction=spontaneous_death),
        _beads(rng, beads),
    ]

    def identity(role: str) -> dict[str, str]:
        # the lot and tube a file belongs to, as the stained tubes carry them (routing by keyword)
        if lot_id is None:
            return {}
        return {
            "$SRC": f"{lot_id} {role}",
            "CYTORELEASE_LOT": lot_id,
            "CYTORELEASE_TUBE_ROLE": role,
        }

    tube_e = _tube(
        lot_dir / file_names[0],
        with_effectors,
        rng,
        float(rng.uniform(0.5, 0.9)),
        tube_volume_nl,
        identity("killing-with-effectors"),
    )
    tube_t = _tube(
        lot_dir / file_names[1],
        alone,
        rng,
        float(rng.uniform(0.5, 0.9)),
        tube_volume_nl,
        identity("killing-targets-alone"),
    )
    return {
        "with_effectors": tube_e,
        "targets_alone": tube_t,
        "effector_to_target": effector_to_target,
        "beads_per_tube": beads,
        "cytotoxicity_pct": cytotoxicity_truth_pct,
        "seed": seed,
    }
