"""The two checks every CSV table this project reads starts with: UTF-8 text, and a header row
naming each required column once. Both refusals name the file and, for the header, line 1."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["csv_text", "header_columns"]


def csv_text(path: Path, data: bytes) -> str:
    """The file's bytes as text (a UTF-8 byte order mark dropped); refused when empty or not
    UTF-8, naming the first byte that is not."""
    if not data.strip():
        raise InputError("the file is empty (expected a CSV table with a header row)", path=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start:,}: {data[exc.start : exc.start + 1]!r})",
            path=path,
            hint="save the table as UTF-8 CSV",
        ) from None


def header_columns(
    path: Path, header: list[str] | None, required: Sequence[str], optional: Sequence[str]
) -> dict[str, int]:
    """Where each required column, and each optional one present, sits in the header row;
    refused when the header lacks a required column or repeats any column."""
    if header is None:
        raise InputError("the file is empty (expected a CSV table with a header row)", path=path)
    names = [name.strip() for name in header]
    missing = [name for name in required if name not in names]
    if missing:
        raise InputError(
            f"line 1: the header has no column {', '.join(repr(m) for m in missing)} "
            f"(required: {', '.join(required)}; read when present: {', '.join(optional)})",
            path=path,
        )
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise InputError(f"line 1: the header repeats column {repeated[0]!r}", path=path)
    return {name: names.index(name) for name in (*required, *optional) if name in names}
