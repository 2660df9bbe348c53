"""Synthetic FCS files for a workspace sample whose own FCS files are not published.

FlowKit's 8-colour ICS workspaces come without their FCS files in its repository (they are
stored outside git), so tests write a file with the sample's channels, $SPILLOVER and $FIL,
whose events sit on purpose inside and around every gate: each event follows a random path
down the tree, placed inside each gate on it (a random point of a rectangle, a random convex
combination of a polygon's vertices, a random point of an ellipse) and, with some chance,
anywhere on the axes instead. Both cytorelease and FlowKit then gate the same events; the
events' design only makes the comparison cover every gate, it decides no count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.gating.gates import EllipsoidGate, PolygonGate, RectangleGate
from cytorelease.flow.sample import Spill
from cytorelease.flow.wsp.convert import to_strategy
from cytorelease.flow.wsp.model import WspSample
from cytorelease.flow.wsp.parse import read_workspace
from cytorelease.flow.wsp.select import sample_source


def _point_in(gate: object, rng: np.random.Generator) -> dict[str, float] | None:
    """A random point inside a gate, on its dimensions' display scales, by channel."""
    if isinstance(gate, RectangleGate):
        values = []
        for lo, hi in gate.ranges:
            low = lo if lo is not None else (hi or 0.0) - 0.2
            high = hi if hi is not None else (lo or 0.0) + 0.2
            values.append(rng.uniform(low, high))
    elif isinstance(gate, PolygonGate):
        weights = rng.dirichlet(np.ones(len(gate.vertices)) * 0.5)
        values = list(weights @ np.asarray(gate.vertices))
    elif isinstance(gate, EllipsoidGate):
        angle, radius = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1.3))
        root = np.linalg.cholesky(np.asarray(gate.covariance))
        values = list(
            np.asarray(gate.mean) + root @ (radius * np.array([np.cos(angle), np.sin(angle)]))
        )
    else:
        return None
    return {str(d.label): v for d, v in zip(gate.dimensions, values, strict=True)}


def write_sample_events(
    wsp: Path,
    sample_name: str,
    out: Path,
    *,
    events: int = 20_000,
    seed: int = 0,
    fil: str | None = None,
) -> Path:
    """Write ``out``: the sample's channels (its $PnN keywords up to $PAR), $SPILLOVER and
    ``$FIL`` (the sample's name unless given), events designed to cover every gate."""
    workspace = read_workspace(wsp)
    source, sample = sample_source(workspace, sample_name)
    strategy = to_strategy(source)
    channels = _channels(sample)
    rng = np.random.default_rng(seed)
    display: dict[str, np.ndarray] = {c: rng.uniform(-0.05, 1.0, events) for c in channels}
    children: dict[str | None, list[str]] = {}
    for gate_id in strategy.population_ids:
        children.setdefault(strategy.population(gate_id).parent, []).append(gate_id)
    transforms = {
        d.label: d.transform
        for g in strategy.population_ids
        for d in strategy.population(g).dimensions
    }
    for event in range(events):
        current: str | None = None
        while children.get(current):
            current = children[current][rng.integers(len(children[current]))]
            point = _point_in(strategy.population(current), rng)
            if point is None or rng.uniform() < 0.1:
                break
            for channel, value in point.items():
                display[channel][event] = value
    data = np.empty((events, len(channels)), dtype=np.float64)
    for index, channel in enumerate(channels):
        transform = transforms.get(channel)
        values = display[channel]
        data[:, index] = values * 262144.0 if transform is None else transform.inverse(values)
    spill = _spill(sample, channels)
    if spill is not None:
        # the gates see compensated values: observed = true @ S on the matrix's detectors
        columns = [channels.index(c) for c in spill.channels]
        data[:, columns] = data[:, columns] @ spill.matrix
    timestep = float(sample.keywords.get("$TIMESTEP", "1") or 1)
    if "Time" in channels:
        data[:, channels.index("Time")] /= timestep
    keywords = {"$FIL": fil or sample.name}
    if "$TIMESTEP" in sample.keywords:
        keywords["$TIMESTEP"] = sample.keywords["$TIMESTEP"]
    write_fcs(
        out,
        data.astype(np.float32),
        [ChannelSpec(c, range=262144.0) for c in channels],
        keywords=keywords,
        spill=spill,
    )
    return out


def _channels(sample: WspSample) -> list[str]:
    # FlowJo lists its compensated copies (Comp-...) among the keywords; the file has none
    prefix = sample.matrix.prefix if sample.matrix is not None else None
    count = int(sample.keywords.get("$PAR", "0"))
    names = [sample.keywords[f"$P{i}N"] for i in range(1, count + 1)]
    return [n for n in names if not (prefix and n.startswith(prefix))]


def _spill(sample: WspSample, channels: list[str]) -> Spill | None:
    if sample.matrix is None:
        return None
    return Spill(tuple(sample.matrix.detectors), np.array(sample.matrix.matrix, dtype=np.float64))
