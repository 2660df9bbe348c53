"""Thermo Fisher (Applied Biosystems) QuantStudio Absolute Q digital PCR CSV.

``Run, Date, Instrument, Plate, Group, Name, Well, Total, Dye, Target, Conc. cp/uL, SD, CV%,
95%CI, Positives``: one row per well and dye, plus a group-average row (Well "Average") that is
a summary, not a well, and is skipped. ``Total`` is the valid microchambers. A microchamber is
0.432 nL (back-calculated: every exported concentration equals -ln(1 - positives/total) /
0.432 nL to the exported precision).
"""

from __future__ import annotations

from pathlib import Path

from cytorelease.qpcr.readers._dpcr_rows import Columns
from cytorelease.qpcr.readers._text import decode, first_line, header_key, split_rows
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.ABSOLUTEQ
CHAMBER_NL = 0.432


def sniff(head: bytes) -> bool:
    keys = {header_key(c) for c in first_line(head).split(",")}
    return {"well", "total", "dye", "positives"} <= keys and "conc.cp/ul" in keys


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    header, body = split_rows(decode(data), delimiter=",", path=path)
    cols = Columns(header, path)
    well = cols.require("Well", "well")
    name = cols.require("Name", "name")
    target = cols.require("Target", "target")
    dye = cols.find("dye")
    total = cols.require("Total", "total")
    positives = cols.require("Positives", "positives")
    conc = cols.require("Conc. cp/uL", "conc.cp/ul")
    instrument = cols.find("instrument")
    rows = []
    for line, row in enumerate(body, start=2):
        if row[well].strip().lower() == "average":
            continue
        sample = row[name].strip()
        rows.append(
            {
                "well": row[well].strip(),
                "sample": sample,
                "target": row[target].strip() or (row[dye].strip() if dye is not None else ""),
                "task": Task.NTC if header_key(sample) in ("ntc", "h2o") else Task.UNKNOWN,
                "partitions": cols.number(row, total, line, "total"),
                "positives": cols.number(row, positives, line, "positives"),
                "concentration": cols.number(row, conc, line, "concentration"),
                "volume_nl": CHAMBER_NL,
            }
        )
    label = body[0][instrument].strip() if body and instrument is not None else ""
    return QpcrExport(
        format=FORMAT,
        instrument=f"Thermo Fisher Absolute Q ({label})" if label else "Thermo Fisher Absolute Q",
        table=make_table(rows, digital=True),
        path=path,
        sha256=sha256,
        digital=True,
        metadata={},
    )
