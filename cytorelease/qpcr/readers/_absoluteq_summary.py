"""Absolute Q software's per-well "summary" CSV, and the exports it writes beside it.

The summary has two header rows: the first names a dye above each group of columns
(``,,,,,,,FAM,,,...,VIC,...``), the second names the columns: ``Run name, Group, Sample, Well,
DF, QC, Total`` for the well, then per dye ``Target, Conc., SD, CV%, ..., Positives, ...,
Threshold``, then ``MeanQC, CV_QC, QC Message``. One row per well; a group's ``Average`` row is
a summary and is skipped. ``Conc.`` is copies/µL of the reaction (it equals -ln(1 -
positives/total) / 0.432 nL, as in the per-dye layout).

The same software writes a per-microchamber fluorescence table (``Well ID, Sample, Index,
Reject, <dye>, <dye>_pos, ...``) and a multichannel count table (``Channels, Count, Copies per
microliter``, per sample and dye combination, no well): neither holds per-well results, so both
are refused with a message that says which file to export instead.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._dpcr_rows import Columns
from cytorelease.qpcr.readers._text import header_key, split_rows
from cytorelease.qpcr.table import Task

__all__ = ["is_other_export", "is_summary", "refuse_other_export", "summary_rows"]

_SUMMARY_KEYS = {"runname", "well", "total", "target", "conc.", "positives"}
_FLUORESCENCE_KEYS = {"wellid", "index", "reject"}
_MULTICHANNEL_KEYS = {"channels", "count", "copiespermicroliter"}


def _keys(line: str) -> set[str]:
    return {header_key(c) for c in next(csv.reader([line]), [])}


def is_summary(first: str, second: str) -> bool:
    """A dye row above a header row holding the per-dye result columns."""
    dyes = [c.strip() for c in next(csv.reader([first]), [])]
    return any(dyes) and not dyes[0] and _keys(second) >= _SUMMARY_KEYS


def is_other_export(first: str) -> bool:
    keys = _keys(first)
    return keys >= _FLUORESCENCE_KEYS or keys >= _MULTICHANNEL_KEYS


def refuse_other_export(first: str, path: Path) -> None:
    if _keys(first) >= _FLUORESCENCE_KEYS:
        what = "per-microchamber fluorescence export (one row per chamber, no concentrations)"
    else:
        what = "multichannel count export (counts per sample and dye combination, no wells)"
    raise InputError(
        f"this is an Absolute Q {what}, not per-well results",
        path=path,
        hint="export the run's results (summary) CSV with Well, Total, Target, Conc. and Positives",
    )


def _groups(dyes: list[str], header: list[str], path: Path) -> list[tuple[str, dict[str, int]]]:
    """(dye, column index by key) for each dye's group of columns, in file order."""
    keys = [header_key(h) for h in header]
    starts = [i for i, key in enumerate(keys) if key == "target"]
    groups = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(keys)
        index = {key: i for i, key in reversed(list(enumerate(keys[start:end], start)))}
        if "conc." not in index or "positives" not in index:
            raise InputError(
                f"summary column group at column {start + 1} lacks Conc. or Positives",
                path=path,
            )
        dye = dyes[start].strip() if start < len(dyes) else ""
        groups.append((dye, index))
    return groups


def summary_rows(text: str, path: Path, volume_nl: float) -> list[dict[str, Any]]:
    lines = text.splitlines()
    dyes = next(csv.reader(io.StringIO(lines[0])), [])
    header, body = split_rows(text, delimiter=",", path=path, header_index=1)
    cols = Columns(header, path)
    well = cols.require("Well", "well")
    sample = cols.require("Sample", "sample")
    total = cols.require("Total", "total")
    qc = cols.find("qc")
    groups = _groups(dyes, header, path)
    rows = []
    for line, row in enumerate(body, start=3):
        if cols.text(row, well).lower() == "average":
            continue
        name = cols.text(row, sample)
        partitions = cols.number(row, total, line, "total")
        for dye, index in groups:
            target = cols.text(row, index["target"]) or dye
            concentration = cols.number(row, index["conc."], line, "Conc.")
            rows.append(
                {
                    "well": cols.text(row, well),
                    "sample": name,
                    "target": target,
                    "task": Task.NTC if header_key(name) in ("ntc", "h2o") else Task.UNKNOWN,
                    "call": cols.text(row, qc),
                    "partitions": partitions,
                    "positives": cols.number(row, index["positives"], line, "positives"),
                    "concentration": concentration,
                    "volume_nl": volume_nl,
                }
            )
    return rows
