"""Which released lots a change is assessed on, and each lot's task as the coordinator builds it.

A lot is its newest release in the data folder's store (the worker's release rows). The task
carries what a worker needs and would otherwise have to ask the store for: the manifest text
(the one kept with the release, :func:`_manifest`), and the released record's path with the
record hash its release row states. The worker reads the record and holds it to that hash
(:mod:`cytorelease.reanalyse.released`), then reads the raw files from the archive path;
archive and records are on shared storage on a cluster, and workers never open the store. So
the coordinator's own work per lot is a row and a small file read, whatever the record's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
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
    record_sha256: str  # the release row's: the released record is held to it where it is read
    result_path: str
    archive_dir: str
    work_dir: str
    manifest_text: str
    change: Change
    library: str | None = None
    product: str | None = None  # the product the lot was selected by, which its record must name
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


def _products(store: Store) -> dict[str, str]:
    """Record SHA-256 -> product, from the lots dataset every release stores."""
    rows = store.rows("SELECT DISTINCT record_sha256, product FROM lot_results")
    return {str(r["record_sha256"]): str(r["product"]) for r in rows}


def _product(row: dict[str, Any], products: dict[str, str]) -> str | None:
    """The product of a release: the lots dataset's, else (a release the dataset does not
    hold) its record's, read and held to the row's hash here."""
    from cytorelease.reanalyse.released import read_released

    known = products.get(str(row["record_sha256"]))
    if known is not None:
        return known
    lot = read_released(str(row["result_path"]), str(row["record_sha256"]))["lot"]
    return str(lot.get("product")) if isinstance(lot, dict) else None


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
    products = _products(store) if product is not None else {}
    for row in rows:
        lot = str(row["lot"])
        try:
            if product is not None and _product(row, products) != product:
                continue
            manifest_text, source = _manifest(data, row)
        except InputError as exc:
            selection.failed.append({"lot": lot, "reason": exc.one_line()})
            continue
        selection.tasks.append(
            LotTask(
                lot=lot,
                release_id=int(row["id"]),
                inputs_sha256=str(row["inputs_sha256"]),
                record_sha256=str(row["record_sha256"]),
                result_path=str(row["result_path"]),
                archive_dir=str(data.archive_dir.resolve()),
                work_dir=str(data.work_dir.resolve()),
                manifest_text=manifest_text,
                change=change,
                library=str(library) if library is not None else None,
                manifest_source=source,
                product=product,
            )
        )
    return selection
