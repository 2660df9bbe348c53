"""Apply a gating template to a stained tube (and its control tube): place every gate on the
sample's own data, count the populations, flag what cannot be trusted, report measurements.

The placed gates are gates of the engine's model (:mod:`cytorelease.flow.gating.gates`) read
through the same event source a :class:`~cytorelease.flow.gating.strategy.GatingStrategy` uses,
so the strategy in the result, exported as GatingML, gives the same counts in any compliant
tool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import FCS_SPILL_ID, SpilloverMatrix
from cytorelease.flow.gating._placers import PLACERS, PlacedGate, PlacementContext
from cytorelease.flow.gating.compensation_source import (
    Compensation,
    ControlSet,
    resolve_compensation,
)
from cytorelease.flow.gating.dimensions import Dimension, RecentValues
from cytorelease.flow.gating.events import SampleEvents
from cytorelease.flow.gating.measure import template_measurements
from cytorelease.flow.gating.nonfinite import expand_memberships, screen_nonfinite
from cytorelease.flow.gating.preprocess import preprocessed_events
from cytorelease.flow.gating.result import (
    Flag,
    FlagCode,
    GatingResult,
    PopulationRow,
    population_rows,
)
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.gating.template_model import (
    ControlPercentileGateSpec,
    GateKind,
    Template,
    TimeQCGateSpec,
)
from cytorelease.flow.qc import Saturation, saturation
from cytorelease.flow.sample import Channel, Sample

__all__ = ["gate_sample", "resolve_markers"]

_LABEL_TOKENS = re.compile(r"[\s_/():]+")


def _label_tokens(label: str | None) -> set[str]:
    """Whole words of a $PnS label ("CD3 BV421" -> cd3, bv421); '-' is kept inside a word so
    a reagent such as "CD19-Fc" never reads as the marker CD19."""
    return {t for t in _LABEL_TOKENS.split(label.casefold()) if t} if label else set()


def resolve_markers(template: Template, sample: Sample) -> dict[str, str]:
    """Marker key -> the file's $PnN: by $PnS label or alias (case-insensitive), then by $PnN,
    then by a whole word of the label (labels that also name the fluorochrome, "CD3 BV421")."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for marker in template.markers:
        wanted = [alias.casefold() for alias in marker.channels]
        by_label = [c for c in sample.channels if c.label and c.label.casefold() in wanted]
        by_name = [c for c in sample.channels if c.name.casefold() in wanted]
        by_word = [c for c in sample.channels if _label_tokens(c.label) & set(wanted)]
        matches = by_label or by_name or by_word
        if not matches:
            missing.append(f"{marker.key} ({' / '.join(marker.channels)})")
            continue
        if len({c.index for c in matches}) > 1:
            names = ", ".join(_describe(c) for c in matches)
            raise TemplateError(
                f"template {template.id!r} marker {marker.key!r} matches several channels: {names}",
                path=sample.path,
                hint="give the marker a more specific label or channel name in the template",
            )
        found[marker.key] = matches[0].name
    if missing:
        raise TemplateError(
            f"template {template.id!r} needs markers this file lacks: {', '.join(missing)}",
            path=sample.path,
            hint="the file's channels are: " + ", ".join(_describe(c) for c in sample.channels),
        )
    return found


def _describe(channel: Channel) -> str:
    return f"{channel.name} ({channel.label})" if channel.label else channel.name


@dataclass
class _Pass:
    """One sample gated with one template: engine gates, memberships, flags."""

    sample: Sample
    source: RecentValues
    dimensions: dict[str, Dimension]
    spill_id: str | None
    spill: SpilloverMatrix | None
    compensation: Compensation
    memberships: dict[str, np.ndarray] = field(default_factory=dict)
    placed: dict[str, PlacedGate] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)


def _prepare(
    template: Template, sample: Sample, markers: Mapping[str, str], compensation: Compensation
) -> _Pass:
    flags: list[Flag] = list(compensation.flags)
    spill_id, spill = compensation.spill_id, compensation.matrix
    covered = set(spill.fluorochromes) if spill is not None else set()
    transforms = {}
    for key, spec in template.transforms.items():
        try:
            transforms[key] = spec.build()
        except TemplateError as error:  # the transform's own rules, or it cannot be evaluated
            raise TemplateError(
                f"transforms.{key}: {error.problem}",
                path=template.source or template.id,
                hint=error.hint,
            ) from None
    dimensions = {
        key: Dimension(
            channel,
            transform=transforms.get(key),
            compensation=spill_id if channel in covered else None,
        )
        for key, channel in markers.items()
    }
    memberships: dict[str, np.ndarray] = {}
    source = SampleEvents(
        sample,
        {spill.id: spill} if spill is not None and spill.id != FCS_SPILL_ID else {},
        events=preprocessed_events(sample),
        membership=memberships.__getitem__,
    )
    if spill is not None and spill.fluorochromes:
        # Compensate now, before any column is cached: the solve's temporaries are the largest
        # allocation of a run, and nothing else should be alive beside them.
        source.channel_values(spill.fluorochromes[0], spill_id)
    return _Pass(
        sample,
        RecentValues(source),
        dimensions,
        spill_id,
        spill,
        compensation,
        memberships,
        flags=flags,
    )


