"""Rendering for commands: one JSON document for machines, rich tables for people."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["console", "emit_json", "print_table", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: NaN and inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def emit_json(obj: Any) -> None:
    """Print exactly one JSON document on stdout."""
    print(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False))


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    justify_numbers: bool = True,
) -> None:
    """A rich table on stdout; numeric columns are right-aligned."""
    from rich.table import Table

    rows = [list(r) for r in rows]
    table = Table(title=title)
    for index, name in enumerate(columns):
        numeric = (
            justify_numbers
            and rows
            and all(isinstance(r[index], int | float) or r[index] is None for r in rows)
        )
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console().print(table)
