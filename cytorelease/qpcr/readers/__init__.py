"""qPCR / dPCR export readers, one module per format, chosen by content (never by file name).

>>> export = read_export("run.csv")            # doctest: +SKIP
>>> export.format, export.instrument, export.table.head()  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import hashlib
import zipfile
import zlib
from pathlib import Path
from xml.etree.ElementTree import ParseError

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.qpcr.readers.sniff import detect_format, reader_for
from cytorelease.qpcr.table import ExportFormat, QpcrExport

__all__ = ["FORMAT_NAMES", "MAX_EXPORT_BYTES", "read_export"]

FORMAT_NAMES: tuple[str, ...] = ("auto", *(f.value for f in ExportFormat))
MAX_EXPORT_BYTES = 512 * 1024 * 1024


# What a damaged file can make a reader trip over; each becomes one InputError line.
_LAYOUT_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    UnicodeError,
    csv.Error,
    zipfile.BadZipFile,
    EOFError,
    TypeError,
    AttributeError,
    OverflowError,
    NotImplementedError,
    zlib.error,
    ParseError,
)


def _load(path: Path) -> bytes:
    if path.is_dir():
        raise InputError("is a folder, not an export file", path=path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    size = path.stat().st_size
    if size == 0:
        raise InputError("the file is empty", path=path)
    if size > MAX_EXPORT_BYTES:
        raise InputError(
            f"{size:,} bytes is larger than any qPCR export ({MAX_EXPORT_BYTES:,} limit)",
            path=path,
        )
    return path.read_bytes()


def read_export(path: str | Path, fmt: str | ExportFormat = "auto") -> QpcrExport:
    """Parse one export into a :class:`QpcrExport` (tidy table + provenance).

    ``fmt`` is "auto" (sniff the content) or an :class:`ExportFormat` value.
    """
    path = Path(path)
    data = _load(path)
    if str(fmt) == "auto":
        chosen = detect_format(data, path=path)
    else:
        try:
            chosen = ExportFormat(str(fmt))
        except ValueError:
            raise InputError(
                f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}", path=path
            ) from None
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        export = reader_for(chosen).read(data, path=path, sha256=sha256)
    except CytoreleaseError:
        raise
    except _LAYOUT_ERRORS as exc:
        # A file that passed the sniffer but breaks the layout: say which reader gave up.
        raise InputError(
            f"not a readable {chosen.value} export ({type(exc).__name__}: {exc})", path=path
        ) from None
    if export.table.empty:
        raise InputError(f"the {chosen.value} export has no result rows", path=path)
    return export
