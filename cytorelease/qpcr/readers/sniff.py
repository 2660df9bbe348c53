"""Choosing a reader by content: every reader's ``sniff(head)`` is asked; one must say yes."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from cytorelease.errors import InputError
from cytorelease.qpcr.table import ExportFormat

__all__ = ["HEAD_BYTES", "detect_format", "reader_for"]

HEAD_BYTES = 65_536


def _modules() -> dict[ExportFormat, ModuleType]:
    from cytorelease.qpcr.readers import (
        absoluteq,
        biomark,
        cfx,
        qiacuity,
        quantstudio,
        qx,
        rdml,
    )

    modules = (biomark, quantstudio, cfx, rdml, qx, qiacuity, absoluteq)
    return {m.FORMAT: m for m in modules}


def reader_for(fmt: ExportFormat) -> ModuleType:
    return _modules()[fmt]


def detect_format(head: bytes, *, path: Path) -> ExportFormat:
    """The one format whose sniffer accepts ``head``; else an error naming the formats tried."""
    modules = _modules()
    matches = [fmt for fmt, module in modules.items() if module.sniff(head[:HEAD_BYTES])]
    tried = ", ".join(f.value for f in modules)
    if not matches:
        raise InputError(
            f"unrecognised qPCR/dPCR export (tried {tried})",
            path=path,
            hint="check the file is a results export, or pass --format",
        )
    # Every xlsx passes the QuantStudio sniffer (sheet names sit in compressed XML); a
    # workbook whose sheet holds the CFX Cq results columns is a CFX export.
    if (
        matches == [ExportFormat.QUANTSTUDIO]
        and head.startswith(b"PK\x03\x04")
        and modules[ExportFormat.CFX].is_cfx_workbook(head, path)
    ):
        return ExportFormat.CFX
    if len(matches) > 1:
        found = ", ".join(f.value for f in matches)
        raise InputError(
            f"export matches several formats ({found}); pass --format to choose",
            path=path,
        )
    return matches[0]
