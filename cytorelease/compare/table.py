"""A ``lots table``-style CSV export as a result set: one row per lot and attribute.

Columns ``lot``, ``attribute`` and ``value`` are required; ``unit``, ``verdict`` and
``disposition`` are read when present (``product``, ``site``, ``date``, ``spec`` and any other
column are carried by the export but not needed to compare). A value is a number or, for a
qualitative attribute, text; a number that is not finite (``nan``, ``inf``) is refused. Every
refusal names the file and the line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from pathlib import Path

from cytorelease.compare.sets import Entry, ResultSet, SetBuilder
from cytorelease.csv_table import csv_text, header_columns
from cytorelease.errors import InputError

__all__ = ["REQUIRED_COLUMNS", "number_or_text", "read_csv_set"]

REQUIRED_COLUMNS = ("lot", "attribute", "value")
OPTIONAL_COLUMNS = ("unit", "verdict", "disposition")


def number_or_text(text: str) -> float | None:
    """The number ``text`` holds, or None if it is text; ValueError for a non-finite number."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _entry(path: Path, cells: list[str], columns: dict[str, int], line: int) -> Entry:
    def cell(name: str) -> str:
        index = columns.get(name)
        return "" if index is None else cells[index].strip()

    lot, attribute, text = cell("lot"), cell("attribute"), cell("value")
    for name, content in (("lot", lot), ("attribute", attribute), ("value", text)):
        if not content:
            raise InputError(f"line {line}: the {name} is empty", path=path)
    try:
        value = number_or_text(text)
    except ValueError as exc:
        raise InputError(f"line {line}: value {exc}", path=path) from None
    verdict = cell("verdict") or None
    return Entry(lot, attribute, value, text, cell("unit") or None, verdict, f"line {line}")


def read_csv_set(path: Path) -> ResultSet:
    """Every row of the table at ``path``, checked; refused whole at the first bad line."""
    data = path.read_bytes()
    reader = csv.reader(io.StringIO(csv_text(path, data), newline=""))
    builder = SetBuilder(path)
    dispositions: dict[str, tuple[str, int]] = {}
    try:
        header = next(reader, None)
        columns = header_columns(path, header, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
        width = len(header or ())
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line holds no row
            if len(cells) != width:
                raise InputError(
                    f"line {line}: {len(cells)} cells where the header has {width}", path=path
                )
            entry = _entry(path, cells, columns, line)
            builder.add(entry)
            if "disposition" in columns and (disposition := cells[columns["disposition"]].strip()):
                known, first = dispositions.setdefault(entry.lot, (disposition, line))
                if known != disposition:
                    raise InputError(
                        f"line {line}: lot {entry.lot!r} has disposition {disposition!r} where "
                        f"line {first} has {known!r}",
                        path=path,
                    )
    except csv.Error as exc:
        raise InputError(
            f"line {reader.line_num}: not a readable CSV row ({exc})", path=path
        ) from None
    if not builder.entries:
        raise InputError("the table has a header but no row", path=path)
    return ResultSet(
        path,
        hashlib.sha256(data).hexdigest(),
        "csv",
        tuple(builder.entries),
        {lot: d for lot, (d, _) in dispositions.items()},
        "verdict" in columns,
    )
