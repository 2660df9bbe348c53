"""Thermo Fisher (Applied Biosystems) QuantStudio Absolute Q digital PCR CSV.

``Run, Date, Instrument, Plate, Group, Name, Well, Total, Dye, Target, Conc. cp/uL, SD, CV%,
95%CI, Positives``: one row per well and dye, plus a group-average row (Well "Average") that is
a summary, not a well, and is skipped. ``Total`` is the valid microchambers. A microchamber is
0.432 nL (back-calculated: every exported concentration equals -ln(1 - positives/total) /
0.432 nL to the exported precision).

Newer Absolute Q software writes a per-well "summary" instead (two header rows, one column
group per dye); see :mod:`._absoluteq_summary`, which also refuses the per-chamber fluorescence
and multichannel exports with a message naming the file to export.
"""

from __future__ import annotations

from pathlib import Path

from cytorelease.qpcr.readers import _absoluteq_summary as summary
from cytorelease.qpcr.readers._dpcr_rows import Columns
from cytorelease.qpcr.readers._text import decode, first_line, header_key, split_rows, strip_bom
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.ABSOLUTEQ
CHAMBER_NL = 0.432


def _first_lines(head: bytes) -> tuple[str, str]:
    lines = strip_bom(head[:8192]).decode("utf-8", errors="replace").splitlines()
    return (lines[0] if lines else ""), (lines[1] if len(lines) > 1 else "")


def sniff(head: bytes) -> bool:
    keys = {header_key(c) for c in first_line(head).split(",")}
    if {"well", "total", "dye", "positives"} <= keys and "conc.cp/ul" in keys:
        return True
    first, second = _first_lines(head)
    return summary.is_summary(first, second) or summary.is_other_export(first)


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    text = decode(data)
    first, second = [*text.splitlines(), "", ""][:2]
    if summary.is_other_export(first):
        summary.refuse_other_export(first, path)
    if summary.is_summary(first, second):
        return QpcrExport(
            format=FORMAT,
            instrument="Thermo Fisher Absolute Q",
            table=make_table(summary.summary_rows(text, path, CHAMBER_NL), digital=True),
            path=path,
            sha256=sha256,
            digital=True,
            metadata={"layout": "summary"},
        )
    header, body = split_rows(text, delimiter=",", path=path)
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
        if cols.text(row, well).lower() == "average":
            continue
        sample = cols.text(row, name)
        rows.append(
            {
                "well": cols.text(row, well),
                "sample": sample,
                "target": cols.text(row, target) or cols.text(row, dye),
                "task": Task.NTC if header_key(sample) in ("ntc", "h2o") else Task.UNKNOWN,
                "partitions": cols.number(row, total, line, "total"),
                "positives": cols.number(row, positives, line, "positives"),
                "concentration": cols.number(row, conc, line, "concentration"),
                "volume_nl": CHAMBER_NL,
            }
        )
    label = cols.text(body[0], instrument) if body else ""
    return QpcrExport(
        format=FORMAT,
        instrument=f"Thermo Fisher Absolute Q ({label})" if label else "Thermo Fisher Absolute Q",
        table=make_table(rows, digital=True),
        path=path,
        sha256=sha256,
        digital=True,
        metadata={},
    )
