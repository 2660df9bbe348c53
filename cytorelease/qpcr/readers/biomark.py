"""Standard BioTools (Fluidigm) Biomark "Table Results" CSV, Real-Time PCR Analysis 2.x-4.x.

Layout: a ``key,value`` preamble, a blank line, then three header rows whose cells only name a
column when read together (``Chamber/ID``, ``Sample/Name``, ``<dye>/Name`` for the assay,
``Ct/Value``, ``Ct/Call``), then one row per chamber. Chamber ids are ``S<sample>-A<assay>``;
the chip (48.48, 96.96, 192.24) follows from the highest indices. Ct 999 means no
amplification; a "Fail" call may still carry a Ct (kept, and the row marked ``excluded``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._text import check_row_lengths, decode, parse_float, strip_bom
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.BIOMARK
NO_CT = 999.0
_CHAMBER = re.compile(r"^S(\d+)-A(\d+)$")
# (samples, assays) -> chambers, for the chips Biomark exports.
_CHIPS = {(48, 48): "48.48", (96, 96): "96.96", (192, 24): "192.24", (24, 192): "192.24"}
_TASKS = {
    "standard": Task.STANDARD,
    "unknown": Task.UNKNOWN,
    "ntc": Task.NTC,
    "negative": Task.NEGATIVE_CONTROL,
    "positive": Task.POSITIVE_CONTROL,
    "empty": Task.EMPTY,
}


def sniff(head: bytes) -> bool:
    lines = strip_bom(head)[:65536].replace(b"\r", b"").split(b"\n")
    if any(line.startswith(b"Export Type,Table Results") for line in lines[:40]):
        return True
    # Without the preamble: the first two header rows of the joined three-row header.
    return any(
        a.startswith(b"Experiment Information,") and b.startswith(b"Chamber,")
        for a, b in zip(lines, lines[1:], strict=False)
    )


def _chip(wells: list[str], path: Path) -> tuple[str, int]:
    max_s = max_a = 0
    for well in wells:
        match = _CHAMBER.match(well)
        if match is None:
            raise InputError(
                f"chamber id {well!r} is not of the form S<n>-A<n>",
                path=path,
            )
        max_s = max(max_s, int(match.group(1)))
        max_a = max(max_a, int(match.group(2)))
    for (samples, assays), name in _CHIPS.items():
        if max_s <= samples and max_a <= assays:
            return name, samples * assays
    raise InputError(f"no Biomark chip has sample {max_s} and assay {max_a}", path=path)


def _column_map(rows3: list[list[str]], path: Path) -> dict[str, int]:
    """Names for the joined header cells: well, sample, task, quantity, target, cq, call, tm."""
    top, mid, low = (r + [""] * (len(rows3[1]) - len(r)) for r in rows3)
    found: dict[str, int] = {}
    for index, (a, b, c) in enumerate(zip(top, mid, low, strict=False)):
        a, b, c = a.strip(), b.strip(), c.strip()
        key = {
            ("Chamber", "ID"): "well",
            ("Sample", "Name"): "sample",
            ("Sample", "Type"): "task",
            ("Sample", "rConc"): "quantity",
            ("Ct", "Value"): "cq",
            ("Ct", "Call"): "call",
            ("Ct", "Quality"): "quality",
        }.get((b, c))
        if key is None and c == "Name" and b not in ("Chamber", "Sample", "Ct"):
            key = "target"
        if key is None and a.startswith("Tm") and "tm" not in found:
            key = "tm"
        if key is not None and key not in found:
            found[key] = index
    missing = [k for k in ("well", "sample", "target", "cq") if k not in found]
    if missing:
        raise InputError(
            f"Table Results header lacks {', '.join(missing)} (expected Chamber/ID, "
            "Sample/Name, <dye>/Name, Ct/Value in the three header rows)",
            path=path,
        )
    return found


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    import csv
    import io

    text = decode(data)
    lines = text.splitlines()
    metadata: dict[str, str] = {}
    index = 0
    while index < len(lines) and not lines[index].startswith("Experiment Information"):
        parts = lines[index].split(",", 1)
        if len(parts) == 2 and parts[0].strip():
            metadata[parts[0].strip()] = parts[1].strip()
        index += 1
    if index + 3 > len(lines):
        raise InputError(
            "no 'Experiment Information' header rows: not a complete Table Results export "
            "(truncated copy?)",
            path=path,
        )
    table = list(csv.reader(io.StringIO("\n".join(ln for ln in lines[index:] if ln.strip()))))
    columns = _column_map(table[:3], path)
    body = table[3:]
    check_row_lengths(table[1], body, path=path, first_line=index + 4)
    if not body:
        raise InputError("the Table Results export has no chamber rows", path=path)
    rows = []
    for line_no, row in enumerate(body, start=index + 4):
        try:
            ct = parse_float(row[columns["cq"]])
        except ValueError:
            raise InputError(
                f"line {line_no:,}: Ct {row[columns['cq']]!r} is not a number", path=path
            ) from None
        call = row[columns["call"]].strip() if "call" in columns else ""
        task_text = row[columns["task"]].strip().lower() if "task" in columns else "unknown"
        record = {
            "well": row[columns["well"]].strip(),
            "sample": row[columns["sample"]].strip(),
            "target": row[columns["target"]].strip(),
            "task": _TASKS.get(task_text, Task.UNKNOWN),
            "cq": math.nan if ct >= NO_CT else ct,
            "call": call,
            "excluded": call.lower() == "fail" and ct < NO_CT,
        }
        if "quantity" in columns and record["task"] is Task.STANDARD:
            record["quantity"] = parse_float(row[columns["quantity"]])
        rows.append(record)
    chip, chambers = _chip([r["well"] for r in rows], path)
    if len(rows) < chambers:
        raise InputError(
            f"a {chip} chip has {chambers:,} chambers but the export has {len(rows):,} rows "
            "(truncated copy?)",
            path=path,
        )
    metadata["Chip"] = chip
    version = metadata.get("Application Version", "?")
    return QpcrExport(
        format=FORMAT,
        instrument=f"Biomark {chip} (Real-Time PCR Analysis {version})",
        table=make_table(rows, digital=False),
        path=path,
        sha256=sha256,
        digital=False,
        metadata=metadata,
    )
