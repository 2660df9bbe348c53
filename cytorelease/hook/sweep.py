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

from cytorelease.records.datadir import DataDir

__all__ = ["sweep_leftovers"]


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
