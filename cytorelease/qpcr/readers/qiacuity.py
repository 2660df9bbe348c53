"""QIAGEN QIAcuity Software Suite CSV (short and long layouts).

Starts with a ``sep=,`` line (Excel's delimiter hint), may carry a UTF-8 BOM, and writes µ in
whatever encoding the workstation had. One row per well and target: the well in the first
column, ``Sample/NTC/Control``, ``Target``, ``Control type``, ``Conc. [copies/µL]``,
``Partitions (valid|positive|negative)``; the long layout adds e.g. ``Volume per well``.
Software 3.x writes ``Plate type`` ("Nanoplate 8.5K 96-well", first row only), ``Well``,
``Target (Name)`` and concentrations per µL and per mL, of the reaction and of the undiluted
sample; the per-µL reaction concentration is the one read. ``Type`` says "Non Template
Control" for NTC wells; ``Control type`` names positive and negative controls.
Partition volume = volume per well / the plate's nominal partitions (8,500 for the 8.5K
nanoplate, 26,000 for the 26K one), not / valid partitions. The short layout has no volume, so
``volume_nl`` stays NaN there (a within-well ratio such as VCN does not need it).
"""

from __future__ import annotations

import math
from pathlib import Path

from cytorelease.qpcr.readers._dpcr_rows import Columns
from cytorelease.qpcr.readers._text import decode, first_line, header_key, split_rows
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.QIACUITY
NOMINAL_PARTITIONS = {"8.5K": 8_500, "26K": 26_000}
_TASKS = {"ntc": Task.NTC, "positive": Task.POSITIVE_CONTROL, "negative": Task.NEGATIVE_CONTROL}
_NTC_TYPES = ("nontemplatecontrol", "ntc")


def sniff(head: bytes) -> bool:
    line = first_line(head)
    if line.replace('"', "").startswith("sep="):
        return True
    return "partitions(valid)" in {header_key(c) for c in line.split(",")}


def _is_conc(key: str) -> bool:
    """Per-well copies/µL of the dPCR reaction (not a mean, per-mL or undiluted-sample value)."""
    return (
        key.startswith(("conc.", "concentration"))
        and "mean" not in key
        and "/ml" not in key
        and "undiluted" not in key
    )


def _plate_partitions(plate_type: str) -> int | None:
    """Nominal partitions from a "Plate type" cell such as "Nanoplate 8.5K 96-well"."""
    text = plate_type.upper().replace(" ", "")
    for name, partitions in NOMINAL_PARTITIONS.items():
        if f"NANOPLATE{name}" in text:
            return partitions
    return None


def plate_of(valid_partitions: float) -> str:
    """The nanoplate a well came from, judged by its valid partitions (never above nominal)."""
    return "8.5K" if valid_partitions <= NOMINAL_PARTITIONS["8.5K"] else "26K"


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    text = decode(data)
    lines = text.splitlines()
    start = 1 if lines and lines[0].replace('"', "").startswith("sep=") else 0
    header, body = split_rows(text, delimiter=",", path=path, header_index=start)
    cols = Columns(header, path)
    sample = cols.require("Sample/NTC/Control", "sample/ntc/control", "sample", "samplename")
    target = cols.require("Target", "target", "target(name)")
    conc = cols.require("concentration", match=_is_conc)
    valid = cols.require("Partitions (valid)", "partitions(valid)")
    positive = cols.require("Partitions (positive)", "partitions(positive)")
    control = cols.find("controltype", "target(control)")
    sample_type = cols.find("type")
    plate_type = cols.find("platetype")
    nominal = None
    if plate_type is not None:
        # Written on the first row only; one nanoplate type per export.
        nominal = next(
            (n for row in body if (n := _plate_partitions(cols.text(row, plate_type))) is not None),
            None,
        )
    volume = cols.find(match=lambda k: k.startswith("volumeperwell"))
    well = cols.find("well", "wellname", "") or 0
    rows = []
    for line, row in enumerate(body, start=start + 2):
        partitions = cols.number(row, valid, line, "valid partitions")
        well_ul = cols.number(row, volume, line, "volume per well")
        control_type = header_key(cols.text(row, control))
        if header_key(cols.text(row, sample_type)) in _NTC_TYPES:
            control_type = "ntc"
        per_well = nominal or NOMINAL_PARTITIONS[plate_of(partitions)]
        rows.append(
            {
                "well": cols.text(row, well),
                "sample": cols.text(row, sample),
                "target": cols.text(row, target),
                "task": _TASKS.get(control_type, Task.UNKNOWN),
                "partitions": partitions,
                "positives": cols.number(row, positive, line, "positive partitions"),
                "concentration": cols.number(row, conc, line, "concentration"),
                "volume_nl": (
                    well_ul * 1000.0 / per_well
                    if math.isfinite(well_ul) and math.isfinite(partitions)
                    else math.nan
                ),
            }
        )
    return QpcrExport(
        format=FORMAT,
        instrument="QIAGEN QIAcuity",
        table=make_table(rows, digital=True),
        path=path,
        sha256=sha256,
        digital=True,
        metadata={"layout": "long" if volume is not None else "short"},
    )
