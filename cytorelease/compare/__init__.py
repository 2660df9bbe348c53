"""Comparability of two sets of results (two sites, automated vs manual gating, template v1 vs
v2): paired by lot (bias, Bland-Altman limits of agreement, Deming regression, paired TOST) or
unpaired (Welch TOST, Kolmogorov-Smirnov), with the disposition flips between them, against the
margins of a locked comparability protocol. See docs/comparability.md.
"""

from __future__ import annotations

from pathlib import Path

from cytorelease.compare.analysis import PAIRINGS, Comparison, compare_sets
from cytorelease.compare.protocol import Protocol, load_protocol, margins_from_options
from cytorelease.compare.sets import ResultSet, read_set

__all__ = [
    "PAIRINGS",
    "Comparison",
    "Protocol",
    "ResultSet",
    "compare",
    "compare_sets",
    "load_protocol",
    "margins_from_options",
    "read_set",
    "render_page",
    "write_page",
]


def compare(
    a: str | Path,
    b: str | Path,
    *,
    pair_by: str,
    protocol: Path | None = None,
    margins: list[str] | None = None,
    data_dir: str | Path | None = None,
) -> Comparison:
    """Read both sets and compare B against A; margins from ``protocol`` or ``margins``
    (``ATTR=VALUE``), never both. A side written ``lots:KEY=VALUE,...`` is a selection of
    ``data_dir``'s lots dataset (:mod:`cytorelease.compare.selection`)."""
    from cytorelease.errors import InputError

    if protocol is not None and margins:
        raise InputError("give the margins by --protocol or by --margin, not both")
    judged = (
        load_protocol(protocol) if protocol is not None else margins_from_options(margins or [])
    )
    sets = [read_set(side, data_dir=data_dir) for side in (a, b)]
    return compare_sets(sets[0], sets[1], pair_by=pair_by, protocol=judged)


def render_page(comparison: Comparison) -> str:
    from cytorelease.compare.page import render_page as render

    return render(comparison)


def write_page(comparison: Comparison, out: Path) -> Path:
    from cytorelease.compare.page import write_page as write

    return write(comparison, out)
