"""The historical table ``--from-csv`` reads: one row per lot and attribute, refused whole or read.

Columns ``lot``, ``date``, ``attribute``, ``value`` are required; ``site``, ``lsl``, ``usl`` are
optional. Only the rows of the attributes asked for are checked beyond their attribute: a
table may carry other attributes (a categorical sterility result, say) that are not charted.
Every refusal names the file and the line, never a guessed value: a value that is no finite
number, a date that is no ISO 8601 date, a second row for the same (lot, attribute[, site]).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from cytorelease.csv_table import csv_text, header_columns
from cytorelease.errors import InputError

__all__ = ["REQUIRED_COLUMNS", "Observation", "TrendTable", "read_table"]

REQUIRED_COLUMNS = ("lot", "date", "attribute", "value")
OPTIONAL_COLUMNS = ("site", "lsl", "usl")


class Observation(NamedTuple):
    """One lot's value of one attribute, with the line of the file it came from (a named
    tuple: a large table holds one per row, and a tuple is made several times faster)."""

    lot: str
    day: date
    attribute: str
    value: float
    site: str | None
    lsl: float | None
    usl: float | None
    line: int


@dataclass(frozen=True)
class TrendTable:
    """The rows of the asked-for attributes, and whether the file has a ``site`` column."""

    path: Path
    sha256: str
    has_site: bool
    rows: tuple[Observation, ...]


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None


def _number(text: str, column: str, line: int, path: Path, *, optional: bool) -> float | None:
    if optional and text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"line {line}: {column} {text!r} is not a finite number", path=path)
    return value


def _observation(
    path: Path, cells: list[str], columns: dict[str, int], line: int, days: dict[str, date]
) -> Observation:
    """One row, checked; ``days`` holds the dates already parsed (lots share days)."""

    def cell(name: str) -> str:
        index = columns.get(name)
        return "" if index is None else cells[index].strip()

    lot, day_text = cells[columns["lot"]].strip(), cells[columns["date"]].strip()
    if not lot:
        raise InputError(f"line {line}: the lot is empty", path=path)
    day = days.get(day_text) or _parse_date(day_text)
    if day is None:
        raise InputError(
            f"line {line}: date {day_text!r} is not an ISO 8601 date (YYYY-MM-DD)", path=path
        )
    days[day_text] = day
    value = _number(cells[columns["value"]].strip(), "value", line, path, optional=False)
    assert value is not None  # required: _number refuses an empty cell
    site = cells[columns["site"]].strip() if "site" in columns else None
    if site == "":
        raise InputError(f"line {line}: the site is empty", path=path)
    lsl = _number(cell("lsl"), "lsl", line, path, optional=True)
    usl = _number(cell("usl"), "usl", line, path, optional=True)
    if lsl is not None and usl is not None and lsl >= usl:
        raise InputError(f"line {line}: lsl {lsl:g} is not below usl {usl:g}", path=path)
    return Observation(lot, day, cells[columns["attribute"]].strip(), value, site, lsl, usl, line)


def read_table(path: Path, attributes: tuple[str, ...]) -> TrendTable:
    """The rows of ``attributes`` from the CSV at ``path``, checked, in file order."""
    import hashlib

    data = path.read_bytes()
    text = csv_text(path, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        columns = header_columns(path, header, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
        width = len(header or ())
        rows: list[Observation] = []
        seen: dict[tuple[str, str, str | None], int] = {}
        present: set[str] = set()
        days: dict[str, date] = {}
        for cells in reader:
            line = reader.line_num
            if not any(map(str.strip, cells)):
                continue  # a blank line holds no row
            if len(cells) != width:
                raise InputError(
                    f"line {line}: {len(cells)} cells where the header has {width}", path=path
                )
            attribute = cells[columns["attribute"]].strip()
            present.add(attribute)
            if attribute not in attributes:
                continue
            row = _observation(path, cells, columns, line, days)
            key = (row.lot, row.attribute, row.site)
            if key in seen:
                where = f" at site {row.site!r}" if row.site is not None else ""
                raise InputError(
                    f"line {line}: lot {row.lot!r} has attribute {row.attribute!r}{where} a second "
                    f"time (first on line {seen[key]})",
                    path=path,
                )
            seen[key] = line
            rows.append(row)
    except csv.Error as exc:
        raise InputError(
            f"line {reader.line_num}: not a readable CSV row ({exc})", path=path
        ) from None
    absent = [a for a in attributes if a not in present]
    if absent:
        known = ", ".join(sorted(present)[:20]) or "none"
        raise InputError(
            f"no row for attribute {', '.join(repr(a) for a in absent)} (the table has: {known})",
            path=path,
        )
    return TrendTable(path, hashlib.sha256(data).hexdigest(), "site" in columns, tuple(rows))
