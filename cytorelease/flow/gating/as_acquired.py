"""Compensated dimensions a GatingML strategy reads as acquired, named in a flag.

GatingML 2.0 (and FlowKit, and the ISAC compliance suite, whose data1.fcs has no spillover)
reads ``compensation-ref="FCS"`` on a file without $SPILLOVER/$SPILL as uncompensated, and a
channel a matrix does not name as acquired. Both are legitimate, but a result resting on them
must say so: a ``no_compensation`` flag naming the file, the gates and the dimensions. Scatter
and Time are never compensated, so reading them as acquired is no fallback and is not flagged.
"""

from __future__ import annotations

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.compensation import FCS_SPILL_ID, SpilloverMatrix, sample_spillover
from cytorelease.flow.gating.result import Flag, FlagCode
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.sample import Sample

__all__ = ["uncompensated_flags"]

_NAMES_SHOWN = 10


def _never_compensated(name: str) -> bool:
    return name.upper().startswith(("FSC", "SSC")) or name.casefold().startswith("time")


def _listed(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    more = len(unique) - _NAMES_SHOWN
    return ", ".join(unique[:_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _in_matrix(matrix: SpilloverMatrix, channel: str, sample: Sample) -> bool:
    try:
        if matrix.output_index(channel) is not None:
            return True
        name = sample.channels[sample.channel_index(channel)].name
        return matrix.output_index(name) is not None
    except (InputError, TemplateError):
        return True  # not ours to judge: applying the strategy refuses it with its own error


def uncompensated_flags(strategy: GatingStrategy, sample: Sample) -> list[Flag]:
    """One ``no_compensation`` flag per compensation reference some fluorescence dimension
    asks for but reads as acquired."""
    missing: dict[str, tuple[list[str], list[str]]] = {}  # reference -> (gates, channels)
    for gate_id in strategy.population_ids:
        for dimension in strategy.population(gate_id).dimensions:
            reference = dimension.compensation
            if reference is None:
                continue
            if reference == FCS_SPILL_ID:
                matrix = sample_spillover(sample)
            else:
                matrix = strategy.spillovers.get(reference)
            for channel in dimension.channels:
                if _never_compensated(channel):
                    continue
                if matrix is None or not _in_matrix(matrix, channel, sample):
                    gates, channels = missing.setdefault(reference, ([], []))
                    gates.append(gate_id)
                    channels.append(channel)
    flags = []
    for reference, (gates, channels) in missing.items():
        if reference == FCS_SPILL_ID and sample.spill is None:
            why = f"{sample.path.name} has no spillover matrix ($SPILLOVER/$SPILL)"
        else:
            why = f"spillover matrix {reference!r} does not cover them"
        flags.append(
            Flag(
                FlagCode.NO_COMPENSATION,
                None,
                f"{why}: {_listed(channels)} (compensation-ref {reference!r}) gated "
                f"uncompensated, as acquired, in gates {_listed(gates)}",
            )
        )
    return flags
