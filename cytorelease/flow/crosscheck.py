"""The orthogonal check of gates by clusters: CD3+ and CAR+ fractions from FlowSOM vs the gates.

The template's ``cross_check`` section names the markers to cluster on, the map (grid,
metaclusters, seed) and the gated populations to check, each with the largest difference
(percentage points) it tolerates. The events of the populations' common parent (e.g. viable
CD45+ singlets) are clustered on the template's own compensation and transforms, so cluster
medians sit on the scale the gates' thresholds were placed on.

Each cluster (a SOM node by default; or a metacluster) is called positive or negative for a
checked gate's marker from the cluster medians of the events in the gate's parent:

- ``SPLIT`` (default): the clusters' medians are split in two by Otsu's criterion (weighted by
  events); when the two sides' means lie at least ``min_separation`` apart (transformed units),
  the side the gate keeps is positive. The clusters, not the gate, decide where the line is,
  so a threshold placed in the wrong valley, or through the middle of a population, shows up.
  When the medians form one group (no population on one side), each cluster is called by its
  median against the gate's threshold.
- ``THRESHOLD``: the cluster median against the gate's threshold.
- ``MAJORITY``: positive when most of the cluster's events lie inside the gate.

A checked gate whose parent is also checked is estimated within its parent's cluster estimate
(CAR+ % of cluster-CD3+), so the cluster fractions never borrow a gate's membership.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.cluster import FlowSOMResult, fit_flowsom
from cytorelease.flow.compensation import SpilloverMatrix, compensate, sample_spillover
from cytorelease.flow.gating.pipeline import resolve_markers
from cytorelease.flow.gating.result import GatingResult
from cytorelease.flow.gating.template_model import (
    CompensationSource,
    CrossCheckPopulation,
    Side,
    Template,
)
from cytorelease.flow.grouped import group_medians
from cytorelease.flow.sample import Sample
from cytorelease.provenance import software

__all__ = [
    "DEFAULT_MIN_SEPARATION",
    "ClusterLevel",
    "CrossCheckResult",
    "Labelling",
    "PopulationCheck",
    "compare_with_clusters",
    "cross_check",
]

DEFAULT_MIN_SEPARATION = 0.15  # on a 0..1 logicle scale (M=4.5): about 0.7 decades


class Labelling(StrEnum):
    SPLIT = "split"
    THRESHOLD = "threshold"
    MAJORITY = "majority"


class ClusterLevel(StrEnum):
    NODE = "node"
    METACLUSTER = "metacluster"


@dataclass(frozen=True)
class PopulationCheck:
    """One gated population: its gate's % of parent, the clusters' estimate, and the verdict."""

    gate: str
    parent: str
    marker: str
    gate_pct: float
    cluster_pct: float
    difference_pct: float  # cluster - gate, percentage points
    max_difference_pct: float
    flagged: bool
    call: str  # how the clusters were called: "split" | "threshold" | "majority"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "parent": self.parent,
            "marker": self.marker,
            "gate_pct": self.gate_pct,
            "cluster_pct": self.cluster_pct,
            "difference_pct": self.difference_pct,
            "max_difference_pct": self.max_difference_pct,
            "flagged": self.flagged,
            "call": self.call,
        }


@dataclass(frozen=True)
class CrossCheckResult:
    """Every checked population, the clustered population (gate id) and the clustering."""

    populations: tuple[PopulationCheck, ...]
    clustered: str
    clustering: FlowSOMResult
    labelling: Labelling
    level: ClusterLevel
    template: Mapping[str, str]  # id, version, sha256 of the gating template
    sample_sha256: str

    @property
    def flagged(self) -> bool:
        return any(p.flagged for p in self.populations)

    def population(self, gate: str) -> PopulationCheck:
        for p in self.populations:
            if p.gate == gate:
                return p
        raise KeyError(gate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "template": dict(self.template),
            "sample_sha256": self.sample_sha256,
            "software": software(),
            "clustered": self.clustered,
            "events": self.clustering.n_events,
            "labelling": self.labelling.value,
            "level": self.level.value,
            "grid": list(self.clustering.grid),
            "metaclusters": self.clustering.n_metaclusters,
            "seed": self.clustering.seed,
            "populations": [p.to_dict() for p in self.populations],
        }


def template_matrix(
    sample: Sample,
    template: Template,
    keys: Sequence[str],
    channels: Mapping[str, str],
    events: np.ndarray,
) -> np.ndarray:
    """The markers ``keys`` of the selected events, compensated and transformed as the template
    gates them (float32, events x markers)."""
    rows = sample.scaled_events()[events] if _needs_scaling(sample) else sample.events[events]
    names = sample.channel_names
    comp = template.compensation
    spill: SpilloverMatrix | None = None
    if comp.source is CompensationSource.FILE:
        spill = sample_spillover(sample)
    elif comp.source is CompensationSource.MATRIX:
        detectors = tuple(
            channels.get(c) or names[sample.channel_index(c)] for c in comp.channels or ()
        )
        spill = SpilloverMatrix("template", detectors, detectors, np.asarray(comp.matrix))
    values = compensate(rows, names, spill) if spill is not None else np.asarray(rows, np.float64)
    out = np.empty((len(events), len(keys)), dtype=np.float32)
    for column, key in enumerate(keys):
        raw = values[:, names.index(channels[key])]
        spec = template.transforms.get(key)
        out[:, column] = spec.build().apply(raw) if spec is not None else raw
    return out


def _needs_scaling(sample: Sample) -> bool:
    return any(c.log_decades > 0 or c.gain not in (0.0, 1.0) for c in sample.channels)


def _otsu(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted Otsu split of 1-D values: (split value, distance between the two sides' means)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order].astype(np.float64)
    if v.size < 2 or v[0] == v[-1]:
        return float(v[0]) if v.size else 0.0, 0.0
    cw, cs = np.cumsum(w)[:-1], np.cumsum(w * v)[:-1]
    total_w, total_s = w.sum(), (w * v).sum()
    low_mean = cs / cw
    high_mean = (total_s - cs) / (total_w - cw)
    between = cw * (total_w - cw) * (high_mean - low_mean) ** 2
    between[v[1:] == v[:-1]] = -1.0  # split only between distinct values
    best = int(np.argmax(between))
    return float((v[best] + v[best + 1]) / 2), float(high_mean[best] - low_mean[best])


def _gate_threshold(
    gating: GatingResult, template: Template, gate: str, where: str
) -> tuple[str, float | None, Side]:
    spec = template.gate(gate)
    placed = {p.id: p for p in gating.placed}[gate]
    marker = placed.details.get("marker")
    side = getattr(spec, "side", None)
    if marker is None or side is None:
        raise TemplateError(
            f"{where}: gate {gate!r} ({spec.kind.value}) is not a one-marker threshold gate; "
            "the cross-check compares threshold gates (density_valley, control_percentile)",
            path=template.source,
        )
    return marker, placed.details.get("threshold"), side


def compare_with_clusters(
    gating: GatingResult,
    template: Template,
    clustering: FlowSOMResult,
    data: np.ndarray,
    events: np.ndarray,
    *,
    clustered: str,
    populations: Sequence[CrossCheckPopulation],
    labelling: Labelling = Labelling.SPLIT,
    level: ClusterLevel = ClusterLevel.NODE,
    min_separation: float = DEFAULT_MIN_SEPARATION,
) -> tuple[PopulationCheck, ...]:
    """Compare each population's gate % with the clusters' estimate (see the module text).

    ``data`` and ``events``: the clustered matrix (columns = ``clustering.markers``, marker
    keys) and the indices of its rows among the sample's events.
    """
    if level is ClusterLevel.NODE:
        units, n_units = clustering.node_of_event, clustering.codes.shape[0]
    else:
        units, n_units = clustering.metacluster_of_event, clustering.n_metaclusters
    percent = {row.gate_id: row.percent_of_parent for row in gating.rows}
    positive_sets: dict[str, np.ndarray] = {}
    checks = []
    for index, pop in enumerate(populations):
        where = f"cross_check.populations[{index}].gate"
        marker, threshold, side = _gate_threshold(gating, template, pop.gate, where)
        parent = template.gate(pop.gate).parent or clustered
        if parent == clustered:
            in_parent = np.ones(events.size, dtype=bool)
        elif parent in positive_sets:
            in_parent = positive_sets[parent]
        else:
            in_parent = np.asarray(gating.membership[parent])[events]
        weights = np.bincount(units[in_parent], minlength=n_units)
        column = list(clustering.markers).index(marker)
        medians = group_medians(data[:, column : column + 1], units, n_units)[:, 0]
        call = labelling
        positive = np.zeros(n_units, dtype=bool)
        if labelling is Labelling.MAJORITY:
            inside = np.asarray(gating.membership[pop.gate])[events] & in_parent
            positive = 2 * np.bincount(units[inside], minlength=n_units) > weights
        else:
            present = weights > 0
            split, separation = _otsu(medians[present], weights[present])
            cut = split if labelling is Labelling.SPLIT and separation >= min_separation else None
            if cut is None:
                call, cut = Labelling.THRESHOLD, threshold
            if cut is not None:
                positive = medians > cut if side is Side.ABOVE else medians < cut
        in_gate = in_parent & positive[units]
        positive_sets[pop.gate] = in_gate
        n_parent = int(in_parent.sum())
        cluster_pct = 100.0 * int(in_gate.sum()) / n_parent if n_parent else float("nan")
        gate_pct = float(percent[pop.gate])
        difference = cluster_pct - gate_pct
        checks.append(
            PopulationCheck(
                gate=pop.gate,
                parent=parent,
                marker=marker,
                gate_pct=gate_pct,
                cluster_pct=cluster_pct,
                difference_pct=difference,
                max_difference_pct=pop.max_difference_pct,
                flagged=not abs(difference) <= pop.max_difference_pct,  # NaN flags
                call=call.value,
            )
        )
    return tuple(checks)


def _clustered_population(template: Template, populations: Sequence[CrossCheckPopulation]) -> str:
    checked = {p.gate for p in populations}
    roots = {template.gate(g).parent for g in checked} - checked
    if len(roots) != 1 or None in roots:
        raise TemplateError(
            "cross_check.populations: the checked gates must share one parent population outside "
            f"the checked set (found: {', '.join(sorted(str(r) for r in roots))})",
            path=template.source,
        )
    return str(next(iter(roots)))


def cross_check(
    gating: GatingResult,
    template: Template,
    *,
    labelling: Labelling = Labelling.SPLIT,
    level: ClusterLevel = ClusterLevel.NODE,
    min_separation: float = DEFAULT_MIN_SEPARATION,
    populations: Sequence[CrossCheckPopulation] | None = None,
) -> CrossCheckResult:
    """Cluster the checked gates' parent population and compare each gate with the clusters.

    ``populations`` overrides the template's list of gates and tolerances.
    """
    spec = template.cross_check
    if spec is None:
        raise TemplateError(
            f"template {template.id!r} has no cross_check section",
            path=template.source,
            hint="add cross_check: {markers: [...], populations: [{gate: ..., "
            "max_difference_pct: 5.0}]}",
        )
    checked = list(populations) if populations is not None else list(spec.populations)
    order = {g.id: i for i, g in enumerate(template.ordered_gates())}
    checked.sort(key=lambda p: order[p.gate])  # parents before children
    clustered = _clustered_population(template, checked)
    channels = resolve_markers(template, gating.sample)
    keys = list(spec.markers)
    for pop in checked:  # every checked gate's marker must be clustered on
        marker = _gate_threshold(gating, template, pop.gate, "cross_check.populations")[0]
        if marker not in keys:
            keys.append(marker)
    events = np.flatnonzero(gating.membership[clustered])
    data = template_matrix(gating.sample, template, keys, channels, events)
    clustering = fit_flowsom(
        data, markers=keys, grid=spec.grid, metaclusters=spec.metaclusters, seed=spec.seed
    )
    checks = compare_with_clusters(
        gating,
        template,
        clustering,
        data,
        events,
        clustered=clustered,
        populations=checked,
        labelling=labelling,
        level=level,
        min_separation=min_separation,
    )
    return CrossCheckResult(
        checks, clustered, clustering, labelling, level, gating.template, gating.sample.sha256
    )
