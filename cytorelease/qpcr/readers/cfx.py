"""Bio-Rad CFX Maestro and CFX Manager "Quantification Cq Results" (CSV or tab text).

Both write the same columns (``Well, Fluor, Target, Content, Sample, ..., Cq, ...,
Starting Quantity (SQ)``), often after an empty first column. Maestro writes "NaN" for an
undetermined Cq, Manager "N/A". ``Content`` carries the task (``Unkn``, ``Std``, ``NTC``,
``Neg Ctrl``, ``Pos Ctrl``, with replicate numbers such as ``Unkn-01``). A workstation with a
European locale writes ``;`` between fields and a decimal comma ("25,31"). The software also
saves the table as an xlsx workbook (sheet "0") with the same columns; format detection sends
such a workbook here rather than to the QuantStudio reader.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._text import decode, first_line, header_key, parse_float, split_rows
from cytorelease.qpcr.readers.cfx_completeness import StatsRow, check_replicate_statistics
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.CFX
_REQUIRED = {"well", "fluor", "target", "content", "sample", "cq"}
_OPTIONAL = ("startingquantity(sq)", "cqmean", "cqstd.dev")
_CONTENT = (
    (re.compile(r"^std", re.I), Task.STANDARD),
    (re.compile(r"^unkn", re.I), Task.UNKNOWN),
    (re.compile(r"^ntc", re.I), Task.NTC),
    (re.compile(r"^neg", re.I), Task.NEGATIVE_CONTROL),
    (re.compile(r"^pos", re.I), Task.POSITIVE_CONTROL),
)


def _delimiter(line: str) -> str:
    return max((",", "\t", ";"), key=line.count)


def sniff(head: bytes) -> bool:
    line = first_line(head)
    keys = {header_key(c) for c in line.split(_delimiter(line))}
    return keys >= _REQUIRED


def _task(content: str) -> Task:
    for pattern, task in _CONTENT:
        if pattern.match(content.strip()):
            return task
    # Some exports put a free label in Content (e.g. an miRNA name): a sample, not a control.
    return Task.UNKNOWN


def _is_header(row: Sequence[str]) -> bool:
    return {header_key(c) for c in row} >= _REQUIRED


def is_cfx_workbook(data: bytes, path: Path) -> bool:
    """True for an xlsx whose sheet holds the Cq results columns (for format detection)."""
    from cytorelease.qpcr.readers._xlsx_table import find_table

    try:
        return find_table(data, path, _is_header) is not None
    except Exception:
        # Detection must not fail: a damaged workbook (zipfile and openpyxl raise many kinds of
        # error) is left to the QuantStudio reader, which reports the damage in one line.
        return False


def _xlsx_table(data: bytes, path: Path) -> tuple[list[str], list[list[str]], int]:
    from cytorelease.qpcr.readers._xlsx_table import find_table

    found = find_table(data, path, _is_header)
    if found is None:
        raise InputError(
            "no sheet of the workbook has a Cq results header (Well, Fluor, Target, Content, "
            "Sample, Cq)",
            path=path,
        )
    return found


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    if data.startswith(b"PK\x03\x04"):
        header, body, header_row = _xlsx_table(data, path)
        decimal_comma = False
        start = header_row - 1
    else:
        text = decode(data)
        lines = text.splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.strip()), 0)
        delimiter = _delimiter(lines[start]) if lines else ","
        header, body = split_rows(text, delimiter=delimiter, path=path, header_index=start)
        # Excel's locale rule: a semicolon list separator goes with a decimal comma.
        decimal_comma = delimiter == ";"
    keys = [header_key(h) for h in header]
    if not set(keys) >= _REQUIRED:
        missing = sorted(_REQUIRED - set(keys))
        raise InputError(f"Cq results header lacks {', '.join(missing)}", path=path)
    col = {k: keys.index(k) for k in (*_REQUIRED, *_OPTIONAL) if k in keys}
    rows = []
    stats: list[StatsRow] = []
    saw_nan = saw_na = False
    for line_no, row in enumerate(body, start=start + 2):

        def cell(name: str, row: list[str] = row) -> str:
            index = col.get(name)
            # A trailing field the exporter left out is an empty cell.
            return row[index].strip() if index is not None and index < len(row) else ""

        raw_cq = cell("cq")
        saw_nan |= raw_cq == "NaN"
        saw_na |= raw_cq == "N/A"
        try:
            cq = parse_float(raw_cq, decimal_comma=decimal_comma)
        except ValueError:
            raise InputError(
                f"line {line_no:,}: Cq {raw_cq!r} is not a number", path=path
            ) from None
        task = _task(cell("content"))
        quantity = math.nan
        if task is Task.STANDARD and "startingquantity(sq)" in col:
            try:
                quantity = parse_float(cell("startingquantity(sq)"), decimal_comma=decimal_comma)
            except ValueError:
                quantity = math.nan
        stats.append(
            StatsRow(
                line_no,
                cell("well"),
                (cell("fluor"), cell("target"), cell("content"), cell("sample")),
                raw_cq,
                cell("cqmean"),
                cell("cqstd.dev"),
            )
        )
        rows.append(
            {
                "well": cell("well"),
                "sample": cell("sample"),
                # Targets left blank are named after their fluorophore so channels stay apart.
                "target": cell("target") or cell("fluor"),
                "task": task,
                "cq": cq,
                "quantity": quantity,
            }
        )
    if "cqmean" in col:
        # No well count is declared; the replicate statistics are what can show a cut copy.
        check_replicate_statistics(stats, path=path, decimal_comma=decimal_comma)
    variant = "CFX Maestro" if saw_nan else "CFX Manager" if saw_na else "CFX Maestro/Manager"
    return QpcrExport(
        format=FORMAT,
        instrument=f"Bio-Rad {variant}",
        table=make_table(rows, digital=False),
        path=path,
        sha256=sha256,
        digital=False,
        metadata={},
    )
