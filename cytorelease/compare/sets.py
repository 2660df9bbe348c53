"""A set of results to compare: one value (and verdict) per lot and attribute, from a file or a folder.

``read_set`` takes a ``lots table``-style CSV export or a folder of ``result.json`` release
records and returns the same :class:`ResultSet` either way. The checks both readers share live
here: one value per (lot, attribute), one unit per attribute, and an attribute is either numeric
or text in a set, never both (a ``12,3`` among numbers is a value that cannot be read, not a
qualitative result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["Entry", "ResultSet", "SetBuilder", "read_set"]


@dataclass(frozen=True)
class Entry:
    """One lot's result for one attribute; ``value`` is None for a text (qualitative) result."""

    lot: str
    attribute: str
    value: float | None
    text: str
    unit: str | None
    verdict: str | None
    where: str  # "line 12" or the record file, for messages


@dataclass(frozen=True)
class ResultSet:
    """Every entry of one side of a comparison, and where it came from."""

    path: Path
    sha256: str
    kind: str  # "csv", "records" or "lots-dataset"
    entries: tuple[Entry, ...]
    dispositions: dict[str, str]  # lot -> disposition, where the source holds one
    has_verdicts: bool
    selection: str | None = None  # the keys of a lots-dataset selection (path: the data folder)

    def lots(self) -> list[str]:
        return sorted({e.lot for e in self.entries} | set(self.dispositions))

    def by_attribute(self) -> dict[str, dict[str, Entry]]:
        """attribute -> lot -> entry."""
        table: dict[str, dict[str, Entry]] = {}
        for entry in self.entries:
            table.setdefault(entry.attribute, {})[entry.lot] = entry
        return table

    def numeric_attributes(self) -> set[str]:
        return {e.attribute for e in self.entries if e.value is not None}

    def unit_of(self, attribute: str) -> str | None:
        return next((e.unit for e in self.entries if e.attribute == attribute), None)


@dataclass
class SetBuilder:
    """Collects entries and refuses, naming the file and where in it, what the set cannot hold."""

    path: Path
    entries: list[Entry] = field(default_factory=list)
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)
    _units: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    _numeric: dict[str, tuple[bool, Entry]] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        key = (entry.lot, entry.attribute)
        if key in self._seen:
            raise InputError(
                f"{entry.where}: lot {entry.lot!r} has attribute {entry.attribute!r} a second "
                f"time (first at {self._seen[key]})",
                path=self.path,
            )
        self._seen[key] = entry.where
        unit, first = self._units.setdefault(entry.attribute, (entry.unit, entry.where))
        if unit != entry.unit:
            raise InputError(
                f"{entry.where}: attribute {entry.attribute!r} in unit {entry.unit or 'none'!r} "
                f"where {first} has {unit or 'none'!r} (one unit per attribute: convert first)",
                path=self.path,
            )
        numeric = entry.value is not None
        was, earlier = self._numeric.setdefault(entry.attribute, (numeric, entry))
        if was != numeric:
            number, text = (earlier, entry) if was else (entry, earlier)
            raise InputError(
                f"{text.where}: attribute {entry.attribute!r} has the value {text.text!r}, which "
                f"is no number, where {number.where} has a number",
                path=self.path,
            )
        self.entries.append(entry)


def read_set(source: str | Path, *, data_dir: str | Path | None = None) -> ResultSet:
    """The results ``source`` names: a selection of ``data_dir``'s lots dataset
    (``lots:site=S1,...``), a CSV table, or a folder searched for ``result.json`` records."""
    from cytorelease.compare.selection import is_selection, read_selection

    if is_selection(source):
        return read_selection(str(source), data_dir)
    path = Path(source)
    if path.is_dir():
        from cytorelease.compare.records import read_records

        return read_records(path)
    if path.is_file():
        from cytorelease.compare.table import read_csv_set

        return read_csv_set(path)
    raise InputError(
        "no such file or folder (expected a lots table CSV, a folder of result.json records or "
        "a selection lots:KEY=VALUE,...)",
        path=path,
    )
