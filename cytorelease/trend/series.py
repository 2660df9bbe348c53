"""One chart's series: the lots of an attribute (at a site, with ``--by-site``) in lot order.

Lots are ordered by manufacturing date, then by lot id (a day with several lots has no other
order a table can show). The spec limits of a series must be the same on every row: a series
whose limits changed (a new spec version) is refused, not charted against one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.trend.table import Observation, TrendTable

__all__ = ["ORDERING", "Series", "split_series"]

ORDERING = "by date, then by lot id"


@dataclass(frozen=True)
class Series:
    attribute: str
    site: str | None
    lots: tuple[str, ...]
    dates: tuple[date, ...]
    values: tuple[float, ...]
    lsl: float | None
    usl: float | None


def _limit(path: Path, rows: list[Observation], name: str) -> float | None:
    first = rows[0]
    values = list(map(attrgetter(name), rows))
    if values.count(values[0]) == len(values):
        return values[0] if values[0] is None else float(values[0])
    for row in rows[1:]:
        if getattr(row, name) != getattr(first, name):
            raise InputError(
                f"line {row.line}: {name} {getattr(row, name)} differs from line {first.line}'s "
                f"{getattr(first, name)} for attribute {row.attribute!r} (chart one spec's "
                "limits at a time)",
                path=path,
            )
    value = getattr(first, name)
    return value if value is None else float(value)


def _series(path: Path, attribute: str, site: str | None, rows: list[Observation]) -> Series:
    rows = sorted(rows, key=attrgetter("day", "lot"))
    return Series(
        attribute,
        site,
        tuple(r.lot for r in rows),
        tuple(r.day for r in rows),
        tuple(r.value for r in rows),
        _limit(path, rows, "lsl"),
        _limit(path, rows, "usl"),
    )


def _pooled_lots_once(path: Path, rows: list[Observation]) -> None:
    """Without ``--by-site`` a lot measured at two sites would be two points of one lot."""
    lots = list(map(attrgetter("lot"), rows))
    if len(set(lots)) == len(lots):
        return
    seen: dict[str, Observation] = {}
    for row in rows:
        if row.lot in seen:
            raise InputError(
                f"line {row.line}: lot {row.lot!r} has attribute {row.attribute!r} at sites "
                f"{seen[row.lot].site!r} and {row.site!r} (line {seen[row.lot].line})",
                path=path,
                hint="chart them with --by-site",
            )
        seen[row.lot] = row


def split_series(table: TrendTable, attributes: tuple[str, ...], *, by_site: bool) -> list[Series]:
    """The series to chart, in the order the attributes were asked for (sites sorted)."""
    if by_site and not table.has_site:
        raise InputError(
            "line 1: --by-site needs a 'site' column and the header has none", path=table.path
        )
    found: list[Series] = []
    by_attribute: dict[str, list[Observation]] = {a: [] for a in attributes}
    for row in table.rows:
        if row.attribute in by_attribute:
            by_attribute[row.attribute].append(row)
    for attribute in dict.fromkeys(attributes):
        rows = by_attribute[attribute]
        if not by_site:
            _pooled_lots_once(table.path, rows)
            found.append(_series(table.path, attribute, None, rows))
            continue
        for site in sorted({r.site for r in rows if r.site is not None}):
            found.append(_series(table.path, attribute, site, [r for r in rows if r.site == site]))
    return found
