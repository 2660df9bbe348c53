"""Which released lots a change is assessed on, and each lot's task as the coordinator builds it.

A lot is its newest release in the data folder's store (the worker's release rows). The task
carries what a worker needs and nothing it would have to ask the store for: the manifest text
(the one kept with the release, :func:`_manifest`),
the archived inputs the release read (path in the lot folder and SHA-256), and the released
record's measurements, evaluation and definitions. Workers read raw files from the archive path
(shared storage on a cluster) and never open the store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.provenance import content_sha256
from cytorelease.reanalyse.change import Change
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

__all__ = ["LotTask", "Selection", "select_lots"]


@dataclass(frozen=True, slots=True)
class LotTask:
    """One lot to re-analyse; picklable, small, self-contained."""

    lot: str
    release_id: int
    inputs_sha256: str
    archive_dir: str
    work_dir: str
    manifest_text: str
    inputs: tuple[tuple[str, str], ...]  # (path in the lot folder, SHA-256), as released
    released: dict[str, Any]  # measurements, evaluation, definitions of the released record
    change: Change
    library: str | None = None
    # "archived": the manifest kept with the release; "current": the lot's manifest now (a
    # release made before manifests were kept), which the task holds to the released lot
    manifest_source: str = "archived"


@dataclass(frozen=True, slots=True)
class Selection:
    tasks: list[LotTask] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # lots no task can be built for


def _latest_releases(store: Store) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT r.* FROM releases r WHERE r.id = (SELECT MAX(id) FROM releases x"
        " WHERE x.lot = r.lot) ORDER BY r.lot"
    )


def _released_record(row: dict[str, Any]) -> dict[str, Any]:
    """The release's result.json, held against the record hash its release row states."""
    path = Path(str(row["result_path"]))
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError("the released record cannot be read", path=path) from None
    if not isinstance(record, dict) or content_sha256(record) != row["record_sha256"]:
        raise InputError(
            "the released record is not the one its release row states (edited or replaced)",
            path=path,
        )
    return record


# what a task needs of the released record: the lot (its manifest is held to it) and results
_RELEASED = ("lot", "measurements", "evaluation", "definitions")


def _manifest(data: DataDir, row: dict[str, Any]) -> tuple[str, str]:
    """The manifest the lot was released under (kept beside its result.json), else, for a
    release made before manifests were kept, the lot's manifest as it is now."""
    from cytorelease.records.lots import RELEASED_MANIFEST

    kept = Path(str(row["result_path"])).parent / RELEASED_MANIFEST
    try:
        return kept.read_text(encoding="utf-8"), "archived"
    except FileNotFoundError:
        pass
    except OSError:
        raise InputError("the manifest kept with the release cannot be read", path=kept) from None
    current = data.lots_dir / str(row["lot"]) / "lot.yaml"
    try:
        return current.read_text(encoding="utf-8"), "current"
    except OSError:
        raise InputError("the lot's manifest is gone", path=current) from None


def select_lots(
    data: DataDir,
    store: Store,
    change: Change,
    *,
    product: str | None = None,
    since: date | None = None,
    lots: Sequence[str] | None = None,
    library: Path | None = None,
) -> Selection:
    """The newest release of each lot, filtered by product, release date (``since``, the
    release row's UTC date, inclusive) and lot ids; a named lot with no release is refused."""
    rows = _latest_releases(store)
    if lots:
        known = {str(r["lot"]) for r in rows}
        missing = [lot for lot in lots if lot not in known]
        if missing:
            raise InputError(
                f"no release of lot(s) {', '.join(missing)} in the store", path=data.root
            )
        rows = [r for r in rows if r["lot"] in set(lots)]
    if since is not None:
        rows = [r for r in rows if str(r["created_at"])[:10] >= since.isoformat()]
    selection = Selection()
    for row in rows:
        lot = str(row["lot"])
        try:
            record = _released_record(row)
            manifest_text, source = _manifest(data, row)
        except InputError as exc:
            selection.failed.append({"lot": lot, "reason": exc.one_line()})
            continue
        if product is not None and record.get("lot", {}).get("product") != product:
            continue
        inputs = tuple(
            sorted({(str(i["path"]), str(i["sha256"])) for i in record.get("inputs", [])})
        )
        selection.tasks.append(
            LotTask(
                lot=lot,
                release_id=int(row["id"]),
                inputs_sha256=str(row["inputs_sha256"]),
                archive_dir=str(data.archive_dir.resolve()),
                work_dir=str(data.work_dir.resolve()),
                manifest_text=manifest_text,
                inputs=inputs,
                released={k: record.get(k) for k in _RELEASED},
                change=change,
                library=str(library) if library is not None else None,
                manifest_source=source,
            )
        )
    return selection
