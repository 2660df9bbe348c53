"""Shared helpers for the delimited-text exports: decoding, header names, numbers, rows."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path

from cytorelease.errors import InputError

__all__ = [
    "decode",
    "first_line",
    "header_key",
    "parse_float",
    "split_rows",
    "strip_bom",
]

_UTF8_BOM = b"\xef\xbb\xbf"
# The micro sign arrives as U+00B5, Greek mu, UTF-8 read as cp1252 ("Âµ"), or a replacement
# character when the exporter wrote cp1252 and the reader assumed UTF-8: all mean "u".
_MICRO = re.compile("Âµ|Î¼|[µμ\ufffd]")
_UNDETERMINED = {
    "",
    "undetermined",
    "nan",
    "n/a",
    "na",
    "-",
    "no ct",
    "no cq",
    "none",
    "null",
}


def strip_bom(data: bytes) -> bytes:
    return data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data


def decode(data: bytes) -> str:
    """Text of an export: BOM dropped, UTF-8 (or UTF-16 with a BOM), else cp1252, else latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    data = strip_bom(data)
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def first_line(head: bytes) -> str:
    """The first non-empty line of a head, decoded leniently (for sniffing)."""
    text = strip_bom(head).decode("utf-8", errors="replace")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def header_key(name: str) -> str:
    """A column name reduced for matching: micro sign as "u", lower case, no spaces or quotes."""
    name = _MICRO.sub("u", name)
    return re.sub(r"[\s\"']+", "", name).lower()


def parse_float(
    value: object, *, undetermined_ok: bool = True, decimal_comma: bool = False
) -> float:
    """A number from an export cell: thousands separators, percent signs and blanks handled.

    Undetermined markers ("Undetermined", "NaN", "N/A", "-", "") give NaN. Anything else that is
    not a number raises ValueError so the caller can name the cell. ``decimal_comma`` is for
    exports written with a European locale (semicolon-separated): "25,31" is 25.31 and "." or a
    space groups thousands ("1.234,5"); a cell without a comma is read as written. Otherwise
    "," groups thousands ("859,071.700").
    """
    if value is None:
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().strip('"').strip()
    if text.lower() in _UNDETERMINED and undetermined_ok:
        return math.nan
    if decimal_comma and "," in text:
        text = text.replace(".", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    return float(text.rstrip("%").strip())


def split_rows(
    text: str, *, delimiter: str, path: Path, header_index: int = 0
) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a delimited table starting at line ``header_index``.

    Blank lines end the table. Rows may be shorter than the header (see
    :func:`check_row_lengths`); only a cut-off last line means a truncated copy.
    """
    lines = text.splitlines(keepends=True)[header_index:]
    table_lines: list[str] = []
    for line in lines:
        if not line.strip():
            break
        table_lines.append(line)
    # Line ends normalised: some exporters (QuantaSoft on a Mac) end lines with a bare CR.
    joined = "\n".join(line.rstrip("\r\n") for line in table_lines)
    rows = list(csv.reader(io.StringIO(joined), delimiter=delimiter))
    if not rows:
        raise InputError("the results table is empty", path=path)
    header, body = rows[0], rows[1:]
    last_complete = table_lines[-1].endswith(("\n", "\r"))
    check_row_lengths(
        header, body, path=path, first_line=header_index + 2, last_complete=last_complete
    )
    return header, body


def check_row_lengths(
    header: Sequence[str],
    body: Sequence[Sequence[str]],
    *,
    path: Path,
    first_line: int,
    last_complete: bool = False,
) -> None:
    """Raise a clear error when the last row was cut off (a truncated copy).

    QuantStudio and QuantaSoft leave out a row's trailing empty fields, so a shorter row that
    ends with a line break is complete: its missing fields are empty cells. Only the last row,
    when the file ends without a line break, must reach the header's last named column.
    """
    if not body or last_complete:
        return
    named = [i for i, name in enumerate(header) if name.strip()]
    last_needed = (max(named) + 1) if named else len(header)
    row = body[-1]
    if len(row) < last_needed:
        raise InputError(
            f"line {first_line + len(body) - 1:,} has {len(row)} fields but the header has "
            f"{len(header)} (truncated copy?)",
            path=path,
            hint="export the results again or copy the complete file",
        )
