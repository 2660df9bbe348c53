"""A lot's manual results as the measurements its spec judges.

The signed records in ``manual/`` (:mod:`cytorelease.manual`) are the controlled form: a value
counts once a second person verified it, and a mismatch stops the evaluation. Entries written
straight into lot.yaml's ``manual:`` list carry only a self-declared author: they are shown but
``unverified``, so a lot whose manual results exist only there cannot pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import InputError, ManifestError
from cytorelease.lot.manifest import MANIFEST_NAME, LotManifest
from cytorelease.measurement import Measurement, MethodRef

if TYPE_CHECKING:
    from cytorelease.manual import ManualResult
    from cytorelease.report.registry import Registry

__all__ = [
    "CARRIED_VERSION",
    "LEGACY_NOTE",
    "carried_record",
    "manual_measurement",
    "manual_measurements",
]

# The manual-entry method whose measurement carries its signed record (version 2 named it by
# its hash only; version 1 is a value written into lot.yaml).
CARRIED_VERSION = "3"

LEGACY_NOTE = (
    "written in lot.yaml with a self-declared author, not signed: enter it with "
    "`cytorelease manual enter` and have a second person verify it"
)


def manual_measurements(
    lot_dir: Path,
    manifest: LotManifest,
    *,
    registry: Registry | None,
    records_dir: Path | None = None,
    trail_dir: Path | None = None,
) -> list[Measurement]:
    """Every manual result of the lot: the signed records of ``records_dir`` (default the lot
    folder; the worker keeps them beside the lot's manifest) checked against ``registry``, then
    lot.yaml's unsigned entries."""
    from cytorelease.manual import LotIdentity, State, manual_results

    identity = LotIdentity(manifest.lot_id, manifest.chain_of_identity)
    results = manual_results(
        records_dir or lot_dir, identity, registry=registry, trail_dir=trail_dir
    )
    found: list[Measurement] = []
    for attribute, result in sorted(results.items()):
        if result.state is State.MISMATCH:
            raise InputError(
                f"{attribute}: {result.note}; the lot is not evaluated until it is entered again",
                path=result.path,
                hint="the first person enters it again with `cytorelease manual enter ... "
                "--reason TEXT`, and a second person verifies the new entry",
            )
        found.append(manual_measurement(attribute, result))
    for index, entry in enumerate(manifest.manual):
        if entry.attribute in results:
            raise ManifestError(
                f"manual[{index}] ({entry.attribute}) is also in the signed record "
                f"{results[entry.attribute].path}: one result, one place",
                path=lot_dir / MANIFEST_NAME,
                hint="remove it from lot.yaml's manual list",
            )
        found.append(_legacy(entry))
    return found


def manual_measurement(attribute: str, result: ManualResult) -> Measurement:
    """The measurement a checked manual record gives (a release and an addendum alike)."""
    from cytorelease.attributes import ATTRIBUTES
    from cytorelease.manual.values import measurement_value

    details = result.details()
    if result.text:
        # the signed record itself, so `verify` re-checks both signatures offline
        details["manual_record"] = carried_record(result)
    return Measurement(
        attribute=attribute,
        value=measurement_value(attribute, result.value),
        unit=result.unit if result.unit is not None else ATTRIBUTES[attribute].unit,
        method=MethodRef(
            kind="manual", id="manual-entry", version=CARRIED_VERSION, sha256=result.file_sha256
        ),
        details=details,
    )


def carried_record(result: ManualResult) -> dict[str, str]:
    """A manual record as a document carries it: its file, the SHA-256 and the text."""
    from cytorelease.manual.events import MANUAL_DIR

    return {
        "file": f"{MANUAL_DIR}/{result.path.name}",
        "sha256": result.file_sha256,
        "text": result.text,
    }


def _legacy(entry: Any) -> Measurement:
    from cytorelease.attributes import ATTRIBUTES

    details: dict[str, Any] = {
        "entered_by": entry.entered_by,
        "entered_at": entry.entered_at.isoformat().replace("+00:00", "Z"),
        "verification": "unverified",
        "verification_note": LEGACY_NOTE,
    }
    if entry.comment:
        details["comment"] = entry.comment
    value: float | str | bool = entry.value
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    unit = entry.unit if entry.unit is not None else ATTRIBUTES[entry.attribute].unit
    return Measurement(
        attribute=entry.attribute,
        value=value,
        unit=unit,
        method=MethodRef(kind="manual", id="manual-entry", version="1"),
        details=details,
    )
