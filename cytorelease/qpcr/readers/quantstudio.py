"""Applied Biosystems QuantStudio / ViiA 7: the text export and the Design & Analysis xlsx.

Text: a ``* key = value`` block, then ``[Section]`` blocks of tab-separated tables; the
``[Results]`` section holds one row per well and target (``CT`` "Undetermined" when no
amplification, quantities with thousands separators). Some exports repeat column names; the
first occurrence wins. The Design & Analysis xlsx keeps a key/value block above a header row on
its "Results" sheet; standards' quantities sit on the "Standard Curve Result" sheet. A text
export whose [Results] leave a standard's Quantity empty takes it from its [Sample Setup]
section (same well and target), where the plate setup states it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.qpcr.instrument_curve import InstrumentCurve, collect_instrument_curves
from cytorelease.qpcr.readers._text import decode, header_key, parse_float, split_rows, strip_bom
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.QUANTSTUDIO
_TASKS = {
    "standard": Task.STANDARD,
    "unknown": Task.UNKNOWN,
    "ntc": Task.NTC,
    "negative control": Task.NEGATIVE_CONTROL,
    "positive control": Task.POSITIVE_CONTROL,
}
# Accepted header spellings (after header_key) for each tidy column. The Cq column is "CT",
# "Cq", or "CRT" when the run used the relative-threshold method (Quantification Cycle Method
# = Crt). Without a Target column (D&A "Primary Analysis" export) the reporter dye names the
# target, as a CFX export does with its fluorophore.
_NAMES = {
    "well": ("wellposition",),
    "sample": ("samplename", "sample"),
    "target": ("targetname", "target"),
    "reporter": ("reporter",),
    "task": ("task",),
    "cq": ("ct", "cq", "crt"),
    "quantity": ("quantity",),
    "omit": ("omit",),
    "call": ("ampstatus",),
}
# The per-well results sheet: "Results" (QuantStudio software, Design & Analysis), or
# "Primary_result" (Diomni software exporting a QuantStudio run).
_RESULT_SHEETS = ("Results", "Primary_result")
# A header row starts with one of these: "Well" (well number, then "Well Position"), or
# "Well Position" alone in the Primary Analysis export.
_HEADER_FIRST = ("Well", "Well Position")
_POSITION = re.compile(r"^[A-Za-z]{1,2}\d{1,3}$")
# The instrument's own standard curve, repeated on every row of a target: Results in the text
# export ("R(superscript 2)"), the "Standard Curve Result" sheet in Design & Analysis ("R2").
_CURVE_NAMES = {
    "slope": ("slope",),
    "intercept": ("y-intercept", "yintercept"),
    "r_squared": ("r(superscript2)", "r2", "r^2", "rsquared"),
    "efficiency_pct": ("efficiency", "efficiency(%)", "efficiency%"),
}


def sniff(head: bytes) -> bool:
    text = strip_bom(head)
    if text.startswith(b"PK\x03\x04"):
        # An xlsx: its members are named in the local headers near the start.
        return b"xl/" in text[:65536] or b"[Content_Types].xml" in text[:65536]
    if text.startswith(b"* ") and b" = " in text[:2000]:
        return True
    return b"[Results]" in text and b"Well Position" in text


def _is_position_column(body: Sequence[Sequence[Any]], index: int) -> bool:
    cells = [str(r[index]).strip() for r in body if index < len(r) and r[index] is not None]
    return bool(cells) and all(_POSITION.match(c) for c in cells)


def _column_indexes(
    header: Sequence[Any], path: Path, body: Sequence[Sequence[Any]] = ()
) -> dict[str, int]:
    keys = [header_key(str(h)) if h is not None else "" for h in header]
    found: dict[str, int] = {}
    for column, names in _NAMES.items():
        for name in names:
            if name in keys:
                found[column] = keys.index(name)  # first occurrence wins
                break
    if "well" not in found and "well" in keys and _is_position_column(body, keys.index("well")):
        # Diomni writes the position ("A01") in "Well" and has no "Well Position" column;
        # elsewhere "Well" is the well number, which does not name a well on its own.
        found["well"] = keys.index("well")
    if "snpassayname" in keys or "allele1ct" in keys:
        raise InputError(
            "this is a genotyping (SNP assay) Results table: it has allele calls and "
            "Allele1/Allele2 Ct, not one Cq per target; cytorelease reads quantification "
            "results (standard curve or comparative Ct experiments)",
            path=path,
        )
    missing = [c for c in ("well", "cq") if c not in found]
    if "target" not in found and "reporter" not in found:
        missing.insert(1, "target")
    if missing:
        raise InputError(
            f"Results table lacks the {', '.join(missing)} column(s)",
            path=path,
            hint="export the Results section with Well Position, Target Name and CT",
        )
    return found


def _record(row: Sequence[Any], cols: dict[str, int], path: Path, where: str) -> dict[str, Any]:
    def cell(name: str) -> Any:
        index = cols.get(name)
        return row[index] if index is not None and index < len(row) else None

    try:
        cq = parse_float(cell("cq"))
    except ValueError:
        raise InputError(f"{where}: CT {cell('cq')!r} is not a number", path=path) from None
    # Tasks read "NTC", "STANDARD", "POSITIVE_CONTROL" or "Positive Control" by software version.
    task_text = str(cell("task") or "").strip().lower().replace("_", " ")
    task = _TASKS.get(task_text, Task.UNKNOWN)
    quantity = math.nan
    if task is Task.STANDARD:
        try:
            quantity = parse_float(cell("quantity"))
        except ValueError:
            quantity = math.nan
    omit = str(cell("omit") or "").strip().lower() == "true"
    return {
        "well": str(cell("well") or "").strip(),
        "sample": str(cell("sample") or "").strip(),
        "target": str(cell("target") or "").strip() or str(cell("reporter") or "").strip(),
        "task": task,
        "cq": cq,
        "call": str(cell("call") or "").strip(),
        "excluded": omit,
        "quantity": quantity,
    }


def _instrument_curves(
    header: Sequence[Any], body: Sequence[Sequence[Any]], path: Path, where: str
) -> list[InstrumentCurve]:
    """The curve each row states (see :mod:`cytorelease.qpcr.instrument_curve`); [] without."""
    keys = [header_key(str(h)) if h is not None else "" for h in header]
    index = {
        name: next((keys.index(k) for k in spellings if k in keys), None)
        for name, spellings in {**_CURVE_NAMES, "target": _NAMES["target"]}.items()
    }
    if index["slope"] is None or index["target"] is None:
        return []
    found: list[InstrumentCurve] = []
    for number, row in enumerate(body, start=1):
        if not any(str(c).strip() for c in row if c is not None):
            continue
        values: dict[str, float] = {}
        for name in _CURVE_NAMES:
            column = index[name]
            cell = row[column] if column is not None and column < len(row) else None
            try:
                values[name] = parse_float(cell)
            except ValueError:
                raise InputError(
                    f"{where} row {number}: {name.replace('_', ' ')} {cell!r} is not a number",
                    path=path,
                ) from None
        target = str(row[index["target"]] or "").strip() if index["target"] < len(row) else ""
        found.append(InstrumentCurve(target=target, **values))
    return found


def _section(text: str, lines: list[str], name: str) -> tuple[int, str] | None:
    """The line index of a ``[Section]`` heading and its table's text; None without one.

    A section runs to the next "[...]" line or a blank line; only when it runs to the end of a
    file without a final line break can its last row be cut off (no line break is added then,
    so the reader sees the cut).
    """
    start = next((i for i, ln in enumerate(lines) if ln.strip() == name), None)
    if start is None:
        return None
    section = []
    ended = False
    for line in lines[start + 1 :]:
        if line.startswith("[") or not line.strip():
            ended = True
            break
        section.append(line)
    complete = ended or text.endswith(("\n", "\r"))
    return start, "\n".join(section) + ("\n" if complete else "")


def _read_text(data: bytes, path: Path, sha256: str) -> QpcrExport:
    text = decode(data)
    lines = text.splitlines()
    metadata: dict[str, str] = {}
    for line in lines:
        if line.startswith("* ") and "=" in line:
            key, _, value = line[2:].partition("=")
            metadata[key.strip()] = value.strip()
    found = _section(text, lines, "[Results]")
    if found is None:
        raise InputError(
            "no [Results] section (truncated copy, or exported without results?)", path=path
        )
    start, section_text = found
    header, body = split_rows(section_text, delimiter="\t", path=path)
    cols = _column_indexes(header, path, body)
    rows = [
        _record(row, cols, path, f"[Results] line {n}")
        for n, row in enumerate(body, start=start + 3)
        if any(c.strip() for c in row)
    ]
    if any(r["task"] is Task.STANDARD and math.isnan(r["quantity"]) for r in rows):
        setup = _section(text, lines, "[Sample Setup]")
        if setup is not None:
            sc_header, sc_body = split_rows(setup[1], delimiter="\t", path=path)
            quantities = _standard_quantities(sc_header, [tuple(r) for r in sc_body])
            for row in rows:
                if row["task"] is Task.STANDARD and math.isnan(row["quantity"]):
                    row["quantity"] = quantities.get((row["well"], row["target"]), math.nan)
    curves = _instrument_curves(header, body, path, "[Results]")
    return QpcrExport(
        format=FORMAT,
        instrument=metadata.get("Instrument Type", "QuantStudio"),
        table=make_table(rows, digital=False),
        path=path,
        sha256=sha256,
        digital=False,
        metadata=metadata,
        instrument_curves=collect_instrument_curves(curves, path),
    )


def _sheet_table(sheet: Any) -> tuple[dict[str, str], list[Any], list[tuple[Any, ...]]]:
    """Key/value block, header row (the first row starting with "Well"), data rows.

    The table ends at its first blank row: below it some exports add a footer block
    ("Endogenous Control", "Reference Sample", analysis settings) that holds no wells.
    """
    metadata: dict[str, str] = {}
    header: list[Any] | None = None
    body: list[tuple[Any, ...]] = []
    for row in sheet.iter_rows(values_only=True):
        if header is None:
            if row and row[0] in _HEADER_FIRST:
                header = list(row)
            elif row and row[0] is not None and len(row) > 1:
                metadata[str(row[0])] = "" if row[1] is None else str(row[1])
        elif row and any(v not in (None, "") for v in row):
            body.append(row)
        else:
            break
    return metadata, header or [], body


def _read_xlsx(data: bytes, path: Path, sha256: str) -> QpcrExport:
    from cytorelease.qpcr.readers._xlsx_table import open_workbook

    with open_workbook(data, path) as book:
        metadata, rows, curves = _xlsx_rows(book, path)
    return QpcrExport(
        format=FORMAT,
        instrument=metadata.get("Instrument Type", "QuantStudio"),
        table=make_table(rows, digital=False),
        path=path,
        sha256=sha256,
        digital=False,
        metadata=metadata,
        instrument_curves=collect_instrument_curves(curves, path),
    )


def _xlsx_rows(
    book: Any, path: Path
) -> tuple[dict[str, str], list[dict[str, Any]], list[InstrumentCurve]]:
    sheet = next((name for name in _RESULT_SHEETS if name in book.sheetnames), None)
    if sheet is None:
        raise InputError(
            f"xlsx has no 'Results' sheet (sheets: {', '.join(book.sheetnames)}); "
            "not a QuantStudio Design & Analysis export",
            path=path,
        )
    metadata, header, body = _sheet_table(book[sheet])
    if not header:
        raise InputError(
            f"the '{sheet}' sheet has no header row starting with 'Well' or 'Well Position'",
            path=path,
        )
    cols = _column_indexes(header, path, body)
    rows = [_record(r, cols, path, f"Results row {i}") for i, r in enumerate(body, start=1)]
    curves = _instrument_curves(header, body, path, f"the '{sheet}' sheet")
    if "Standard Curve Result" in book.sheetnames:
        _, sc_header, sc_body = _sheet_table(book["Standard Curve Result"])
        quantities = _standard_quantities(sc_header, sc_body)
        for row in rows:
            if row["task"] is Task.STANDARD and math.isnan(row["quantity"]):
                row["quantity"] = quantities.get((row["well"], row["target"]), math.nan)
        curves += _instrument_curves(sc_header, sc_body, path, "the 'Standard Curve Result' sheet")
    return metadata, rows, curves


def _standard_quantities(
    header: list[Any], body: list[tuple[Any, ...]]
) -> dict[tuple[str, str], float]:
    """(well, target) -> quantity from a standard-curve sheet or a [Sample Setup] table."""
    keys = [header_key(str(h)) if h is not None else "" for h in header]
    target = next((k for k in ("target", "targetname") if k in keys), None)
    if target is None or not {"wellposition", "quantity"} <= set(keys):
        return {}
    w, t, q = keys.index("wellposition"), keys.index(target), keys.index("quantity")
    out: dict[tuple[str, str], float] = {}
    for row in body:
        try:
            out[(str(row[w]).strip(), str(row[t]).strip())] = parse_float(row[q])
        except (ValueError, IndexError):
            continue
    return out


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, path, sha256)
    return _read_text(data, path, sha256)
