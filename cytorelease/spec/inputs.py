"""Measurements to evaluate: from a measurements file, a result record, or Measurement objects.

Accepted JSON documents:

- ``{"measurements": [{"attribute": ..., "value": ..., "unit": ...}, ...]}``, values numbers,
  strings (``"79.95"``, ``"not detected"``), booleans or null (ran, no value);
- a canonical result record (``"schema": "cytorelease.result/1"``) with the same top-level
  ``measurements`` list; its ``lot`` is kept for re-evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.measurement import Measurement
from cytorelease.provenance import file_sha256

__all__ = [
    "MeasurementSet",
    "RawMeasurement",
    "measurement_set",
    "read_measurements",
]

RESULT_SCHEMA_PREFIX = "cytorelease.result/"
RESULT_SCHEMA = "cytorelease.result/1"
_SCHEMA_KEYS = ("schema", "schema_id", "$schema")


@dataclass(frozen=True, slots=True)
class RawMeasurement:
    """One measurement as supplied: no rounding, no conversion yet."""

    attribute: str
    value: float | int | str | bool | None
    unit: str | None
    # a manual result's second-person check, as its details record it ("verified", ...)
    verification: str | None = None
    verification_note: str | None = None


@dataclass(frozen=True, slots=True)
class MeasurementSet:
    """Measurements by attribute, and where they came from."""

    by_attribute: Mapping[str, RawMeasurement]
    source: Path | None = None
    sha256: str | None = None
    lot: Any = None
    record: Mapping[str, Any] | None = None  # the result record, when the input was one

    def get(self, attribute: str) -> RawMeasurement | None:
        return self.by_attribute.get(attribute)


def _entry(item: Any, index: int) -> RawMeasurement:
    where = f"measurements[{index}]"
    if isinstance(item, Measurement):
        return RawMeasurement(item.attribute, item.value, item.unit, *_verification(item.details))
    if not isinstance(item, Mapping):
        raise InputError(f"{where} is not an object with attribute, value and unit")
    attribute = item.get("attribute")
    if not isinstance(attribute, str) or not attribute:
        raise InputError(f"{where} has no 'attribute' name")
    if "value" not in item:
        raise InputError(f"{where} ({attribute}) has no 'value' (use null for no result)")
    value = item["value"]
    if not (value is None or isinstance(value, bool | int | float | str)):
        raise InputError(f"{where} ({attribute}): value must be a number, a string or null")
    unit = item.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise InputError(f"{where} ({attribute}): unit must be a string")
    return RawMeasurement(attribute, value, unit, *_verification(item.get("details")))


def _verification(details: Any) -> tuple[str | None, str | None]:
    if not isinstance(details, Mapping):
        return None, None
    state, note = details.get("verification"), details.get("verification_note")
    return (state if isinstance(state, str) else None, note if isinstance(note, str) else None)


def measurement_set(
    items: Iterable[Measurement | Mapping[str, Any]],
    *,
    source: Path | None = None,
    sha256: str | None = None,
    lot: Any = None,
    record: Mapping[str, Any] | None = None,
) -> MeasurementSet:
    """Index measurements by attribute; the same attribute twice is ambiguous and refused."""
    found: dict[str, RawMeasurement] = {}
    for index, item in enumerate(items):
        entry = _entry(item, index)
        if entry.attribute in found:
            raise InputError(
                f"measurements[{index}]: attribute '{entry.attribute}' is given twice",
                path=source,
            )
        found[entry.attribute] = entry
    return MeasurementSet(found, source=source, sha256=sha256, lot=lot, record=record)


def _schema_of(document: Mapping[str, Any]) -> str | None:
    for key in _SCHEMA_KEYS:
        value = document.get(key)
        if isinstance(value, str) and value.startswith(RESULT_SCHEMA_PREFIX):
            return value
    return None


def read_measurements(path: str | Path) -> MeasurementSet:
    """Read a measurements file or a result record (``InputError`` naming the file)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", path=path
        ) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None
    if not isinstance(document, dict) or not isinstance(document.get("measurements"), list):
        raise InputError(
            'expected {"measurements": [{"attribute": ..., "value": ..., "unit": ...}]} '
            "or a cytorelease.result/1 record",
            path=path,
        )
    schema = _schema_of(document)
    if schema is not None and schema != RESULT_SCHEMA:
        raise InputError(
            f"result record schema '{schema}' is not supported: this cytorelease reads "
            f"{RESULT_SCHEMA}",
            path=path,
        )
    try:
        return measurement_set(
            document["measurements"],
            source=path,
            sha256=file_sha256(path),
            lot=document.get("lot"),
            record=document if schema else None,
        )
    except InputError as exc:
        raise exc.with_path(path) from None
