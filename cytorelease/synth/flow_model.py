"""The generative model of one release tube: populations, scatter, fluorescence, time.

Per event, in this order:

1. **Identity.** A population code is drawn from the lot's target fractions (multinomial, in
   random order); see :class:`~cytorelease.synth.panel.Population`.
2. **Scatter** (FSC-A, SSC-A) log-normal per population on a 0..262144 linear scale. Singlets
   have FSC-H = 0.86 FSC-A (+-3.5 %); a doublet's FSC-A and SSC-A are the sums of two cells'
   while its FSC-H is about 1.12 times the taller one's, so its H/A ratio is ~0.5 not ~0.86.
3. **True (compensated) fluorescence**: autofluorescence (per detector, scaled by cell type and
   a per-event factor shared by all detectors) plus log-normal staining per marker. Dead cells
   are drawn from the viable mix with their staining halved and 7-AAD bright.
4. **Spillover**: observed = true @ S (S in :mod:`~cytorelease.synth.panel`, written as
   $SPILLOVER), then **detector noise**: Gaussian electronic noise plus photon-counting noise
   whose variance grows with the detector's signal. Compensation therefore gives negatives
   spread around zero (negative values occur, as on modern cytometers) and spillover spreading.
5. **Time**: an inhomogeneous Poisson process (rate falling slowly as the tube empties, with a
   gentle wobble). With ``params.clog`` a segment of ``clog_fraction`` of the run first clogs
   (rate x0.15) then bursts (rate x2.5) with shifted scatter and dimmer fluorescence: the events in
   that time window are flagged ``qc_segment`` and excluded from the ground truth's fractions.

**The CAR.** T cells are generated CAR-expressing with probability ``car_pct``; the truth is
that generated fraction. CAR-expressing cells carry log-normal CAR staining (median 6,000,
sd 0.33 decades: a continuum with a clear positive mode), while in compensated space the CAR
channel of every other cell (and of every cell in the FMO tube, which lacks the reagent) holds
autofluorescence plus spread: its 99.5th percentile among viable T cells is about 350-450. The
positive median lies ~3.7 sd above that threshold, so under 0.05 % of CAR+ cells fall below it,
and an FMO 99.5th-percentile gate reports car_pct + 0.005 x (100 - car_pct) (+0.2 to +0.5
points, the 0.5 % of CAR- cells above any 99.5th percentile, plus sampling noise of the FMO's
percentile): within 1 point of the truth (tests/synth/test_separability.py checks 20 lots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cytorelease.errors import InputError
from cytorelease.flow.fcs_write import ChannelSpec
from cytorelease.flow.sample import Spill
from cytorelease.synth.panel import (
    CHANNELS,
    FLUOROCHROMES,
    MARKERS,
    SCATTER_RANGE,
    SPILLOVER,
    T_CELLS,
    Population,
    spill,
)
from cytorelease.synth.params import LotParams

__all__ = [
    "TIMESTEP_S",
    "SimulatedTube",
    "detect",
    "population_probabilities",
    "simulate_tube",
]

TIMESTEP_S = 0.01  # $TIMESTEP: the Time channel counts 10 ms ticks
_MARKER = {m: i for i, m in enumerate(MARKERS)}
_AUTOFLUORESCENCE = np.array([f.autofluorescence for f in FLUOROCHROMES])
_ELECTRONIC_NOISE_SD = 35.0
_PHOTON_VARIANCE_PER_UNIT = 1.2
_SATURATION = SCATTER_RANGE - 1.0

# (median FSC-A, sd of ln FSC-A, median SSC-A, sd of ln SSC-A, autofluorescence factor)
_SCATTER: dict[Population, tuple[float, float, float, float, float]] = {
    Population.DEBRIS: (11_000.0, 0.50, 7_000.0, 0.55, 0.4),
    Population.DEAD: (60_000.0, 0.18, 34_000.0, 0.22, 1.5),
    Population.CD45_NEGATIVE: (55_000.0, 0.22, 16_000.0, 0.30, 0.8),
    Population.MONOCYTE: (118_000.0, 0.12, 74_000.0, 0.18, 3.0),
    Population.B_CELL: (72_000.0, 0.12, 22_000.0, 0.18, 0.9),
    Population.NK_OTHER: (82_000.0, 0.12, 30_000.0, 0.20, 1.0),
    **{t: (86_000.0, 0.13, 28_000.0, 0.20, 1.0) for t in T_CELLS},
}

# Staining of viable cells: marker -> (median, sd of log10) per population.
_BRIGHT = {
    "CD45": (16_000.0, 0.15),
    "CD3": (12_000.0, 0.18),
    "CD4": (7_000.0, 0.20),
    "CD8": (11_000.0, 0.20),
    "CD19": (9_000.0, 0.20),
    "CAR": (6_000.0, 0.33),
}
_STAINING: dict[Population, dict[str, tuple[float, float]]] = {
    Population.MONOCYTE: {"CD45": (9_000.0, 0.15), "CD4": (900.0, 0.20)},
    Population.B_CELL: {"CD45": (12_000.0, 0.15), "CD19": _BRIGHT["CD19"]},
    Population.NK_OTHER: {"CD45": _BRIGHT["CD45"]},
    Population.T_CD4: {"CD45": _BRIGHT["CD45"], "CD3": _BRIGHT["CD3"], "CD4": _BRIGHT["CD4"]},
    Population.T_CD8: {"CD45": _BRIGHT["CD45"], "CD3": _BRIGHT["CD3"], "CD8": _BRIGHT["CD8"]},
    Population.T_DN: {"CD45": _BRIGHT["CD45"], "CD3": _BRIGHT["CD3"]},
}
for _car, _plain in (
    (Population.T_CD4_CAR, Population.T_CD4),
    (Population.T_CD8_CAR, Population.T_CD8),
    (Population.T_DN_CAR, Population.T_DN),
):
    _STAINING[_car] = {**_STAINING[_plain], "CAR": _BRIGHT["CAR"]}
_NK_CD8_DIM_FRACTION = 0.3
_NK_CD8_DIM = (1_500.0, 0.25)
_DEAD_STAINING_FACTOR = 0.5
_DEAD_VIABILITY = (15_000.0, 0.25)
_DEBRIS_VIABILITY_FRACTION, _DEBRIS_VIABILITY = 0.4, (8_000.0, 0.40)
_DEBRIS_CD45_FRACTION, _DEBRIS_CD45 = 0.3, (1_500.0, 0.50)


@dataclass(frozen=True)
class SimulatedTube:
    """One simulated tube in memory, ready for :func:`cytorelease.flow.fcs_write.write_fcs`.

    ``events`` is float32 (n_events x channels, columns in ``channels`` order); ``labels`` the
    uint8 :class:`Population` code per event; ``qc_segment`` marks the events acquired during the
    clog/burst segment (``qc_window_s`` is its start and end in seconds, None without a clog).
    """

    events: np.ndarray
    channels: tuple[ChannelSpec, ...]
    labels: np.ndarray
    qc_segment: np.ndarray
    spill: Spill
    timestep_s: float
    duration_s: float
    qc_window_s: tuple[float, float] | None
    fmo: bool

    @property
    def n_events(self) -> int:
        return int(self.events.shape[0])


def population_probabilities(params: LotParams) -> np.ndarray:
    """Probability of each :class:`Population` code for one event (sums to 1)."""
    p = np.zeros(len(Population))
    p[Population.DEBRIS] = params.debris_pct / 100
    p[Population.DOUBLET] = params.doublet_pct / 100
    p[Population.CD45_NEGATIVE] = params.cd45_negative_pct / 100
    cells = 1.0 - p.sum()
    viable = cells * params.viability_pct / 100
    p[Population.DEAD] = cells - viable
    p[Population.MONOCYTE] = viable * params.monocyte_pct / 100
    p[Population.B_CELL] = viable * params.cd19_pct / 100
    p[Population.NK_OTHER] = (
        viable * (100 - params.cd3_pct - params.cd19_pct - params.monocyte_pct) / 100
    )
    t_cells = viable * params.cd3_pct / 100
    dn = t_cells * params.dn_pct / 100
    cd4 = (t_cells - dn) * params.cd4_cd8_ratio / (1 + params.cd4_cd8_ratio)
    car = params.car_pct / 100
    for plain, with_car, share in (
        (Population.T_CD4, Population.T_CD4_CAR, cd4),
        (Population.T_CD8, Population.T_CD8_CAR, t_cells - dn - cd4),
        (Population.T_DN, Population.T_DN_CAR, dn),
    ):
        p[plain] = share * (1 - car)
        p[with_car] = share * car
    p = np.clip(p, 0.0, None)
    return p / p.sum()


def simulate_tube(
    n_events: int,
    *,
    seed: int | tuple[int, ...],
    params: LotParams,
    fmo: bool = False,
) -> SimulatedTube:
    """Simulate one tube of the lot ``params`` describe; ``fmo`` leaves out the CAR reagent."""
    if n_events < 1:
        raise InputError(f"a tube needs at least one event, got {n_events}", path="simulate_tube")
    rng = np.random.default_rng(seed)
    p = population_probabilities(params)
    labels = rng.choice(len(Population), size=n_events, p=p).astype(np.uint8)

    fsc_a, fsc_h, ssc_a, true = _singlets(labels, rng, fmo=fmo)
    doublets = np.flatnonzero(labels == Population.DOUBLET)
    if doublets.size:
        _make_doublets(doublets, p, rng, fsc_a, fsc_h, ssc_a, true, fmo=fmo)

    times, qc_window = _acquisition_times(n_events, params, rng)
    qc_segment = (
        (times >= qc_window[0]) & (times < qc_window[1])
        if qc_window
        else np.zeros(n_events, dtype=bool)
    )
    if qc_segment.any():  # unstable flow: cells cross the beam off-centre
        fsc_a[qc_segment] *= 0.82
        fsc_h[qc_segment] *= 0.78
        ssc_a[qc_segment] *= 1.3
        true[qc_segment] *= 0.75

    observed = detect(true, rng)
    scatter_noise = rng.normal(0.0, 250.0, size=(n_events, 3))
    scatter = np.column_stack([fsc_a, fsc_h, ssc_a]) + scatter_noise
    events = np.empty((n_events, len(CHANNELS)), dtype=np.float32)
    events[:, 0:3] = np.clip(scatter, 0.0, _SATURATION)
    events[:, 3 : 3 + len(MARKERS)] = np.clip(observed, None, _SATURATION)
    events[:, -1] = np.floor(times / TIMESTEP_S)
    return SimulatedTube(
        events=events,
        channels=CHANNELS,
        labels=labels,
        qc_segment=qc_segment,
        spill=spill(),
        timestep_s=TIMESTEP_S,
        duration_s=float(times[-1]) if n_events else 0.0,
        qc_window_s=qc_window,
        fmo=fmo,
    )


def _lognormal10(rng: np.random.Generator, median: float, sd_log10: float, n: int) -> np.ndarray:
    return median * 10.0 ** rng.normal(0.0, sd_log10, size=n)


def _singlets(
    labels: np.ndarray, rng: np.random.Generator, *, fmo: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scatter and true fluorescence of every event as if it were a singlet of its label.

    Dead cells take the scatter of dead cells but the staining of a viable cell drawn from the
    viable mix, halved; doublet rows are overwritten later.
    """
    n = labels.size
    fsc_a = np.zeros(n)
    ssc_a = np.zeros(n)
    af_factor = np.ones(n)
    true = np.zeros((n, len(MARKERS)))
    for population, (fsc, fsc_sd, ssc, ssc_sd, af) in _SCATTER.items():
        rows = np.flatnonzero(labels == population)
        if rows.size == 0:
            continue
        fsc_a[rows] = fsc * np.exp(rng.normal(0.0, fsc_sd, rows.size))
        ssc_a[rows] = ssc * np.exp(rng.normal(0.0, ssc_sd, rows.size))
        af_factor[rows] = af

    staining_label = labels.copy()
    dead = np.flatnonzero(labels == Population.DEAD)
    viable_codes = np.array(sorted(_STAINING), dtype=np.uint8)
    if dead.size:
        # Dead cells were mostly T cells in a CAR-T product: draw their lineage from the viable
        # cell types present in this tube, in proportion.
        counts = np.array([np.count_nonzero(labels == c) for c in viable_codes], dtype=float)
        weights = counts / counts.sum() if counts.sum() else np.full(len(counts), 1 / len(counts))
        staining_label[dead] = rng.choice(viable_codes, size=dead.size, p=weights)
    for population, stains in _STAINING.items():
        rows = np.flatnonzero(staining_label == population)
        if rows.size == 0:
            continue
        for marker, (median, sd) in stains.items():
            if marker == "CAR" and fmo:
                continue
            true[rows, _MARKER[marker]] += _lognormal10(rng, median, sd, rows.size)
    nk = np.flatnonzero(staining_label == Population.NK_OTHER)
    dim = nk[rng.uniform(size=nk.size) < _NK_CD8_DIM_FRACTION]
    true[dim, _MARKER["CD8"]] += _lognormal10(rng, *_NK_CD8_DIM, dim.size)
    true[dead] *= _DEAD_STAINING_FACTOR
    true[dead, _MARKER["Viability"]] += _lognormal10(rng, *_DEAD_VIABILITY, dead.size)

    debris = np.flatnonzero(labels == Population.DEBRIS)
    stained = debris[rng.uniform(size=debris.size) < _DEBRIS_VIABILITY_FRACTION]
    true[stained, _MARKER["Viability"]] += _lognormal10(rng, *_DEBRIS_VIABILITY, stained.size)
    stained = debris[rng.uniform(size=debris.size) < _DEBRIS_CD45_FRACTION]
    true[stained, _MARKER["CD45"]] += _lognormal10(rng, *_DEBRIS_CD45, stained.size)

    # Autofluorescence: one per-event factor for all detectors (bigger, granular cells glow more).
    per_event = af_factor * np.exp(rng.normal(0.0, 0.25, n))
    true += per_event[:, None] * _AUTOFLUORESCENCE[None, :]
    fsc_h = fsc_a * 0.86 * np.exp(rng.normal(0.0, 0.035, n))
    return fsc_a, fsc_h, ssc_a, true


