"""Writing the simulated flow tubes of a lot: FCS 3.1 files, their labels and their truth.

Both tubes carry the same $PnS labels (the FMO tube's PE channel is still labelled ``CAR``, as
the panel's channel, so a template finds it by label); which tube is the control is said by the
manifest role and by the ``CYTORELEASE_TUBE_ROLE`` / ``TUBE NAME`` keywords.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease.flow.fcs_write import write_fcs
from cytorelease.synth.context import LotContext
from cytorelease.synth.flow_model import SimulatedTube, simulate_tube
from cytorelease.synth.panel import CHANNELS, FLUOROCHROMES, POPULATION_DESCRIPTIONS, Population
from cytorelease.synth.truth import DEFINITIONS, population_counts, realised_measurements

__all__ = [
    "CYTOMETER",
    "LABELS_FILE",
    "PANEL_TEMPLATE",
    "TubeRole",
    "fcs_keywords",
    "write_flow_tubes",
    "write_labels",
]

CYTOMETER = "cytorelease synthetic 3-laser cytometer (simulated)"
PANEL_TEMPLATE = "cd19-car-t-panel"
LABELS_FILE = "labels.npz"
LOT_KEYWORD = "CYTORELEASE_LOT"
ROLE_KEYWORD = "CYTORELEASE_TUBE_ROLE"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_VOLTAGES = (380, 380, 290, 420, 480, 455, 530, 560, 590, 610)  # scatter, then fluorescence
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same seed gives the same bytes


class TubeRole(StrEnum):
    STAINED = "stained"
    FMO = "fmo"


_TUBES: tuple[tuple[TubeRole, str, str], ...] = (
    (TubeRole.STAINED, "tube1_stained.fcs", "CAR-T release panel"),
    (TubeRole.FMO, "tube2_fmo_car.fcs", "FMO CAR"),
)


def fcs_keywords(
    *,
    lot_id: str,
    role: TubeRole,
    tube_name: str,
    file_name: str,
    start: datetime,
    tube: SimulatedTube,
) -> dict[str, str]:
    """TEXT keywords of one tube: instrument, acquisition date and times, source, lot."""
    end = start + timedelta(seconds=round(tube.duration_s))
    return {
        "$CYT": CYTOMETER,
        "$DATE": f"{start.day:02d}-{_MONTHS[start.month - 1]}-{start.year:04d}",
        "$BTIM": start.strftime("%H:%M:%S"),
        "$ETIM": end.strftime("%H:%M:%S"),
        "$SRC": f"{lot_id} {role.value}",
        "$FIL": file_name,
        "$TIMESTEP": f"{tube.timestep_s:g}",
        "$PROJ": "CAR-T release testing",
        "TUBE NAME": tube_name,
        "EXPERIMENT NAME": f"{lot_id} release",
        LOT_KEYWORD: lot_id,
        ROLE_KEYWORD: role.value,
        **{f"CYTORELEASE_REAGENT_{f.marker.upper()}": f.reagent for f in FLUOROCHROMES},
        # Detector voltages ($PnV) as an instrument records them; Time has none.
        **{
            f"$P{i}V": str(volts)
            for i, (_, volts) in enumerate(zip(CHANNELS[:-1], _VOLTAGES, strict=True), start=1)
        },
    }


def write_flow_tubes(ctx: LotContext) -> None:
    """Lot step: simulate and write the stained and FMO tubes, labels.npz and their truth."""
    params = ctx.params
    start = ctx.testing_start
    labels: dict[str, np.ndarray] = {}
    tubes_manifest = []
    tubes_truth: dict[str, dict[str, Any]] = {}
    for role, file_name, tube_name in _TUBES:
        fmo = role is TubeRole.FMO
        n_events = params.fmo_events if fmo else params.n_events
        tube = simulate_tube(
            n_events, seed=ctx.stream_seed(f"flow.{role.value}"), params=params, fmo=fmo
        )
        keywords = fcs_keywords(
            lot_id=ctx.lot_id,
            role=role,
            tube_name=tube_name,
            file_name=file_name,
            start=start,
            tube=tube,
        )
        path = write_fcs(
            ctx.lot_dir / file_name,
            tube.events,
            tube.channels,
            keywords=keywords,
            version="3.1",
            spill=tube.spill,
        )
        ctx.record_file(path)
        labels[f"{role.value}_population"] = tube.labels
        labels[f"{role.value}_qc_segment"] = tube.qc_segment
        entry: dict[str, object] = {"path": file_name, "role": role.value}
        if fmo:
            entry["control_for"] = "CAR"
        tubes_manifest.append(entry)
        tubes_truth[role.value] = _tube_truth(tube, file_name, ctx.files[file_name])
        start += timedelta(seconds=round(tube.duration_s) + 180)  # next tube a few minutes later

    ctx.record_file(write_labels(ctx.lot_dir / LABELS_FILE, labels))
    ctx.manifest.setdefault("inputs", {})["flow"] = {
        "template": PANEL_TEMPLATE,
        "tubes": tubes_manifest,
    }
    ctx.truth["flow"] = {
        "definitions": DEFINITIONS,
        "population_codes": [
            {"code": int(p), "name": p.slug, "description": POPULATION_DESCRIPTIONS[p]}
            for p in Population
        ],
        "labels_file": LABELS_FILE,
        "tubes": tubes_truth,
    }
    ctx.truth["measurements"] = dict(tubes_truth[TubeRole.STAINED.value]["measurements"])


def _tube_truth(tube: SimulatedTube, file_name: str, sha256: str) -> dict[str, Any]:
    realised = realised_measurements(tube.labels, tube.qc_segment)
    car = realised["measurements"]["flow.car_pct_of_viable_cd3"]
    window = tube.qc_window_s
    return {
        "file": file_name,
        "sha256": sha256,
        "n_events": tube.n_events,
        "fmo": tube.fmo,
        "duration_s": round(tube.duration_s, 3),
        "timestep_s": tube.timestep_s,
        "qc_segment": None
        if window is None
        else {
            "start_s": window[0],
            "end_s": window[1],
            "start_tick": round(window[0] / tube.timestep_s),
            "end_tick": round(window[1] / tube.timestep_s),
            "n_events": int(np.count_nonzero(tube.qc_segment)),
        },
        "population_counts": population_counts(tube.labels),
        "population_counts_evaluated": population_counts(tube.labels, ~tube.qc_segment),
        "measurements": realised["measurements"],
        "counts": realised["counts"],
        "car_pct_expected_with_fmo_p99_5_gate": None
        if car is None or tube.fmo
        else car + 0.005 * (100.0 - car),
    }


def write_labels(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """An .npz (readable by ``numpy.load``) with the population codes and their names.

    Written uncompressed with fixed member times so the bytes depend on the content only.
    ``code_names[i]`` is the slug of population code ``i``; ``<role>_population`` are uint8
    codes; ``<role>_qc_segment`` are booleans.
    """
    members = dict(arrays)
    members["code_names"] = np.array([p.slug for p in Population])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(members):
            buffer = io.BytesIO()
            np.lib.format.write_array(
                buffer, np.ascontiguousarray(members[name]), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())
    return path
