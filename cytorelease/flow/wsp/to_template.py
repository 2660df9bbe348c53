"""A workspace's sample or group as a versioned cytorelease gating template (``flow
wsp-import``): fixed gates on the same display scales, so gating with the template counts
what gating with the workspace counts.

Channels become markers found by label: a marker's channels are the $PnS label FlowJo read
(when there is one) and then the detector's $PnN, so the template serves a cytometer whose
detectors are named otherwise but whose tubes carry the same labels. Gate ids are the gates'
names made into ids (``CD4+`` -> ``CD4pos``), lengthened by their parents' names only where
two gates would share one (``CD4pos.IFNgpos``, ``CD8pos.IFNgpos``); each keeps its FlowJo name.
What a template cannot say the way the workspace does is refused by name: one channel on two
scales, one channel read both compensated and as acquired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cytorelease.errors import TemplateError
from cytorelease.flow.gating.dimensions import Dimension
from cytorelease.flow.gating.gates import BooleanGate, EllipsoidGate, PolygonGate, RectangleGate
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.transforms import (
    AsinhTransform,
    LinearTransform,
    LogicleTransform,
    Transform,
)
from cytorelease.flow.transforms_flowjo import FlowJoBiexTransform, FlowJoLogTransform
from cytorelease.flow.wsp.convert import GatingSource, to_strategy
from cytorelease.flow.wsp.limits import shortened
from cytorelease.flow.wsp.model import Workspace, WspSample
from cytorelease.flow.wsp.parse import read_workspace
from cytorelease.flow.wsp.select import group_source, sample_source

__all__ = ["ImportedTemplate", "import_workspace", "workspace_template"]

_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ImportedTemplate:
    """The template document, and the FlowJo path each of its gate ids stands for."""

    document: dict[str, Any]
    gate_paths: dict[str, str]
    source: str  # "sample 'X'" or "group 'Y'"


def _slug(text: str) -> str:
    text = text.replace("+", "pos").replace("&", "and")
    text = _NOT_ID.sub("_", text.strip()).strip("_") or "gate"
    return text if text[0].isalpha() else f"g_{text}"


def _gate_ids(paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """Each path's shortest tail of names (made ids, joined by '.') no other path shares."""
    slugs = {p: [_slug(n) for n in p] for p in paths}
    ids: dict[tuple[str, ...], str] = {}
    for path in paths:
        for length in range(1, len(path) + 1):
            tail = ".".join(slugs[path][-length:])
            clash = any(
                ".".join(slugs[other][-length:]) == tail for other in paths if other != path
            )
            if not clash or length == len(path):
                ids[path] = tail
                break
    if len(set(ids.values())) != len(ids):
        raise TemplateError("two gates' names make the same template id; rename one in FlowJo")
    return ids


def _transform_spec(transform: Transform) -> dict[str, Any]:
    if isinstance(transform, LinearTransform):
        return {"kind": "linear", "t": transform.T, "a": transform.A}
    if isinstance(transform, LogicleTransform):
        return {"kind": "logicle", "t": transform.T, "w": transform.W, "m": transform.M,
                "a": transform.A}  # fmt: skip
    if isinstance(transform, AsinhTransform):
        return {"kind": "asinh", "t": transform.T, "m": transform.M, "a": transform.A}
    if isinstance(transform, FlowJoLogTransform):
        return {"kind": "flowjo_log", "offset": transform.offset, "decades": transform.decades}
    if isinstance(transform, FlowJoBiexTransform):
        return {"kind": "flowjo_biex", "t": transform.max_range, "negative": transform.negative,
                "width_basis": transform.width, "positive": transform.positive}  # fmt: skip
    raise TemplateError(f"a template has no form for the transform {transform.describe()}")


class _Markers:
    """The markers of the template, one per channel the gates read."""

    def __init__(self, keywords: dict[str, str], label: str) -> None:
        count = int(keywords.get("$PAR", "0") or 0)
        self.labels = {
            keywords.get(f"$P{i}N", ""): keywords.get(f"$P{i}S", "").strip()
            for i in range(1, count + 1)
        }
        self.where = label
        self.keys: dict[str, str] = {}
        self.dimensions: dict[str, Dimension] = {}

    def key(self, dim: object, gate: str) -> str:
        if not isinstance(dim, Dimension):
            raise TemplateError(f"{self.where} gate {gate!r}: a ratio dimension")
        seen = self.dimensions.setdefault(dim.channel, dim)
        if seen.transform != dim.transform:
            raise TemplateError(
                f"{self.where} gate {gate!r}: channel {dim.channel!r} is on two scales "
                "in this tree; a template gives each marker one"
            )
        if (seen.compensation is None) != (dim.compensation is None):
            raise TemplateError(
                f"{self.where} gate {gate!r}: channel {dim.channel!r} is read both compensated "
                "and as acquired; a template compensates a marker or not"
            )
        if dim.channel not in self.keys:
            label = self.labels.get(dim.channel, "")
            key = _slug(label or dim.channel)
            taken = set(self.keys.values())
            base, n = key, 1
            while key in taken:
                n += 1
                key = f"{base}_{n}"
            self.keys[dim.channel] = key
        return self.keys[dim.channel]

    def specs(self) -> list[dict[str, Any]]:
        out = []
        for channel, key in self.keys.items():
            label = self.labels.get(channel, "")
            channels = [label, channel] if label and label != channel else [channel]
            out.append({"key": key, "channels": channels, "description": f"FlowJo {channel}"})
        return out


