"""``audit archive-verify``: re-hash the whole archive against the store.

Every raw file the store records is re-hashed (a size can stay the same under an edit): ok,
altered (other bytes under its hash) or missing; a file in the archive the store does not name
is an orphan (a crash between copy and record, or something put there). The walk and what it
found are audited; anything wrong is a failed verification (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytorelease.records import audit, ingest
from cytorelease.records.archive import archived_path, hash_file
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

__all__ = ["ArchiveCheck", "verify_archive", "verify_data_archive"]


@dataclass
class ArchiveCheck:
    archive: str
    ok: int = 0
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not (self.altered or self.missing or self.orphans)

    def summary(self) -> str:
        recorded = self.ok + len(self.altered) + len(self.missing)
        return (
            f"{recorded} recorded: {self.ok} ok, {len(self.altered)} altered, "
            f"{len(self.missing)} missing; {len(self.orphans)} orphan(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "intact": self.intact,
            "ok": self.ok,
            "altered": self.altered,
            "missing": self.missing,
            "orphans": self.orphans,
        }


def verify_archive(data: DataDir, store: Store) -> ArchiveCheck:
    """Re-hash every recorded entry and list what the store does not name (no audit row)."""
    check = ArchiveCheck(str(data.archive_dir))
    recorded = ingest.recorded_hashes(store)
    for sha in sorted(recorded):
        path = archived_path(data.archive_dir, sha)
        try:
            actual, _ = hash_file(path)
        except FileNotFoundError:
            check.missing.append(sha)
            continue
        if actual == sha:
            check.ok += 1
        else:
            check.altered.append(sha)
    if data.archive_dir.is_dir():
        for path in sorted(data.archive_dir.glob("*/*")):
            if path.name not in recorded:
                check.orphans.append(str(path.relative_to(data.archive_dir)))
    return check


def verify_data_archive(data_dir: str | Path | None) -> ArchiveCheck:
    """Walk the data folder's archive and audit the walk and what it found."""
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir, existing=True)
    with store:
        check = verify_archive(data, store)
        with store.write():
            audit.append(
                store,
                actor=audit.os_user(),
                action=audit.Action.ARCHIVE_VERIFY,
                object=str(data.archive_dir),
                details=check.to_dict(),
            )
    return check
