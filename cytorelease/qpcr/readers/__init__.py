"""qPCR / dPCR export readers, one module per format, chosen by content (never by file name).

>>> export = read_export("run.csv")            # doctest: +SKIP
>>> export.format, export.instrument, export.table.head()  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cytorelease.errors import CytoreleaseError, InputError, note_input
from cytorelease.qpcr.readers.sniff import detect_format, reader_for
from cytorelease.qpcr.table import ExportFormat, QpcrExport

__all__ = ["FORMAT_NAMES", "MAX_EXPORT_BYTES", "read_export"]

FORMAT_NAMES: tuple[str, ...] = ("auto", *(f.value for f in ExportFormat))
MAX_EXPORT_BYTES = 512 * 1024 * 1024


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


def _chosen_format(data: bytes, fmt: str | ExportFormat, path: Path) -> ExportFormat:
    if str(fmt) == "auto":
        return detect_format(data, path=path)
    try:
        return ExportFormat(str(fmt))
    except ValueError:
        raise InputError(
            f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}", path=path
        ) from None


def read_export(path: str | Path, fmt: str | ExportFormat = "auto") -> QpcrExport:
    """Parse one export into a :class:`QpcrExport` (tidy table + provenance).

    ``fmt`` is "auto" (sniff the content) or an :class:`ExportFormat` value.
    """
    path = Path(path)
    data = _load(path)
    # Readers refuse bad input with InputError where they find it (naming the line or cell);
    # anything else escaping a reader is a bug in it, not a bad file, and is never disguised as
    # one: it keeps its type and traceback, with a note naming the file.
    try:
        chosen = _chosen_format(data, fmt, path)
        export = reader_for(chosen).read(data, path=path, sha256=hashlib.sha256(data).hexdigest())
    except CytoreleaseError as exc:
        exc.with_path(path)  # a shared helper's refusal learns the file it was reading
        raise
    except Exception as exc:
        note_input(exc, path, "qPCR export reader")
        raise
    if export.table.empty:
        raise InputError(f"the {chosen.value} export has no result rows", path=path)
    return export