def _gate_spec(gate: object, ids: dict[str, str], markers: _Markers) -> dict[str, Any]:
    gate_id = getattr(gate, "id", "")
    parent = getattr(gate, "parent", None)
    spec: dict[str, Any] = {"id": ids[gate_id], "name": gate_id.rsplit("/", 1)[-1]}
    if parent is not None:
        spec["parent"] = ids[parent]
    if isinstance(gate, RectangleGate):
        dims = []
        for dim, (lo, hi) in zip(gate.dimensions, gate.ranges, strict=True):
            entry: dict[str, Any] = {"marker": markers.key(dim, gate_id)}
            entry.update({k: v for k, v in (("min", lo), ("max", hi)) if v is not None})
            dims.append(entry)
        spec.update(kind="rectangle", dimensions=dims)
    elif isinstance(gate, PolygonGate):
        x, y = (markers.key(d, gate_id) for d in gate.dimensions)
        spec.update(kind="polygon", x=x, y=y, vertices=[list(v) for v in gate.vertices])
    elif isinstance(gate, EllipsoidGate):
        x, y = (markers.key(d, gate_id) for d in gate.dimensions)
        spec.update(kind="ellipse", x=x, y=y, mean=list(gate.mean),
                    covariance=[list(r) for r in gate.covariance],
                    distance_square=gate.distance_square)  # fmt: skip
    elif isinstance(gate, BooleanGate):
        spec.update(kind="boolean", op=gate.op.value, of=[ids[r] for r in gate.references])
    else:
        raise TemplateError(f"gate {gate_id!r}: a template has no fixed form for it")
    return spec


def _compensation(source: GatingSource, markers: _Markers) -> dict[str, Any]:
    compensated = [c for c, d in markers.dimensions.items() if d.compensation is not None]
    matrix = source.matrix
    if not compensated or matrix is None:
        return {"source": "none"}
    acquired = [c for c, d in markers.dimensions.items() if d.compensation is None]
    mixed = [c for c in acquired if c in matrix.detectors]
    if mixed:
        raise TemplateError(
            f"{source.label}: channel {mixed[0]!r} is gated as acquired while the matrix "
            "covers it; a template compensates every channel its matrix names"
        )
    if matrix.acquisition_defined:
        return {"source": "file"}
    return {
        "source": "matrix",
        "channels": [markers.keys.get(d, d) for d in matrix.detectors],
        "matrix": [[float(v) for v in row] for row in matrix.matrix],
    }


def workspace_template(
    path: str | Path, *, sample: str | None = None, group: str | None = None
) -> ImportedTemplate:
    """The template for ``sample``'s tree or ``group``'s (exactly one of them)."""
    path = Path(path)
    if (sample is None) == (group is None):
        raise TemplateError("name exactly one of a sample and a group", path=path)
    workspace = read_workspace(path)
    try:
        if group is not None:
            source, found = group_source(workspace, group)
        else:
            source, found = sample_source(workspace, sample)
        if not source.nodes:
            raise TemplateError(f"{source.label} holds no gates")
        strategy = to_strategy(source)
        return _document(path, workspace, source, strategy, found or _first(workspace, group))
    except TemplateError as error:
        raise shortened(error.with_path(path)) from None


def _first(workspace: Workspace, group: str | None) -> WspSample:
    found = workspace.group(group or "")
    members = [workspace.sample_by_id(i) for i in (found.sample_ids if found else ())]
    sample = next((s for s in members if s is not None), None)
    assert sample is not None  # group_source refuses a group without samples
    return sample


def _document(
    path: Path,
    workspace: Workspace,
    source: GatingSource,
    strategy: GatingStrategy,
    sample: WspSample,
) -> ImportedTemplate:
    keys = list(strategy.population_ids)
    order = [n.key for n in source.nodes_in_order()]
    by_path = _gate_ids([tuple(k.split("/")) for k in order])
    ids = {k: by_path[tuple(k.split("/"))] for k in keys}
    markers = _Markers(sample.keywords, source.label)
    gates = [_gate_spec(strategy.population(k), ids, markers) for k in order]
    transforms = {
        markers.keys[c]: _transform_spec(d.transform)
        for c, d in markers.dimensions.items()
        if d.transform is not None
    }
    which = source.label.split(" ", 1)[1].strip("'\"").removesuffix(".fcs")
    document: dict[str, Any] = {
        "schema_version": 1,
        "id": _slug(f"{path.stem}-{which}")[:80],
        "version": "1",
        "description": (
            f"Imported from FlowJo workspace {path.name} ({source.label}; FlowJo "
            f"{workspace.flowjo_version or 'unknown'}; sha256 {workspace.sha256}) by "
            "cytorelease flow wsp-import: fixed gates on FlowJo's display scales."
        ),
        "markers": markers.specs(),
        "transforms": transforms,
        "compensation": _compensation(source, markers),
        "min_events": 0,
        "gates": gates,
    }
    return ImportedTemplate(document, {ids[k]: k for k in order}, source.label)


def import_workspace(
    path: str | Path, out: str | Path, *, sample: str | None = None, group: str | None = None
) -> ImportedTemplate:
    """Write the template to ``out`` after loading it back with the template loader (a
    template that would not load is never written)."""
    from cytorelease.flow.gating.template import parse_template

    imported = workspace_template(path, sample=sample, group=group)
    text = yaml.safe_dump(imported.document, sort_keys=False, width=100, allow_unicode=True)
    parse_template(text, path=out)
    Path(out).write_text(text, encoding="utf-8")
    return imported
