"""What an archived file is, decided by its content: FCS, a qPCR/dPCR export or a plate export.

Identification is what the hook can afford before it returns: FCS files have their HEADER and
TEXT parsed and the DATA segment checked against the file size (no events decoded), exports are
read (they are small). Anything else is invalid, with the reader's one-line reason.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.hook.instruments import InstrumentKind

__all__ = ["FileKind", "Identified", "identify", "preload_reader"]

LOT_KEYWORD = "CYTORELEASE_LOT"
ROLE_KEYWORD = "CYTORELEASE_TUBE_ROLE"


class FileKind(StrEnum):
    FCS = "fcs"
    QPCR_EXPORT = "qpcr-export"
    PLATE_EXPORT = "plate-export"
    UNKNOWN = "unknown"


# Which file kinds each instrument kind produces.
ACCEPTS: dict[InstrumentKind, frozenset[FileKind]] = {
    InstrumentKind.FLOW_CYTOMETER: frozenset({FileKind.FCS}),
    InstrumentKind.QPCR: frozenset({FileKind.QPCR_EXPORT}),
    InstrumentKind.DPCR: frozenset({FileKind.QPCR_EXPORT}),
    InstrumentKind.PLATE_READER: frozenset({FileKind.PLATE_EXPORT}),
}


@dataclass(frozen=True, slots=True)
class Identified:
    kind: FileKind
    meta: dict[str, Any] = field(default_factory=dict)  # routing keys: lot, $SRC, $FIL, samples
    problem: str | None = None  # None: valid

    @property
    def valid(self) -> bool:
        return self.problem is None


def preload_reader(head: bytes) -> threading.Thread:
    """Import, in a background thread, the reader ``identify`` will need for a file starting
    with ``head`` (the archive copy hands over its first bytes), so that its import (numpy
    and the FCS reader, ~0.1 s; the export readers pull pandas) overlaps the rest of the copy
    instead of following it. Only a head start: ``identify`` decides on the archived copy and
    imports what it uses.
    """
    modules = (
        ("cytorelease.flow.fcs",)
        if head.startswith(b"FCS")
        else ("cytorelease.qpcr.readers", "cytorelease.potency.readers")
    )
    thread = threading.Thread(target=_import_quietly, args=(modules,), daemon=True)
    thread.start()
    return thread


def _import_quietly(modules: tuple[str, ...]) -> None:
    # A failure here is identify's to report, from its own import of the same module.
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def identify(path: Path) -> Identified:
    """Identify the file at ``path`` (the archived copy); never raises for bad content."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if not head:
        return Identified(FileKind.UNKNOWN, problem="the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if head.startswith(b"FCS"):
                return _identify_fcs(path)
            return _identify_export(path, head)
    except CytoreleaseError as exc:
        kind = FileKind.FCS if head.startswith(b"FCS") else FileKind.UNKNOWN
        return Identified(kind, problem=exc.problem)


def _identify_fcs(path: Path) -> Identified:
    from cytorelease.flow.fcs import list_datasets, read_keywords

    datasets = list_datasets(path)  # validates segments against the file size
    keywords = read_keywords(path)
    upper = {k.upper(): v for k, v in keywords.items()}
    meta = {
        "lot": upper.get(LOT_KEYWORD) or None,
        "src": upper.get("$SRC") or None,
        "fil": upper.get("$FIL") or None,
        "tube_role": upper.get(ROLE_KEYWORD) or None,
        "events": datasets[0].event_count,
        "datasets": len(datasets),
    }
    return Identified(FileKind.FCS, meta=meta)


def _identify_export(path: Path, head: bytes) -> Identified:
    from cytorelease.potency.readers import read_plate, sniff_format
    from cytorelease.qpcr.readers import read_export
    from cytorelease.qpcr.readers.sniff import detect_format

    # A workbook sniffs as a qPCR export by its container alone; a plate-reader workbook is
    # only found by trying the plate readers after the qPCR reader has said no.
    qpcr_problem: InputError | None = None
    try:
        detect_format(head, path=path)
    except InputError:
        pass
    else:
        try:
            export = read_export(path)
        except InputError as exc:
            qpcr_problem = exc
        else:
            samples = sorted({str(s) for s in export.table["sample"] if str(s)})
            return Identified(
                FileKind.QPCR_EXPORT,
                meta={"format": str(export.format), "samples": samples, "rows": len(export.table)},
            )
    if sniff_format(head) is not None:
        try:
            plate = read_plate(path)
        except InputError:
            if qpcr_problem is not None:
                raise qpcr_problem from None
            raise
        # header values (plate name, lot, sample ids) are what can tie a plate to its lot
        names = sorted({*plate.metadata.values(), *(r.plate for r in plate.readings)})
        return Identified(FileKind.PLATE_EXPORT, meta={"format": str(plate.format), "names": names})
    if qpcr_problem is not None:
        raise qpcr_problem
    return Identified(
        FileKind.UNKNOWN,
        problem="not a valid FCS file or a known qPCR/dPCR or plate-reader export",
    )
