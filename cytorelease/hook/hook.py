"""``cytorelease hook FILE --instrument ID``: take one finished acquisition and keep it safe.

Order matters: refuse an instrument not on the allow-list (audited), wait until the file is
stable, copy it into the archive (hashing as it copies) before anything else, identify the
archived copy, then record it, audit it and enqueue its analysis in one transaction. The same
content twice is a no-op that says so; an invalid file is kept (archived) and quarantined with
its reason. The instrument's file is only ever read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.hook.identify import ACCEPTS, identify
from cytorelease.hook.instruments import Instrument, load_instruments
from cytorelease.records import audit
from cytorelease.records.archive import Archived, ArchiveMismatch, archive_file
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import ItemKind, enqueue
from cytorelease.records.store import Store

__all__ = [
    "HookOutcome",
    "HookStatus",
    "already_seen",
    "hook_file",
    "run_hook",
    "wait_until_stable",
]

DEFAULT_STABLE_SECONDS = 2.0


class HookStatus(StrEnum):
    INGESTED = "ingested"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class HookOutcome:
    status: HookStatus
    path: Path
    message: str
    sha256: str | None = None
    archive_path: Path | None = None
    first_status: str | None = None  # for a duplicate: what became of the first copy

    @property
    def exit_code(self) -> int:
        # instrument software must not read success for an invalid file sent twice
        if self.status is HookStatus.DUPLICATE:
            return 2 if self.first_status == "quarantined" else 0
        return 2 if self.status in (HookStatus.QUARANTINED, HookStatus.REFUSED) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "file": str(self.path),
            "sha256": self.sha256,
            "archive": str(self.archive_path) if self.archive_path else None,
            "message": self.message,
        }


def _signature(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def wait_until_stable(
    path: Path, *, stable_seconds: float, poll: float = 0.05, timeout: float | None = None
) -> tuple[int, int]:
    """Block until size and mtime stay unchanged for ``stable_seconds``; returns them."""
    started = last_change = time.monotonic()
    last = _signature(path)
    while time.monotonic() - last_change < stable_seconds:
        if timeout is not None and time.monotonic() - started > timeout:
            raise InputError(
                f"the file kept changing for {timeout:g} s", path=path, hint="is it still written?"
            )
        time.sleep(min(poll, stable_seconds))
        current = _signature(path)
        if current != last:
            last, last_change = current, time.monotonic()
    return last


def hook_file(
    data: DataDir,
    store: Store,
    path: str | Path,
    *,
    instrument: str,
    stable_seconds: float = DEFAULT_STABLE_SECONDS,
    timeout: float | None = None,
) -> HookOutcome:
    """Archive, identify, record, audit and enqueue one file; see the module docstring."""
    path = Path(path).absolute()
    actor = f"instrument:{instrument}"
    if path.is_symlink():
        # Never followed: a link could hand over any file the service user can read.
        reason = "is a symbolic link: refused (links are never followed; place the file itself)"
        _refuse(store, path, actor, instrument, reason)
        return HookOutcome(HookStatus.REFUSED, path, reason)
    if path.is_dir():
        raise InputError(
            "is a folder, not a file (hook one finished file; `watch` takes a folder)", path=path
        )
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        known = load_instruments(data.instruments_path).find(instrument)
    except InputError as exc:
        # No usable allow-list: nothing is accepted, and the refusal is on record.
        _refuse(store, path, actor, instrument, exc.one_line())
        raise
    if known is None:
        reason = f"instrument {instrument!r} is not in the allow-list {data.instruments_path}"
        _refuse(store, path, actor, instrument, reason)
        return HookOutcome(HookStatus.REFUSED, path, reason)

    while True:
        before = wait_until_stable(path, stable_seconds=stable_seconds, timeout=timeout)
        try:
            archived = archive_file(path, data.archive_dir, data.archive_tmp)
        except ArchiveMismatch as exc:
            _audit_mismatch(store, actor, path, exc)
            raise
        if _signature(path) == before:
            break  # nothing changed while copying: the archived bytes are the finished file
    try:
        return _record(store, data, path, before, archived, known, actor)
    except CytoreleaseError:
        # Nothing was recorded (the transaction rolled back): an archive entry this call
        # created must not stay without its record; the file itself stays in the inbox.
        if archived.newly_stored and not _recorded(store, archived.sha256):
            archived.path.unlink(missing_ok=True)
        raise


def _recorded(store: Store, sha256: str) -> bool:
    try:
        return store.one("SELECT 1 AS n FROM raw_files WHERE sha256 = ?", (sha256,)) is not None
    except store.database_error:
        return True  # cannot tell: keep the entry (an unrecorded entry is what verify reports)


def _audit_mismatch(store: Store, actor: str, path: Path, exc: ArchiveMismatch) -> None:
    with store.write():
        audit.append(
            store,
            actor=actor,
            action=audit.Action.ARCHIVE_MISMATCH,
            object=exc.sha256,
            details={"file": str(path), "archive_hash": exc.actual, "problem": exc.problem},
        )


def _record(
    store: Store,
    data: DataDir,
    path: Path,
    before: tuple[int, int],
    archived: Archived,
    known: Instrument,
    actor: str,
) -> HookOutcome:
    """Identify the archived copy; record, audit and enqueue it in one transaction."""
    found = identify(archived.path)
    problem = found.problem
    if problem is None and found.kind not in ACCEPTS[known.kind]:
        problem = f"a {found.kind} file does not come from a {known.kind} ({known.id})"
    with store.write():
        _register_instrument(store, known.id, known.serial, str(known.kind))
        existing = store.one("SELECT * FROM raw_files WHERE sha256 = ?", (archived.sha256,))
        if existing is not None:
            _sighting(store, path, *before, archived.sha256, HookStatus.DUPLICATE)
            message = (
                f"already archived (first received as {existing['source_path']} on "
                f"{existing['ingested_at']}, {existing['status']}); nothing to do"
            )
            audit.append(
                store,
                actor=actor,
                action=audit.Action.DUPLICATE,
                object=archived.sha256,
                details={"file": str(path), "first_source": existing["source_path"]},
            )
            return HookOutcome(
                HookStatus.DUPLICATE,
                path,
                message,
                archived.sha256,
                archived.path,
                first_status=str(existing["status"]),
            )
        status = HookStatus.INGESTED if problem is None else HookStatus.QUARANTINED
        earlier = store.rows(
            "SELECT sha256, ingested_at FROM raw_files WHERE source_path = ? ORDER BY ingested_at",
            (str(path),),
        )
        store.execute(
            "INSERT INTO raw_files (sha256, size, kind, status, reason, instrument, original_name,"
            " source_path, meta, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                archived.sha256,
                archived.size,
                str(found.kind),
                "valid" if problem is None else "quarantined",
                problem,
                known.id,
                path.name,
                str(path),
                _json(found.meta),
                _utc(),
            ),
        )
        _sighting(store, path, *before, archived.sha256, status)
        details = {
            "file": str(path),
            "size": archived.size,
            "kind": str(found.kind),
            "archive": str(archived.path),
        }
        lot = found.meta.get("lot") if isinstance(found.meta.get("lot"), str) else None
        note = ""
        if earlier:
            # Same name, other bytes: a new acquisition (or a changed copy), never a duplicate.
            # It is kept and analysed; a lot it would change is held for a person (worker).
            audit.append(
                store,
                actor=actor,
                action=audit.Action.NEW_CONTENT,
                object=archived.sha256,
                lot=lot,
                details={"file": str(path), "earlier": [str(r["sha256"]) for r in earlier]},
            )
            note = (
                f" (new content under a name already received: earlier "
                f"{str(earlier[-1]['sha256'])[:16]}… of {earlier[-1]['ingested_at']})"
            )
        if problem is None:
            audit.append(
                store,
                actor=actor,
                action=audit.Action.INGEST,
                object=archived.sha256,
                lot=lot,
                details=details,
            )
            enqueue(
                store,
                key=f"file:{archived.sha256}",
                kind=ItemKind.FILE,
                payload={"sha256": archived.sha256},
            )
            message = f"archived as {archived.sha256[:16]}… and queued for analysis{note}"
        else:
            audit.append(
                store,
                actor=actor,
                action=audit.Action.QUARANTINE,
                object=archived.sha256,
                lot=lot,
                details={**details, "reason": problem},
            )
            message = f"quarantined: {problem}{note}"
    return HookOutcome(status, path, message, archived.sha256, archived.path)


def _refuse(
    store: Store,
    path: Path,
    actor: str,
    instrument: str,
    reason: str,
) -> None:
    # No sighting: the file stays where it is and is taken once the cause is fixed.
    with store.write():
        audit.append(
            store,
            actor=actor,
            action=audit.Action.REFUSE,
            object=str(path),
            details={"instrument": instrument, "reason": reason},
        )


def _register_instrument(store: Store, instrument: str, serial: str, kind: str) -> None:
    store.execute(
        "INSERT INTO instruments (id, serial, kind, first_seen) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        (instrument, serial, kind, _utc()),
    )


def _sighting(
    store: Store, path: Path, size: int, mtime_ns: int, sha256: str | None, outcome: HookStatus
) -> None:
    store.execute(
        "INSERT INTO sightings (source_path, size, mtime_ns, sha256, outcome, seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source_path, size, mtime_ns) DO NOTHING",
        (str(path), size, mtime_ns, sha256, str(outcome), _utc()),
    )


def already_seen(store: Store, path: Path) -> bool:
    """Whether this exact file (path, size, mtime) was handled already (the watcher skips it)."""
    try:
        info = path.lstat()
    except OSError:
        return True  # gone: nothing to hook
    size, mtime_ns = info.st_size, info.st_mtime_ns
    row = store.one(
        "SELECT 1 AS seen FROM sightings WHERE source_path = ? AND size = ? AND mtime_ns = ?",
        (str(path.absolute()), size, mtime_ns),
    )
    return row is not None


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str:
    from cytorelease.provenance import canonical_json

    return canonical_json(value)


def run_hook(
    data_dir: str | Path | None,
    path: str | Path,
    *,
    instrument: str,
    stable_seconds: float = DEFAULT_STABLE_SECONDS,
) -> HookOutcome:
    """Open the data folder's store and hook one file (the ``hook`` command)."""
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir)
    with store:
        data.check_private()
        return hook_file(data, store, path, instrument=instrument, stable_seconds=stable_seconds)