def _run(
    template: Template,
    state: _Pass,
    *,
    only: set[str] | None = None,
    control: _Pass | None = None,
) -> None:
    """Place and apply every gate (or those in ``only``), parents first."""
    n = state.sample.event_count

    def control_values(gate_id: str, marker: str) -> np.ndarray | None:
        if control is None:
            return None
        parent = template.gate(gate_id).parent
        mask = None if parent is None else control.memberships.get(parent)
        if parent is not None and mask is None:
            return None
        values = control.dimensions[marker].values(control.source)
        return values if mask is None else values[mask]

    for spec in template.ordered_gates():
        if only is not None and spec.id not in only:
            continue
        needs = [spec.parent] if spec.parent else []
        needs += spec.references()
        unplaced = [g for g in needs if g in state.placed and not state.placed[g].placed]
        if unplaced:
            placed = PlacedGate(
                spec.id, spec.kind, reason=f"gate {unplaced[0]!r} it depends on was not placed"
            )
        else:
            parent_mask = None if spec.parent is None else state.memberships[spec.parent]
            context = PlacementContext(
                state.source, state.dimensions, parent_mask, state.memberships, control_values
            )
            placed = PLACERS[spec.kind](spec, context)
        state.placed[spec.id] = placed
        if not placed.placed:
            state.memberships[spec.id] = np.zeros(n, dtype=bool)
            state.flags.append(
                Flag(FlagCode.NOT_PLACED, spec.id, f"gate {spec.id!r} not placed: {placed.reason}")
            )
            continue
        state.flags += [Flag(FlagCode.FALLBACK_RULE, spec.id, note) for note in placed.notes]
        for gate in placed.gates:
            inside = gate.apply(state.source)
            state.memberships[gate.id] = inside if parent_mask is None else inside & parent_mask


def _control_needs(template: Template) -> set[str]:
    """Gates the control tube must be gated with: ancestors of control-tube thresholds."""
    needed: set[str] = set()
    pending = [
        g.parent
        for g in template.gates
        if isinstance(g, ControlPercentileGateSpec) and g.reference is None and g.parent
    ]
    while pending:
        gate_id = pending.pop()
        if gate_id in needed:
            continue
        needed.add(gate_id)
        spec = template.gate(gate_id)
        pending += [*([spec.parent] if spec.parent else []), *spec.references()]
    return needed


def _check_same_panel(
    stained: Sample, control: Sample, template: Template, ours: Mapping[str, str]
) -> Mapping[str, str]:
    theirs = resolve_markers(template, control)
    differing = [f"{k}: {ours[k]} vs {theirs[k]}" for k in ours if theirs[k] != ours[k]]
    if differing:
        raise TemplateError(
            f"the control tube is from another panel than {stained.path.name}: markers sit on "
            f"other channels ({'; '.join(differing)})",
            path=control.path,
            hint="use the control tube acquired with the same panel and instrument settings",
        )
    return theirs


