"""Seeded single-stain compensation controls with a known spillover matrix.

``sample-data controls OUT --seed N`` writes one FCS tube per fluorochrome of the panel
(``control_<marker>_<detector>.fcs``), an unstained tube (``unstained.fcs``) and
``truth.json``: the spillover matrix the tubes were generated with, their hashes and each
control's positive fraction and brightness. The matrix is the panel's
(:data:`~cytorelease.synth.panel.SPILLOVER`) with every non-zero off-diagonal coefficient
scaled by a seeded factor in 0.75-1.25, so each seed has its own truth and an estimate cannot
pass by knowing the panel.

Every tube holds resting lymphocytes (scatter and autofluorescence as in
:mod:`~cytorelease.synth.flow_model`); in a control a seeded fraction of them (30-60 %) carries
the one stain, log-normal around a seeded median (5,000-30,000, sd 0.25 decades), like
antibody-capture beads stained to saturation. Detection (spillover, electronic and photon
noise) is :func:`~cytorelease.synth.flow_model.detect` with the drawn matrix. The tubes carry
no $SPILLOVER: the matrix is what a user would estimate from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease.errors import InputError
from cytorelease.flow.fcs_write import write_fcs
from cytorelease.synth.flow_model import TIMESTEP_S, detect
from cytorelease.synth.panel import CHANNELS, FLUOROCHROMES, SCATTER_RANGE, SPILLOVER, Fluorochrome

__all__ = [
    "CONTROLS_TRUTH_FILE",
    "UNSTAINED_FILE",
    "ControlsTruth",
    "control_file_name",
    "draw_spillover",
    "simulate_control",
    "write_controls",
]

CONTROLS_TRUTH_FILE = "truth.json"
UNSTAINED_FILE = "unstained.fcs"
DEFAULT_EVENTS = 20_000
CYTOMETER = "cytorelease synthetic 3-laser cytometer (simulated)"
_COEFFICIENT_SCALE = (0.75, 1.25)
_POSITIVE_FRACTION = (0.30, 0.60)
_BRIGHTNESS = (5_000.0, 30_000.0)
_BRIGHTNESS_SD_LOG10 = 0.25
_AUTOFLUORESCENCE = np.array([f.autofluorescence for f in FLUOROCHROMES])
_SATURATION = SCATTER_RANGE - 1.0
_EVENT_RATE_PER_S = 2_000.0


def control_file_name(fluorochrome: Fluorochrome) -> str:
    """``control_CD3_BV421.fcs``: the marker and the detector (without ``-A``)."""
    return f"control_{fluorochrome.marker}_{fluorochrome.detector.removesuffix('-A')}.fcs"


def draw_spillover(seed: int) -> np.ndarray:
    """The panel's spillover with each non-zero off-diagonal coefficient scaled by a seeded
    factor in 0.75-1.25, rounded to 4 decimals (so truth.json holds it exactly)."""
    rng = np.random.default_rng([seed, 0])
    factors = rng.uniform(*_COEFFICIENT_SCALE, size=SPILLOVER.shape)
    matrix = np.round(SPILLOVER * factors, 4)
    np.fill_diagonal(matrix, 1.0)
    return matrix


def simulate_control(
    n_events: int,
    *,
    stain: int | None,
    matrix: np.ndarray,
    rng: np.random.Generator,
    positive_fraction: float = 0.5,
    brightness: float = 15_000.0,
) -> np.ndarray:
    """Events (float32, columns as :data:`~cytorelease.synth.panel.CHANNELS`) of one tube.

    ``stain`` is the index of the fluorochrome (row of ``matrix``) a ``positive_fraction`` of
    the cells carry, log-normal around ``brightness``; None for the unstained tube.
    """
    if n_events < 1:
        raise InputError(f"a tube needs at least one event, got {n_events}", path="controls")
    fsc_a = 86_000.0 * np.exp(rng.normal(0.0, 0.13, n_events))
    ssc_a = 28_000.0 * np.exp(rng.normal(0.0, 0.20, n_events))
    fsc_h = fsc_a * 0.86 * np.exp(rng.normal(0.0, 0.035, n_events))
    per_event = np.exp(rng.normal(0.0, 0.25, n_events))
    true = per_event[:, None] * _AUTOFLUORESCENCE[None, :]
    if stain is not None:
        positives = rng.permutation(n_events)[: round(n_events * positive_fraction)]
        true[positives, stain] += brightness * 10.0 ** rng.normal(
            0.0, _BRIGHTNESS_SD_LOG10, positives.size
        )
    observed = detect(true, rng, matrix)
    times = np.sort(rng.uniform(0.0, n_events / _EVENT_RATE_PER_S, n_events))
    events = np.empty((n_events, len(CHANNELS)), dtype=np.float32)
    scatter = np.column_stack([fsc_a, fsc_h, ssc_a]) + rng.normal(0.0, 250.0, (n_events, 3))
    events[:, 0:3] = np.clip(scatter, 0.0, _SATURATION)
    events[:, 3 : 3 + len(FLUOROCHROMES)] = np.clip(observed, None, _SATURATION)
    events[:, -1] = np.floor(times / TIMESTEP_S)
    return events


@dataclass(frozen=True)
class ControlsTruth:
    """What ``write_controls`` wrote: the matrix, the tubes and their hashes."""

    seed: int
    n_events: int
    matrix: np.ndarray
    controls: list[dict[str, Any]]
    unstained: dict[str, str]
    folder: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "cytorelease.controls-truth/1",
            "seed": self.seed,
            "events_per_tube": self.n_events,
            "spillover": {
                "fluorochromes": [f.reagent for f in FLUOROCHROMES],
                "detectors": [f.detector for f in FLUOROCHROMES],
                "rows": "one per fluorochrome, in the detectors' order; observed = true @ matrix",
                "matrix": self.matrix.tolist(),
            },
            "controls": self.controls,
            "unstained": self.unstained,
        }


def _write_tube(path: Path, events: np.ndarray, name: str, role: str) -> str:
    from cytorelease.provenance import file_sha256

    keywords = {
        "$CYT": CYTOMETER,
        "$FIL": path.name,
        "$SRC": f"compensation controls {role}",
        "$TIMESTEP": f"{TIMESTEP_S:g}",
        "TUBE NAME": name,
        "CYTORELEASE_CONTROL": role,
    }
    write_fcs(path, events, CHANNELS, keywords=keywords, version="3.1")
    return file_sha256(path)


def write_controls(
    out: Path, *, seed: int = 1, n_events: int = DEFAULT_EVENTS, overwrite: bool = False
) -> ControlsTruth:
    """Write the control tubes, the unstained tube and truth.json into ``out``.

    The same seed and event count give the same bytes.
    """
    if n_events < 1:
        raise InputError(f"--events must be at least 1, got {n_events}", path=out)
    names = [control_file_name(f) for f in FLUOROCHROMES]
    targets = [out / n for n in (*names, UNSTAINED_FILE, CONTROLS_TRUTH_FILE)]
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise InputError("controls are already here; pass --force to overwrite them",
                         path=existing[0])  # fmt: skip
    matrix = draw_spillover(seed)
    out.mkdir(parents=True, exist_ok=True)
    controls: list[dict[str, Any]] = []
    for index, (fluorochrome, name) in enumerate(zip(FLUOROCHROMES, names, strict=True)):
        rng = np.random.default_rng([seed, 1 + index])
        fraction = round(float(rng.uniform(*_POSITIVE_FRACTION)), 3)
        brightness = round(float(rng.uniform(*_BRIGHTNESS)), 0)
        events = simulate_control(n_events, stain=index, matrix=matrix, rng=rng,
                                  positive_fraction=fraction, brightness=brightness)  # fmt: skip
        sha256 = _write_tube(out / name, events, f"{fluorochrome.reagent} single stain",
                             fluorochrome.detector)  # fmt: skip
        controls.append({"file": name, "detector": fluorochrome.detector,
                         "marker": fluorochrome.marker, "reagent": fluorochrome.reagent,
                         "positive_fraction": fraction, "brightness_median": brightness,
                         "sha256": sha256})  # fmt: skip
    rng = np.random.default_rng([seed, 1 + len(FLUOROCHROMES)])
    events = simulate_control(n_events, stain=None, matrix=matrix, rng=rng)
    unstained = {"file": UNSTAINED_FILE,
                 "sha256": _write_tube(out / UNSTAINED_FILE, events, "unstained", "unstained")}  # fmt: skip
    truth = ControlsTruth(seed, n_events, matrix, controls, unstained, out)
    (out / CONTROLS_TRUTH_FILE).write_text(
        json.dumps(truth.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return truth
