"""Export: a lot's records copied complete and checkable (``cytorelease audit export``).

A top-level task like release: it reads the store and the archive (``records/``), the signed
reports (``report/``) and the definitions the results name (specs, gating templates, assays), and
writes a bundle checkable with ``sha256sum -c``. ``records/`` stays storage only.
"""

from __future__ import annotations

from cytorelease.export.bundle import BundleFile, BundleWriter, FileRole
from cytorelease.export.lot_export import (
    EXPORT_SCHEMA,
    ExportReport,
    export_lot,
    export_lot_from_store,
)

__all__ = [
    "EXPORT_SCHEMA",
    "BundleFile",
    "BundleWriter",
    "ExportReport",
    "FileRole",
    "export_lot",
    "export_lot_from_store",
]
