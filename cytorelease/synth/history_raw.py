"""``sample-data history --raw``: the raw files of every lot of a history, made to its values.

Each lot of the history is written by the lot generator (:func:`cytorelease.synth.generate_lot`)
into ``OUT/raw/<lot>/``, exactly what ``sample-data generate`` writes for a lot (the stained and
FMO tubes, the qPCR exports, the potency files, the bench sheet, ``lot.yaml``, ``truth.json``),
named, dated and sited as history.csv has it, with the history's values as the lot's truth:

- ``flow.car_pct_of_viable_cd3`` and ``flow.viability_pct_of_cd45`` are the composition the
  tubes are simulated from (``LotParams.car_pct``, ``viability_pct``), so the planted step and
  decline are in the events a release gates;
- ``derived.vcn_per_transduced_cell`` is the true VCN per transduced cell the qPCR exports are
  simulated from.

The other parameters are the generator's defaults. The events are drawn, so a lot's realised
fractions differ from history.csv's value by sampling noise (with 20,000 events, about 0.4
points of CAR+ % and 0.25 of viability, one SD), and a release reads them through its gates
(the FMO gate reads CAR+ about 0.005 x (100 - truth) points high) and the qPCR through its
droplets; ``truth.json`` records, per lot, its seed, folder, the values planted and those the
events realise. Each lot's seed comes from the history's seed and the lot's number: the same
arguments give the same bytes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cytorelease.errors import InputError

if TYPE_CHECKING:
    from cytorelease.synth.history import PlannedLot

__all__ = ["DEFAULT_EVENTS", "RAW_FOLDER", "check_raw_destination", "lot_seed", "write_raw_lots"]

RAW_FOLDER = "raw"
DEFAULT_EVENTS = 20_000
# below it a tube of 1,000 events may hold no viable T cell, and a lot no CAR+ % to plant
MIN_VIABILITY_PCT = 10.0
_SEED_STREAM = 0x48495354  # "HIST": the lots' seeds are a stream of their own


def lot_seed(seed: int, number: int) -> int:
    """The generator seed of lot ``number`` of the history of ``seed`` (63 bits)."""
    state = np.random.SeedSequence([seed, number, _SEED_STREAM]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def check_raw_destination(out: Path, lots: list[str], *, overwrite: bool) -> None:
    """Refuse, before anything is written, a raw folder in the way or a lot already there."""
    if out.exists() and not out.is_dir():
        raise InputError("is a file, not a folder", path=out, hint="OUT is the history's folder")
    folder = out / RAW_FOLDER
    if folder.exists() and not folder.is_dir():
        raise InputError("is in the way of the raw lot folders (a file)", path=folder)
    if overwrite:
        return
    for lot in lots:
        if (folder / lot).exists():
            raise InputError(
                "the raw files of this lot are already here; pass --force to overwrite them",
                path=folder / lot,
            )


def write_raw_lots(
    out: Path, lots: list[PlannedLot], *, seed: int, events: int, overwrite: bool
) -> dict[str, Any]:
    """Write every lot's raw files; returns truth.json's ``raw`` section."""
    from cytorelease.synth.history import CAR, VCN, VIABILITY
    from cytorelease.synth.lot import DEFAULT_STEPS, generate_lot
    from cytorelease.synth.params import LotParams
    from cytorelease.synth.qpcr_step import write_vcn_exports

    if events < 1_000:
        raise InputError(f"--events {events}: at least 1000 events per tube", path=out)
    # every lot's composition checked before the first file is written
    planned_params = []
    for planned in lots:
        planted = {a: float(v) for a, v in planned.values.items()}
        if planted[VIABILITY] < MIN_VIABILITY_PCT:
            raise InputError(
                f"lot {planned.lot}: viability {planted[VIABILITY]} % leaves too few cells for "
                f"its tubes (at least {MIN_VIABILITY_PCT:g} %: the decline runs on for as long "
                "as the history, so write a shorter one)",
                path=out,
            )
        params = LotParams(
            car_pct=planted[CAR],
            viability_pct=planted[VIABILITY],
            n_events=events,
            fmo_events=events,
        )
        planned_params.append((planned, planted, params))
    written = []
    for planned, planted, params in planned_params:
        vcn = functools.partial(write_vcn_exports, per_transduced=planted[VCN])
        steps = tuple(vcn if step is write_vcn_exports else step for step in DEFAULT_STEPS)
        truth = generate_lot(
            out / RAW_FOLDER,
            seed=lot_seed(seed, planned.number),
            params=params,
            steps=steps,
            overwrite=overwrite,
            lot_id=planned.lot,
            manufacturing_date=planned.day,
            site=planned.site,
        )
        realised = {
            CAR: truth.measurements[CAR],
            VIABILITY: truth.measurements[VIABILITY],
            VCN: truth.document["qpcr"]["vcn_per_transduced_cell"],
        }
        written.append(
            {
                "lot": planned.lot,
                "site": planned.site,
                "seed": truth.seed,
                "path": f"{RAW_FOLDER}/{planned.lot}",
                "truth_sha256": truth.truth_sha256,
                "planted": planted,
                "realised": {a: None if v is None else round(v, 6) for a, v in realised.items()},
            }
        )
    return {"folder": RAW_FOLDER, "events_per_tube": events, "lots": written}
