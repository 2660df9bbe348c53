"""Gen5 text exports built the way the real Gen5 3.12 export (``endpoint_stdcurve_singleplate``
in ../shared/data/plate) is written: its own header lines, a ``Layout`` grid whose row lines
hold the Well ID (STDn, BLK, SPLn:k) and whose following line holds ``Conc/Dil``, then a
``Results`` grid of one read. Only the layout and the values change."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.conftest import shared_path

REAL_GEN5 = ("plate", "endpoint_stdcurve_singleplate.txt")
ROWS = "ABCDEFGH"


def real_gen5_header() -> list[str]:
    """The real export's lines before its Layout grid, its read moved to 450 nm."""
    lines = shared_path(*REAL_GEN5).read_text(encoding="utf-8").splitlines()
    head = lines[: lines.index("Layout")]
    return [line.replace("630nmAbsRead", "450nmAbsRead").replace("630", "450") for line in head]


def _grid_header() -> str:
    return "\t" + "\t".join(str(c) for c in range(1, 13))


def write_gen5(
    path: Path,
    layout: Mapping[str, tuple[str, float | None]],
    ods: Mapping[str, float],
    *,
    label: str = "450nmAbsRead:450",
) -> Path:
    """``layout``: well -> (Well ID, Conc/Dil or None); ``ods``: well -> raw OD."""
    lines = [*real_gen5_header(), "Layout", _grid_header()]
    for row in ROWS:
        wells = [f"{row}{c}" for c in range(1, 13)]
        ids = [layout[w][0] if w in layout else "" for w in wells]
        numbers = [layout[w][1] if w in layout else None for w in wells]
        lines.append(row + "\t" + "\t".join(ids) + "\tWell ID")
        lines.append(
            "\t" + "\t".join("" if n is None else f"{n:.5g}" for n in numbers) + "\tConc/Dil"
        )
    lines += ["", "Results", _grid_header()]
    for row in ROWS:
        cells = [f"{ods[f'{row}{c}']:.3f}" if f"{row}{c}" in ods else "" for c in range(1, 13)]
        lines.append(row + "\t" + "\t".join(cells) + f"\t{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bundled_assay_layout() -> dict[str, tuple[str, float | None]]:
    """The bundled IFN-gamma assay's plate as Gen5 lays it out: S1..S7 as STD1..STD7 with their
    concentrations, H1/H2 BLK, each sample SPLn:1 with its dilution as Gen5's fraction."""
    from cytorelease.potency.assay import load_potency_assay

    assay = load_potency_assay("potency-ifng-elisa").assay
    layout: dict[str, tuple[str, float | None]] = {}
    for n, standard in enumerate(assay.standards, start=1):
        layout |= {w: (f"STD{n}", standard.concentration) for w in standard.wells}
    layout |= {w: ("BLK", None) for w in assay.blanks.wells} if assay.blanks else {}
    for n, sample in enumerate(assay.samples, start=1):
        layout |= {w: (f"SPL{n}:1", 1.0 / sample.dilution) for w in sample.wells}
    return layout
