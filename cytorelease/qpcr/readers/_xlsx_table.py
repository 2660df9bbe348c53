"""A header-and-rows table from the first xlsx sheet that has one (for CFX workbook exports).

CFX Manager / Maestro save "Quantification Cq Results" as a workbook whose sheet (named "0")
holds the same columns as the CSV. Cells are turned into the text the CSV would carry, so one
set of rules reads both: whole numbers without ".0" (a sample typed as 206 stays "206").
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._zip import check_archive

__all__ = ["HEADER_SEARCH_ROWS", "find_table", "open_workbook"]

HEADER_SEARCH_ROWS = 20  # a results header sits in the first rows of its sheet


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@contextmanager
def open_workbook(data: bytes, path: Path) -> Iterator[Any]:
    """The workbook in ``data`` (read-only, cached values), closed afterwards; any damage, found
    on opening or while its rows are read (openpyxl reads sheets lazily), becomes one InputError.
    Only errors raised inside openpyxl and its parsers are damage; one raised by the caller's
    own code in the block is a bug and goes through unchanged.
    """
    import zipfile
    import zlib
    from xml.etree.ElementTree import ParseError

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    check_archive(data, path)  # size and ratio limits before openpyxl inflates anything
    damaged = (
        zipfile.BadZipFile,
        zlib.error,
        ParseError,
        InvalidFileException,
        LookupError,  # a missing member (KeyError), a bad shared-string index, an XML
        # declaration naming an unknown encoding
        OSError,
        EOFError,
        ValueError,
        TypeError,
        NotImplementedError,
        *_lxml_errors(),
    )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            yield book
        finally:
            book.close()
    except InputError:
        raise
    except damaged as exc:
        if not _raised_by_parser(exc):
            raise  # our own code inside the block failed: a bug, not a damaged workbook
        raise InputError(
            f"not a readable xlsx workbook ({type(exc).__name__}: {exc}; truncated copy?)",
            path=path,
        ) from None


# Where a damaged workbook makes the parsers trip: openpyxl and the XML and zip code under it.
_PARSER_PARTS = ("openpyxl", "et_xmlfile", "lxml", "xml", "zipfile", "zlib")


def _raised_by_parser(exc: BaseException) -> bool:
    """Whether the innermost Python frame of ``exc`` is in openpyxl or a library it parses with;
    only those errors say the workbook is damaged (openpyxl does not convert its own)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    parts = Path(frames[-1].filename).parts
    return any(part in _PARSER_PARTS or part.startswith("zipfile") for part in parts[-4:])


def _lxml_errors() -> tuple[type[Exception], ...]:
    """openpyxl parses sheet XML with lxml when it is installed, and lxml's syntax error is not
    the standard library's ParseError."""
    try:
        from lxml.etree import XMLSyntaxError
    except ImportError:
        return ()
    return (XMLSyntaxError,)


def find_table(
    data: bytes, path: Path, is_header: Callable[[Sequence[str]], bool]
) -> tuple[list[str], list[list[str]], int] | None:
    """(header, rows, header's 1-based row number) of the first sheet with a header row.

    The table ends at its first blank row. None when no sheet has such a header.
    """
    with open_workbook(data, path) as book:
        for sheet in book.worksheets:
            found = _sheet_table(sheet, is_header)
            if found is not None:
                return found
    return None


def _sheet_table(
    sheet: Any, is_header: Callable[[Sequence[str]], bool]
) -> tuple[list[str], list[list[str]], int] | None:
    header: list[str] | None = None
    header_row = 0
    body: list[list[str]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        row = [_text(v) for v in values]
        if header is None:
            if is_header(row):
                header, header_row = row, number
            elif number >= HEADER_SEARCH_ROWS:
                return None
        elif any(c.strip() for c in row):
            body.append(row)
        else:
            break
    return None if header is None else (header, body, header_row)