def _make_doublets(
    rows: np.ndarray,
    p: np.ndarray,
    rng: np.random.Generator,
    fsc_a: np.ndarray,
    fsc_h: np.ndarray,
    ssc_a: np.ndarray,
    true: np.ndarray,
    *,
    fmo: bool,
) -> None:
    """Overwrite ``rows`` with two cells each, drawn from the lot's cell mix, stuck together."""
    cell_p = p.copy()
    cell_p[[Population.DEBRIS, Population.DOUBLET]] = 0.0
    cell_p /= cell_p.sum()
    partners = rng.choice(len(Population), size=2 * rows.size, p=cell_p).astype(np.uint8)
    a_fsc, a_fsc_h, a_ssc, a_true = _singlets(partners, rng, fmo=fmo)
    first, second = slice(0, rows.size), slice(rows.size, None)
    fsc_a[rows] = a_fsc[first] + a_fsc[second]
    fsc_h[rows] = np.maximum(a_fsc_h[first], a_fsc_h[second]) * (
        1.12 + rng.normal(0.0, 0.04, rows.size)
    )
    ssc_a[rows] = (a_ssc[first] + a_ssc[second]) * 0.95
    true[rows] = a_true[first] + a_true[second]


def detect(
    true: np.ndarray, rng: np.random.Generator, matrix: np.ndarray = SPILLOVER
) -> np.ndarray:
    """Spillover into the detectors (``matrix``, the panel's by default), then electronic and
    photon-counting noise."""
    # observed = true @ matrix, summed in a fixed order without BLAS: BLAS kernels differ by
    # CPU, and the same seed must give the same bytes on every machine.
    observed = np.zeros_like(true)
    for source in range(matrix.shape[0]):
        for detector in np.flatnonzero(matrix[source]):
            observed[:, detector] += true[:, source] * matrix[source, detector]
    variance = _ELECTRONIC_NOISE_SD**2 + _PHOTON_VARIANCE_PER_UNIT * np.clip(observed, 0.0, None)
    return observed + rng.normal(0.0, 1.0, observed.shape) * np.sqrt(variance)


