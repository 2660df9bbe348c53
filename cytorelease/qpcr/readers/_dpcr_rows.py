"""Shared helpers for the digital PCR readers: header lookup by normalised name, number cells."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._text import header_key, parse_float

__all__ = ["Columns"]


class Columns:
    """Find columns of a header by normalised name (see :func:`header_key`)."""

    def __init__(self, header: Sequence[str], path: Path) -> None:
        self.keys = [header_key(h) for h in header]
        self.path = path

    def find(self, *names: str, match: Callable[[str], bool] | None = None) -> int | None:
        for name in names:
            if name in self.keys:
                return self.keys.index(name)
        if match is not None:
            for index, key in enumerate(self.keys):
                if match(key):
                    return index
        return None

    def require(self, label: str, *names: str, match: Callable[[str], bool] | None = None) -> int:
        index = self.find(*names, match=match)
        if index is None:
            raise InputError(
                f"no {label} column (looked for {', '.join(names) or 'a matching name'})",
                path=self.path,
            )
        return index

    @staticmethod
    def text(row: Sequence[str], index: int | None) -> str:
        """A cell's text; "" for a column the export lacks or a trailing field it left out."""
        return row[index].strip() if index is not None and index < len(row) else ""

    def number(self, row: Sequence[str], index: int | None, line: int, label: str) -> float:
        if index is None or index >= len(row):
            return math.nan
        try:
            return parse_float(row[index])
        except ValueError:
            raise InputError(
                f"line {line:,}: {label} {row[index]!r} is not a number", path=self.path
            ) from None