def gate_sample(
    sample: Sample,
    template: Template,
    *,
    control: Sample | None = None,
    compensation_controls: ControlSet | None = None,
) -> GatingResult:
    """Place the template's gates on ``sample`` (thresholds from ``control`` where it says so).

    ``compensation_controls``: the lot's single-stain and unstained tubes, for a template whose
    compensation is ``source: controls`` (and only then); the matrix is estimated from them.

    Events with NaN/+-inf in a channel the gates read are never placed or gated (see
    :mod:`~cytorelease.flow.gating.nonfinite`); memberships still have one entry per event.
    """
    markers = resolve_markers(template, sample)
    screened = screen_nonfinite(template, sample, markers)
    nonfinite_flags = list(screened.flags)
    nonfinite_details = {"action": template.nonfinite_events.value, **screened.to_dict()}
    if control is not None:
        screened_control = screen_nonfinite(template, control, markers, "control tube: ")
        nonfinite_flags += screened_control.flags
        nonfinite_details["control"] = screened_control.to_dict()
    gated = screened.gated
    control_pass: _Pass | None = None
    compensation = resolve_compensation(template, gated, markers, controls=compensation_controls)
    state = _prepare(template, gated, markers, compensation)  # the big tube first: alone
    if control is not None and _control_needs(template):
        control_markers = _check_same_panel(sample, control, template, markers)
        control_gated = screened_control.gated
        control_pass = _prepare(
            template,
            control_gated,
            control_markers,
            compensation.for_control_tube(template, control_gated, control_markers),
        )
        _run(template, control_pass, only=_control_needs(template))
    _run(template, state, control=control_pass)
    if control_pass is not None:
        state.flags += [
            Flag(f.code, f.gate, f"control tube: {f.message}") for f in control_pass.flags
        ]
    memberships = expand_memberships(state.memberships, screened, [g.id for g in template.gates])
    populations = _population_table(template, memberships, screened.denominator)
    state.flags += _low_count_flags(template, populations)
    qc_flags = [
        Flag(
            FlagCode.ACQUISITION_QC,
            p.id,
            f"acquisition QC removed {p.details['removed_pct']:.2f} %"
            f" of events ({p.details['removed_segments']} of {p.details['segments']} segments)",
        )
        for p in state.placed.values()
        if p.kind is GateKind.TIME_QC and p.placed and p.details.get("removed_segments")
    ]
    saturated = _saturation(template, gated, markers)
    state.flags += _saturation_flags(template, saturated, "")
    if control_pass is not None:
        state.flags += _saturation_flags(
            template, _saturation(template, control_pass.sample, markers), "control tube: "
        )
    template_ref = {"id": template.id, "version": template.version, "sha256": template.sha256}
    # "all events" of a measurement are the denominator's: the gated events when excluded
    counted = sample if screened.denominator == sample.event_count else gated
    measurements = template_measurements(
        template, template_ref, populations, state.placed, counted, control
    )
    strategy = GatingStrategy(
        [g for p in state.placed.values() for g in p.gates],
        [state.spill] if state.spill is not None and state.spill_id != FCS_SPILL_ID else [],
    )
    return GatingResult(
        template=template_ref,
        sample=sample,
        control=control,
        placed=tuple(state.placed[g.id] for g in template.gates),
        rows=populations,
        flags=tuple(nonfinite_flags + state.flags + qc_flags),
        measurements=measurements,
        membership=memberships,
        strategy=strategy,
        details={
            "markers": dict(markers),
            "saturation": [x.to_dict() for x in saturated],
            "nonfinite": nonfinite_details,
            "compensation": compensation.to_dict(),
        },
        screened=screened.rows,
    )


def _saturation(template: Template, sample: Sample, markers: Mapping[str, str]) -> list[Saturation]:
    """Saturation of every channel the gates read, Time aside (its range is a clock's)."""
    times = {g.time for g in template.gates if isinstance(g, TimeQCGateSpec)}
    indices = dict.fromkeys(
        sample.channel_index(channel) for key, channel in markers.items() if key not in times
    )
    return saturation(sample, indices)


def _saturation_flags(template: Template, found: list[Saturation], prefix: str) -> list[Flag]:
    limit = template.saturation_max_pct
    return [
        Flag(
            FlagCode.SATURATION,
            None,
            f"{prefix}{s.channel}{f' ({s.label})' if s.label else ''}: {s.percent:.2f} % of "
            f"events at the top of its range (>= {s.ceiling:g}), more than the template's "
            f"{limit:g} %: their values are clipped",
        )
        for s in found
        if s.percent > limit
    ]


def _population_table(
    template: Template, memberships: Mapping[str, np.ndarray], total: int
) -> tuple[PopulationRow, ...]:
    """Depth-first from the top-level gates, children in template order; ``total`` is the
    parent count of the top-level gates and the denominator of every percent of total."""
    children: dict[str | None, list[str]] = {}
    for gate in template.gates:
        children.setdefault(gate.parent, []).append(gate.id)
    rows = []
    stack: list[tuple[str, tuple[str, ...]]] = [(g, ()) for g in reversed(children.get(None, []))]
    while stack:
        gate_id, above = stack.pop()
        spec = template.gate(gate_id)
        count = int(np.count_nonzero(memberships[gate_id]))
        parent_count = (
            total if spec.parent is None else int(np.count_nonzero(memberships[spec.parent]))
        )
        path = (*above, gate_id)
        rows.append(
            (
                path,
                spec.name or gate_id,
                gate_id,
                spec.parent,
                count,
                parent_count,
                100.0 * count / parent_count if parent_count else float("nan"),
                100.0 * count / total if total else float("nan"),
            )
        )
        stack += [(child, path) for child in reversed(children.get(gate_id, []))]
    return population_rows(rows)


def _low_count_flags(template: Template, populations: tuple[PopulationRow, ...]) -> list[Flag]:
    flags = []
    for row in populations:
        minimum = template.min_events_for(row.gate_id)
        if row.count < minimum:
            flags.append(
                Flag(
                    FlagCode.LOW_COUNT,
                    row.gate_id,
                    f"{row.name} holds {row.count} events, fewer than the template's minimum "
                    f"of {minimum}",
                )
            )
    return flags