def _acquisition_times(
    n: int, params: LotParams, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Sorted arrival times (s) of ``n`` events, and the clog/burst window if there is one."""
    nominal = n / params.event_rate_per_s
    grid = np.linspace(0.0, nominal, 4001)
    phase = rng.uniform(0, 2 * np.pi)
    rate = (1.08 - 0.16 * grid / nominal) * (1 + 0.04 * np.sin(2 * np.pi * grid / 9.0 + phase))
    window: tuple[float, float] | None = None
    if params.clog and params.clog_fraction > 0:
        width = params.clog_fraction * nominal
        start = float(rng.uniform(0.25, 0.75 - params.clog_fraction) * nominal)
        clog_end = start + 0.4 * width
        rate[(grid >= start) & (grid < clog_end)] *= 0.15
        rate[(grid >= clog_end) & (grid < start + width)] *= 2.5
        window = (round(start, 2), round(start + width, 2))
    # Inverse-CDF sampling of the rate profile, piecewise linear between grid points.
    cdf = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(grid))])
    cdf /= cdf[-1]
    times = np.sort(np.interp(rng.uniform(size=n), cdf, grid))
    # Quantise to the middle of each 10 ms tick: the window's edges are whole ticks, so the QC
    # flags and the Time channel agree exactly.
    times = np.floor(times / TIMESTEP_S) * TIMESTEP_S + TIMESTEP_S / 2
    return times, window
