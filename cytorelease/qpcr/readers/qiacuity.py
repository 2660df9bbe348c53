"""QIAGEN QIAcuity Software Suite CSV (short and long layouts).

Starts with a ``sep=,`` line (Excel's delimiter hint), may carry a UTF-8 BOM, and writes µ in
whatever encoding the workstation had. One row per well and target: the well in the first
column, ``Sample/NTC/Control``, ``Target``, ``Control type``, ``Conc. [copies/µL]``,
``Partitions (valid|positive|negative)``; the long layout adds e.g. ``Volume per well``.
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


def sniff(head: bytes) -> bool:
    line = first_line(head)
    if line.replace('"', "").startswith("sep="):
        return True
    return "partitions(valid)" in {header_key(c) for c in line.split(",")}


def _is_conc(key: str) -> bool:
    return key.startswith(("conc.", "concentration")) and "mean" not in key


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
    target = cols.require("Target", "target")
    conc = cols.require("concentration", match=_is_conc)
    valid = cols.require("Partitions (valid)", "partitions(valid)")
    positive = cols.require("Partitions (positive)", "partitions(positive)")
    control = cols.find("controltype")
    volume = cols.find(match=lambda k: k.startswith("volumeperwell"))
    well = cols.find("well", "") or 0
    rows = []
    for line, row in enumerate(body, start=start + 2):
        partitions = cols.number(row, valid, line, "valid partitions")
        well_ul = cols.number(row, volume, line, "volume per well")
        control_type = header_key(row[control]) if control is not None else ""
        rows.append(
            {
                "well": row[well].strip(),
                "sample": row[sample].strip(),
                "target": row[target].strip(),
                "task": _TASKS.get(control_type, Task.UNKNOWN),
                "partitions": partitions,
                "positives": cols.number(row, positive, line, "positive partitions"),
                "concentration": cols.number(row, conc, line, "concentration"),
                "volume_nl": (
                    well_ul * 1000.0 / NOMINAL_PARTITIONS[plate_of(partitions)]
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
