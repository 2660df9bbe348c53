"""Clearing what killed processes leave behind: half-built lot folders and partial copies.

A worker killed during a release leaves its materialised lot folder (``work/``) and its partial
output (``releases/<lot>/.<hash>.partial-<token>``); a hook killed while copying leaves a
temporary file in ``archive/incoming/``. None of them is a record (the database never named
them), so once they are older than any live process could still be using, they go.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

__all__ = ["RECOVERED", "sweep_leftovers", "sweep_orphans"]

RECOVERED = "(recovered from the archive)"
WHY_RECOVERED = "an archived file had no record (a crash between the copy and its record?)"


def _leftovers(data: DataDir) -> list[Path]:
    found: list[Path] = []
    if data.work_dir.is_dir():
        found += list(data.work_dir.iterdir())
    found += list(data.releases_dir.glob("*/.*.partial-*"))
    found += list(data.archive_tmp.glob("incoming-*"))
    return found


def sweep_leftovers(data: DataDir, *, older_than: float, now: float | None = None) -> list[Path]:
    """Remove leftovers last modified more than ``older_than`` seconds ago; returns them."""
    moment = time.time() if now is None else now
    removed = []
    for path in _leftovers(data):
        try:
            if moment - path.stat().st_mtime < older_than:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue  # another worker swept it first
        removed.append(path)
    return removed


def sweep_orphans(
    data: DataDir, store: Store, *, older_than: float, now: float | None = None
) -> list[str]:
    """Re-ingest archive entries that have no record (a hook killed between its copy and its
    transaction, or a lost WAL); audited as an ingest with ``recovered``. Returns their hashes.

    Only entries older than ``older_than`` seconds (a live hook records its copy within
    moments), whose bytes still hash to their name (an altered orphan is left for
    ``audit archive-verify``). The source path is unknown: the record says so.
    """
    from cytorelease.hook.hook import admit
    from cytorelease.hook.identify import identify
    from cytorelease.records import ingest
    from cytorelease.records.archive import hash_file

    moment = time.time() if now is None else now
    recovered: list[str] = []
    if not data.archive_dir.is_dir():
        return recovered
    recorded = ingest.recorded_hashes(store)
    for path in sorted(data.archive_dir.glob("*/*")):
        sha = path.name
        if sha in recorded or moment - path.stat().st_ctime < older_than:
            continue
        actual, size = hash_file(path)
        if actual != sha:
            continue
        found = identify(path)
        fil = found.meta.get("fil")
        record = ingest.RawFile(
            sha256=sha,
            size=size,
            kind=str(found.kind),
            problem=found.problem,
            instrument=RECOVERED,
            original_name=fil if isinstance(fil, str) and fil else sha,
            source_path=RECOVERED,
            meta=found.meta,
        )
        lot = found.meta.get("lot") if isinstance(found.meta.get("lot"), str) else None
        with store.write():
            if ingest.raw_file(store, sha) is not None:
                continue  # recorded meanwhile by a live hook
            ingest.insert_raw_file(store, record)
            details = {"archive": str(path), "recovered": True, "why": WHY_RECOVERED}
            admit(store, record, actor=audit.service_actor("sweep"), lot=lot, details=details)
        recovered.append(sha)
    return recovered
