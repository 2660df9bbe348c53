"""Bio-Rad droplet digital PCR results: QX Manager and QuantaSoft 1.7.4 CSV.

Both hold one row per well and target with the same quantities under different names:
QX Manager ``Conc(copies/µL)``, ``Accepted Droplets``, ``Sample description 1``, ``SampleType``;
QuantaSoft ``Concentration``, ``AcceptedDroplets``, ``Sample``. The micro sign may arrive
mis-encoded; header names are matched after normalising it. A QX200/QX600 droplet is 0.85 nL
(back-calculated from real exports: concentration = -ln(negatives/accepted) / 0.85 nL).

A well the software could not call has concentration "No Call" (kept, concentration NaN, call
"No Call" unless a status says more). Rows for merged wells (``MergedWells`` lists the wells,
the row's well is e.g. "M02") pool wells that have rows of their own: they are summaries and
are skipped, as is each format's average row.
"""

from __future__ import annotations

import math
from pathlib import Path

from cytorelease.qpcr.readers._dpcr_rows import Columns
from cytorelease.qpcr.readers._text import decode, first_line, header_key, split_rows
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.QX
DROPLET_NL = 0.85
_CONC = ("conc(copies/ul)", "concentration")
_ACCEPTED = ("accepteddroplets",)
_NO_CALL = "no call"
_TASKS = {
    "ntc": Task.NTC,
    "unknown": Task.UNKNOWN,
    "posctrl": Task.POSITIVE_CONTROL,
    "negctrl": Task.NEGATIVE_CONTROL,
    "standard": Task.STANDARD,
    "blank": Task.EMPTY,
}


def sniff(head: bytes) -> bool:
    keys = {header_key(c) for c in first_line(head).split(",")}
    return "well" in keys and bool(keys & set(_CONC)) and bool(keys & set(_ACCEPTED))


def _task(sample_type: str, target_type: str, sample: str) -> Task:
    key = header_key(sample_type)
    if key in _TASKS:
        return _TASKS[key]
    # QuantaSoft has no sample type; its TargetType reads like "Ch1NTC" / "Ch1Unknown".
    if "ntc" in header_key(target_type) or header_key(sample) in ("ntc", "h2o", "water"):
        return Task.NTC
    return Task.UNKNOWN


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    header, body = split_rows(decode(data), delimiter=",", path=path)
    cols = Columns(header, path)
    qx_manager = "conc(copies/ul)" in cols.keys
    well = cols.require("Well", "well")
    sample = cols.require("sample", "sampledescription1", "sample")
    # QuantaSoft before 1.7 named the target "Assay" and its type "TypeAssay".
    target = cols.require("Target", "target", "assay")
    conc = cols.require("concentration", *_CONC)
    accepted = cols.require("accepted droplets", *_ACCEPTED)
    positives = cols.require("Positives", "positives")
    status = cols.find("status")
    sample_type = cols.find("sampletype")
    target_type = cols.find("targettype", "typeassay")
    dye = cols.find("dyename(s)", "dyename")
    merged = cols.find("mergedwells")
    rows = []
    for line, row in enumerate(body, start=2):

        def text(index: int | None, row: list[str] = row) -> str:
            return Columns.text(row, index)

        if text(merged):
            continue
        no_call = text(conc).lower() == _NO_CALL
        rows.append(
            {
                "well": text(well),
                "sample": text(sample),
                "target": text(target) or text(dye),
                "task": _task(text(sample_type), text(target_type), text(sample)),
                "call": text(status) or ("No Call" if no_call else ""),
                "partitions": cols.number(row, accepted, line, "accepted droplets"),
                "positives": cols.number(row, positives, line, "positives"),
                "concentration": (
                    math.nan if no_call else cols.number(row, conc, line, "concentration")
                ),
                "volume_nl": DROPLET_NL,
            }
        )
    return QpcrExport(
        format=FORMAT,
        instrument="Bio-Rad QX Manager" if qx_manager else "Bio-Rad QuantaSoft",
        table=make_table(rows, digital=True),
        path=path,
        sha256=sha256,
        digital=True,
        metadata={},
    )
