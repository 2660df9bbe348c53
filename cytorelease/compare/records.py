"""A folder of release records (``result.json``, schema ``cytorelease.result/1``) as a result set.

Every file named ``result.json`` under the folder is one lot. An attribute's value is the
record's measurement (six significant digits, the precision the record keeps) where it has one,
else the spec's reported value (a derived attribute such as ``derived.car_viable_t_cells`` has
only that); its verdict is the criterion's, and the lot's disposition the evaluation's. A record
that is no JSON, of another schema, without a lot id, or a second record of the same lot is
refused naming the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cytorelease.compare.sets import Entry, ResultSet, SetBuilder
from cytorelease.compare.table import number_or_text
from cytorelease.errors import InputError

__all__ = ["RECORD_NAME", "RESULT_SCHEMA", "read_records"]

RECORD_NAME = "result.json"
RESULT_SCHEMA = "cytorelease.result/1"


def _load(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start:,})", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"line {exc.lineno}: not JSON ({exc.msg})", path=path) from None
    if not isinstance(record, dict) or record.get("schema") != RESULT_SCHEMA:
        raise InputError(f"not a release record (expected schema {RESULT_SCHEMA})", path=path)
    return record


def _value(raw: object, where: str, path: Path) -> tuple[float | None, str]:
    if isinstance(raw, bool) or raw is None or not isinstance(raw, int | float | str):
        raise InputError(f"{where}: the value is no number and no text", path=path)
    if isinstance(raw, str):
        try:
            return number_or_text(raw.strip()), raw.strip()
        except ValueError as exc:
            raise InputError(f"{where}: value {exc}", path=path) from None
    return float(raw), repr(raw)


def _entries(record: dict[str, Any], lot: str, path: Path) -> list[Entry]:
    evaluation = record.get("evaluation") or {}
    criteria = {
        c["attribute"]: c
        for c in evaluation.get("criteria") or ()
        if isinstance(c, dict) and isinstance(c.get("attribute"), str)
    }
    entries: list[Entry] = []
    measured: set[str] = set()
    for index, m in enumerate(record.get("measurements") or ()):
        where = f"measurements[{index}]"
        if not isinstance(m, dict) or not isinstance(m.get("attribute"), str):
            raise InputError(f"{where}: no attribute", path=path)
        attribute = m["attribute"]
        value, text = _value(m.get("value"), f"{where} ({attribute})", path)
        criterion = criteria.get(attribute, {})
        verdict = criterion.get("verdict") if isinstance(criterion.get("verdict"), str) else None
        unit = m.get("unit") if isinstance(m.get("unit"), str) and m.get("unit") else None
        entries.append(Entry(lot, attribute, value, text, unit, verdict, f"{path} {where}"))
        measured.add(attribute)
    for attribute, criterion in criteria.items():
        reported = criterion.get("reported")
        if attribute in measured or reported is None:
            continue  # a criterion without a reported value (pending) holds no result
        where = f"evaluation.criteria ({attribute})"
        value, text = _value(reported, where, path)
        verdict = criterion.get("verdict") if isinstance(criterion.get("verdict"), str) else None
        unit = criterion.get("unit") if isinstance(criterion.get("unit"), str) else None
        entries.append(Entry(lot, attribute, value, text, unit or None, verdict, f"{path} {where}"))
    return entries


def read_records(folder: Path) -> ResultSet:
    """Every ``result.json`` under ``folder``, one lot each."""
    files = sorted(folder.rglob(RECORD_NAME))
    if not files:
        raise InputError(f"no {RECORD_NAME} anywhere under this folder", path=folder)
    builder = SetBuilder(folder)
    dispositions: dict[str, str] = {}
    sources: dict[str, Path] = {}
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
        record = _load(path)
        lot = (record.get("lot") or {}).get("id") if isinstance(record.get("lot"), dict) else None
        if not isinstance(lot, str) or not lot.strip():
            raise InputError("lot.id: the record names no lot", path=path)
        if lot in sources:
            raise InputError(
                f"a second record of lot {lot!r} (the first is {sources[lot]}); keep one per lot",
                path=path,
            )
        sources[lot] = path
        for entry in _entries(record, lot, path):
            builder.add(entry)
        disposition = (record.get("evaluation") or {}).get("disposition")
        if isinstance(disposition, str):
            dispositions[lot] = disposition
    return ResultSet(
        folder, digest.hexdigest(), "records", tuple(builder.entries), dispositions, True
    )
