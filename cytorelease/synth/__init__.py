"""Seeded synthetic CAR-T release lots with their ground truth.

Public API::

    truth = generate_lot("sample_data", seed=1)   # writes sample_data/lot-CAR-0001/
    tube = simulate_tube(80_000, seed=7, params=LotParams(car_pct=20.0))   # in memory
    params = random_params(seed)                    # CAR+ 5-60 %, viability 60-98 %

A lot folder holds ``tube1_stained.fcs`` and ``tube2_fmo_car.fcs`` (FCS 3.1 with $SPILLOVER),
``labels.npz`` (per-event true population codes and clog-segment flags), ``lot.yaml`` (the
manifest) and ``truth.json`` (parameters, realised fractions with their definitions, counts,
file hashes). The generative model and the CAR+ truth are described in
:mod:`cytorelease.synth.flow_model`; the fraction definitions in :mod:`cytorelease.synth.truth`.
"""

from __future__ import annotations

from cytorelease.synth.context import LotContext, LotStep
from cytorelease.synth.flow_model import SimulatedTube, population_probabilities, simulate_tube
from cytorelease.synth.lot import (
    DEFAULT_STEPS,
    MANIFEST_FILE,
    TRUTH_FILE,
    LotTruth,
    generate_lot,
    lot_id_for_seed,
    read_labels,
    read_truth,
)
from cytorelease.synth.panel import FLUOROCHROMES, MARKERS, Population
from cytorelease.synth.params import LotParams, random_params
from cytorelease.synth.truth import DEFINITIONS, realised_measurements
from cytorelease.synth.tubes import LABELS_FILE, TubeRole

__all__ = [
    "DEFAULT_STEPS",
    "DEFINITIONS",
    "FLUOROCHROMES",
    "LABELS_FILE",
    "MANIFEST_FILE",
    "MARKERS",
    "TRUTH_FILE",
    "LotContext",
    "LotParams",
    "LotStep",
    "LotTruth",
    "Population",
    "SimulatedTube",
    "TubeRole",
    "generate_lot",
    "lot_id_for_seed",
    "population_probabilities",
    "random_params",
    "read_labels",
    "read_truth",
    "realised_measurements",
    "simulate_tube",
]
