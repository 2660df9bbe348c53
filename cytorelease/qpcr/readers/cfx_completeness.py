"""Whether a CFX "Quantification Cq Results" export is whole, judged from its own numbers.

The export declares no plate size and no well count (no Run Information in it; allotropy's own
CFX reader assumes 96 wells), and a plate may leave any wells empty, so a copy cut at a row
boundary reads as a valid smaller plate. What the export does declare is each replicate
group's statistics: every row repeats its group's ``Cq Mean`` and ``Cq Std. Dev`` (sample SD,
n - 1), computed by the instrument software over all of the group's Cqs. Rows with the same
fluor, target, content, sample and the same declared statistics are one group (or, failing
that, the same but for the sample name: replicates named as different samples); when the Cqs a
group lists are not the ones its statistics were computed from (one Cq with a non-zero SD,
a mean or SD that the listed Cqs do not give, no Cq but a non-zero mean), rows of the group
are missing, which is what a cut copy leaves: one error names the group.

Not detectable here: a cut that falls between complete groups (every group of the allotropy
Maestro example is one well), or that removes a whole fluor's block of a multiplex run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._text import parse_float

__all__ = ["StatsRow", "check_replicate_statistics"]


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One row's replicate-group identity, its Cq and its group's declared statistics (text)."""

    line: int
    well: str
    group: tuple[str, str, str, str]  # fluor, target, content, sample
    cq: str
    mean: str
    sd: str


def _half_unit(text: str, decimal_comma: bool) -> float:
    """Half a unit of the last digit written: what rounding to that many digits can hide."""
    t = text.strip()
    t = t.replace(".", "").replace(",", ".") if decimal_comma and "," in t else t.replace(",", "")
    try:
        exponent = Decimal(t).as_tuple().exponent
    except InvalidOperation:
        return 0.0
    return 0.5 * 10.0 ** int(exponent) if isinstance(exponent, int) else 0.0


def _number(text: str, decimal_comma: bool) -> float:
    try:
        return parse_float(text, decimal_comma=decimal_comma)
    except ValueError:
        return math.nan


def check_replicate_statistics(
    rows: Sequence[StatsRow], *, path: Path, decimal_comma: bool = False
) -> None:
    """Raise InputError when a replicate group lists other Cqs than its declared statistics'."""
    groups: dict[tuple[object, ...], list[StatsRow]] = {}
    # the same without the sample name: replicates named as different samples (same content
    # and replicate number) are still one group for the software
    unnamed: dict[tuple[object, ...], list[StatsRow]] = {}
    for row in rows:
        stats = (row.mean.strip(), row.sd.strip())
        groups.setdefault((*row.group, *stats), []).append(row)
        unnamed.setdefault((*row.group[:3], *stats), []).append(row)
    whole: dict[tuple[object, ...], bool] = {}  # each wider group checked once
    for members in groups.values():
        problem = _inconsistency(members, decimal_comma)
        if problem is None:
            continue
        first = members[0]
        key = (*first.group[:3], first.mean.strip(), first.sd.strip())
        if key not in whole:
            wider = unnamed[key]
            whole[key] = len(wider) > len(members) and _inconsistency(wider, decimal_comma) is None
        if whole[key]:
            continue
        last = members[-1]
        fluor, target, _, sample = last.group
        wells = ", ".join(m.well for m in members[:4]) + (
            f" and {len(members) - 4:,} more" if len(members) > 4 else ""
        )
        raise InputError(
            f"line {last.line:,}: the replicate group of well{'s' * (len(members) > 1)} "
            f"{wells} ({fluor}{f' {target}' if target else ''}, sample {sample!r}) {problem}: "
            "rows of the group are missing (an export cut short?)",
            path=path,
            hint="export the Quantification Cq Results again or copy the complete file",
        )


def _inconsistency(members: list[StatsRow], decimal_comma: bool) -> str | None:
    first = members[0]
    mean = _number(first.mean, decimal_comma)
    sd = _number(first.sd, decimal_comma)
    cq_texts = [m.cq for m in members if math.isfinite(_number(m.cq, decimal_comma))]
    cqs = [_number(t, decimal_comma) for t in cq_texts]
    if not math.isfinite(mean):
        return None  # no statistics declared (NaN / N/A): nothing to compare
    listed = f"lists {len(cqs)} Cq value{'s' * (len(cqs) != 1)}"
    if not cqs:
        # CFX Manager writes a mean of 0 for a group without any Cq
        return None if mean == 0 else f"{listed} but declares Cq Mean {first.mean.strip()}"
    cq_slack = max(_half_unit(t, decimal_comma) for t in cq_texts)
    mean_slack = _half_unit(first.mean, decimal_comma) + cq_slack + 1e-9 * max(1.0, abs(mean))
    ours = statistics.fmean(cqs)
    if abs(ours - mean) > mean_slack:
        return f"{listed} (mean {ours:.6g}) but declares Cq Mean {first.mean.strip()}"
    if not math.isfinite(sd):
        return None
    # one Cq has an SD of exactly 0 whatever its rounding; more take their rounding along
    cq_part = 2 * cq_slack if len(cqs) > 1 else 0.0
    sd_slack = _half_unit(first.sd, decimal_comma) + cq_part + 1e-9 * max(1.0, sd)
    our_sd = statistics.stdev(cqs) if len(cqs) > 1 else 0.0
    if abs(our_sd - sd) > sd_slack:
        return f"{listed} (SD {our_sd:.4g}) but declares Cq Std. Dev {first.sd.strip()}"
    return None
