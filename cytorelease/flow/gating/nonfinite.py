"""Events holding NaN or +/-inf in a channel gating reads, and what the template does with them.

A float ($DATATYPE F or D) data set can hold NaN and infinities; a gate cannot place them (a
threshold or density estimate on NaN is NaN, +inf sits inside every open-ended gate), and a
matrix compensation spreads one NaN to every compensated channel of its event. So no placer
ever sees them: whatever the template's ``nonfinite_events`` says, they are screened out of
gate placement and membership, counted per channel, and named in a ``nonfinite_events`` flag.
The action decides only whether they stay in the denominator of "all events":

- ``flag`` (default): they stay in the tube's event count; they sit in no population, so a
  top-level gate's percent of parent and every percent of total count them as outside.
- ``exclude``: they leave the denominators; every percentage is of the remaining events.
- ``refuse``: no result, one error naming the channels and counts.

Membership arrays keep one entry per event of the file (False for a screened event), so an
exported membership table still lines up with the file's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from cytorelease.errors import InputError
from cytorelease.flow.compensation import sample_spillover
from cytorelease.flow.gating.result import Flag, FlagCode
from cytorelease.flow.gating.template_model import CompensationSource, NonFiniteAction, Template
from cytorelease.flow.qc import NonFinite, nonfinite, nonfinite_rows, without_events
from cytorelease.flow.sample import Sample

__all__ = ["Screened", "expand_memberships", "screen_nonfinite"]


@dataclass(frozen=True)
class Screened:
    """One tube's screening: ``gated`` is the sample the gates are placed on (finite values in
    every channel they read), ``rows`` the screened events of the file (None when none)."""

    sample: Sample
    gated: Sample
    action: NonFiniteAction
    channels: list[NonFinite] = field(default_factory=list)
    rows: np.ndarray | None = None
    flags: list[Flag] = field(default_factory=list)

    @property
    def events(self) -> int:
        return 0 if self.rows is None else int(np.count_nonzero(self.rows))

    @property
    def denominator(self) -> int:
        """The event count percentages of "all events" are of."""
        if self.action is NonFiniteAction.EXCLUDE:
            return self.gated.event_count
        return self.sample.event_count

    def to_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "excluded": self.events if self.action is NonFiniteAction.EXCLUDE else 0,
            "denominator_events": self.denominator,
            "channels": [c.to_dict() for c in self.channels if c.events],
        }


def _read_channels(template: Template, sample: Sample, markers: Mapping[str, str]) -> list[int]:
    """Every channel a gate's value depends on: the markers' (Time included) and, with matrix
    compensation, every channel of the matrix (each one enters every compensated value)."""
    names: list[str] = list(markers.values())
    comp = template.compensation
    if comp.source is CompensationSource.FILE:
        matrix = sample_spillover(sample)
        names += list(matrix.fluorochromes) if matrix is not None else []
    elif comp.source is CompensationSource.MATRIX:
        names += [markers.get(c, c) for c in comp.channels or ()]
    return list(dict.fromkeys(sample.channel_index(n) for n in names))


def screen_nonfinite(
    template: Template, sample: Sample, markers: Mapping[str, str], prefix: str = ""
) -> Screened:
    """Count non-finite values in the channels gating reads and apply ``nonfinite_events``."""
    action = template.nonfinite_events
    if sample.events.dtype.kind != "f":  # integer data cannot hold them
        return Screened(sample, sample, action)
    indices = _read_channels(template, sample, markers)
    found = nonfinite(sample, indices)
    if not any(c.events for c in found):
        return Screened(sample, sample, action, found)
    rows = nonfinite_rows(sample, indices)
    events = int(np.count_nonzero(rows))
    total = sample.event_count
    counts = "; ".join(c.describe() for c in found if c.events)
    if action is NonFiniteAction.REFUSE:
        raise InputError(
            f"{prefix}{events:,} of {total:,} events hold non-finite values in channels the "
            f"gates read ({counts}); template {template.id!r} refuses them "
            "(nonfinite_events: refuse)",
            path=sample.path,
        )
    if action is NonFiniteAction.EXCLUDE:
        fate = (
            f"they were excluded before gating: every count and percentage is of the remaining "
            f"{total - events:,} events"
        )
    else:
        fate = (
            "they were not gated (in no population) but stay in the event count: percentages "
            "of all events count them as outside every gate"
        )
    message = (
        f"{prefix}{events:,} of {total:,} events hold non-finite values in channels the gates "
        f"read ({counts}); {fate}"
    )
    flag = Flag(FlagCode.NONFINITE_EVENTS, None, message)
    return Screened(sample, without_events(sample, rows), action, found, rows, [flag])


def expand_memberships(
    memberships: Mapping[str, np.ndarray], screened: Screened, gate_ids: Iterable[str]
) -> dict[str, np.ndarray]:
    """Memberships over the gated events -> one entry per event of the file (screened: False)."""
    if screened.rows is None:
        return {g: memberships[g] for g in gate_ids}
    keep = ~screened.rows
    out = {}
    for gate_id in gate_ids:
        full = np.zeros(screened.sample.event_count, dtype=bool)
        full[keep] = memberships[gate_id]
        out[gate_id] = full
    return out
