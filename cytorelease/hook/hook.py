"""``cytorelease hook FILE --instrument ID``: take one finished acquisition and keep it safe.

Order matters: refuse an instrument not on the allow-list (audited), wait until the file is
stable, copy it into the archive (hashing as it copies) before anything else, identify the
archived copy, then record it, audit it and enqueue its analysis in one transaction. The same
content twice is a no-op that says so; an invalid file is kept (archived) and quarantined with
its reason. The instrument's file is only ever read.
"""

from __future__ import annotations

import hashlib
import stat
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.hook.identify import ACCEPTS, identify, preload_reader
from cytorelease.hook.instruments import Instrument, load_instruments
from cytorelease.hook.integrity import audit_mismatch
from cytorelease.records import audit, ingest
from cytorelease.records.archive import Archived, ArchiveMismatch, archive_file, open_source
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import ItemKind, enqueue
from cytorelease.records.store import Store

__all__ = [
    "HookOutcome",
    "HookStatus",
    "admit",
    "already_seen",
    "hook_file",
    "refuse",
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
    details = {"instrument": instrument}
    if path.is_symlink():
        # Never followed: a link could hand over any file the service user can read.
        reason = "is a symbolic link: refused (links are never followed; place the file itself)"
        refuse(store, path, actor, reason, details)
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
        refuse(store, path, actor, exc.one_line(), details)
        raise
    if known is None:
        reason = f"instrument {instrument!r} is not in the allow-list {data.instruments_path}"
        refuse(store, path, actor, reason, details)
        return HookOutcome(HookStatus.REFUSED, path, reason)

    while True:
        before = wait_until_stable(path, stable_seconds=stable_seconds, timeout=timeout)
        try:
            archived = archive_file(
                path, data.archive_dir, data.archive_tmp, on_head=preload_reader
            )
        except ArchiveMismatch as exc:
            with store.write():
                audit_mismatch(store, actor, exc, details={"file": str(path)})
            raise _altered_entry(path, exc) from None
        if _signature(path) == before:
            break  # nothing changed while copying: the archived bytes are the finished file
    try:
        return _record(store, path, before, archived, known, actor)
    except CytoreleaseError:
        # Nothing was recorded (the transaction rolled back): an archive entry this call
        # created must not stay without its record; the file itself stays in the inbox.
        if archived.newly_stored and not _recorded(store, archived.sha256):
            archived.path.unlink(missing_ok=True)
        raise


def _altered_entry(path: Path, exc: ArchiveMismatch) -> ArchiveMismatch:
    # The same bytes again are no duplicate while the archive holds other bytes under their
    # hash: said, audited, and nothing recorded; restoring the entry is a person's decision.
    return ArchiveMismatch(
        f"already archived as {exc.sha256[:16]}…, but that archive entry was altered (it now "
        f"hashes to {exc.actual[:16]}…): not taken, nothing recorded",
        sha256=exc.sha256,
        actual=exc.actual,
        path=path,
        hint="the file stays here; have the archive entry restored, then retry the held item",
    )


def _recorded(store: Store, sha256: str) -> bool:
    try:
        return ingest.raw_file(store, sha256) is not None
    except store.database_error:
        return True  # cannot tell: keep the entry (an unrecorded entry is what verify reports)


def _record(
    store: Store,
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
        ingest.register_instrument(store, known.id, known.serial, str(known.kind))
        existing = ingest.raw_file(store, archived.sha256)
        if existing is not None:
            return _duplicate(store, path, before, archived, existing, actor)
        record = ingest.RawFile(
            sha256=archived.sha256,
            size=archived.size,
            kind=str(found.kind),
            problem=problem,
            instrument=known.id,
            original_name=path.name,
            source_path=str(path),
            meta=found.meta,
        )
        earlier = ingest.earlier_of_source(store, str(path))
        ingest.insert_raw_file(store, record)
        status = HookStatus.INGESTED if problem is None else HookStatus.QUARANTINED
        ingest.sighting(store, path, *before, archived.sha256, str(status))
        lot = found.meta.get("lot") if isinstance(found.meta.get("lot"), str) else None
        note = _audit_new_content(store, actor, path, archived.sha256, lot, earlier)
        details = {"archive": str(archived.path)}
        admit(store, record, actor=actor, lot=lot, details=details)
    if problem is None:
        message = f"archived as {archived.sha256[:16]}… and queued for analysis{note}"
    else:
        message = f"quarantined: {problem}{note}"
    return HookOutcome(status, path, message, archived.sha256, archived.path)


def admit(
    store: Store, record: ingest.RawFile, *, actor: str, lot: str | None, details: dict[str, Any]
) -> None:
    """Audit a newly recorded raw file (ingest, or quarantine with its reason) and queue a
    valid one for analysis; inside the transaction that recorded it."""
    described = {
        "file": record.source_path,
        "size": record.size,
        "kind": record.kind,
        **details,
    }
    if record.problem is not None:
        described["reason"] = record.problem
    audit.append(
        store,
        actor=actor,
        action=audit.Action.INGEST if record.problem is None else audit.Action.QUARANTINE,
        object=record.sha256,
        lot=lot,
        details=described,
    )
    if record.problem is None:
        enqueue(
            store,
            key=f"file:{record.sha256}",
            kind=ItemKind.FILE,
            payload={"sha256": record.sha256},
        )


def _duplicate(
    store: Store,
    path: Path,
    before: tuple[int, int],
    archived: Archived,
    existing: dict[str, Any],
    actor: str,
) -> HookOutcome:
    ingest.sighting(store, path, *before, archived.sha256, str(HookStatus.DUPLICATE))
    details: dict[str, Any] = {"file": str(path), "first_source": existing["source_path"]}
    restored = ""
    if archived.newly_stored:
        # The record existed but its archive entry did not: these bytes (same hash) put it back.
        details["restored_archive_entry"] = str(archived.path)
        restored = "; its missing archive entry was restored from this copy"
    audit.append(
        store, actor=actor, action=audit.Action.DUPLICATE, object=archived.sha256, details=details
    )
    message = (
        f"already archived (first received as {existing['source_path']} on "
        f"{existing['ingested_at']}, {existing['status']}){restored}; nothing to do"
    )
    return HookOutcome(
        HookStatus.DUPLICATE,
        path,
        message,
        archived.sha256,
        archived.path,
        first_status=str(existing["status"]),
    )


def _audit_new_content(
    store: Store,
    actor: str,
    path: Path,
    sha256: str,
    lot: str | None,
    earlier: list[dict[str, Any]],
) -> str:
    """Same name, other bytes: a new acquisition (or a changed copy), never a duplicate. It is
    kept and analysed; a lot it would change is held for a person (worker). Returns the note
    for the hook's message."""
    if not earlier:
        return ""
    audit.append(
        store,
        actor=actor,
        action=audit.Action.NEW_CONTENT,
        object=sha256,
        lot=lot,
        details={"file": str(path), "earlier": [str(r["sha256"]) for r in earlier]},
    )
    return (
        f" (new content under a name already received: earlier "
        f"{str(earlier[-1]['sha256'])[:16]}… of {earlier[-1]['ingested_at']})"
    )


def refuse(
    store: Store, path: Path, actor: str, reason: str, details: dict[str, Any] | None = None
) -> bool:
    """Audit that ``path`` is refused (left where it is, to be taken once the cause is fixed),
    once for this content and reason; True when a row was written. The row names the content's
    SHA-256, never its text; a link is not followed (its refusal is kept per version)."""
    try:
        info = path.lstat()
    except OSError:
        info = None
    content = None
    if info is not None and stat.S_ISREG(info.st_mode):
        outcome = ingest.refusal_of(store, path, info.st_size, info.st_mtime_ns)
        if outcome != f"{ingest.REFUSED_PREFIX}{reason}":
            content = _content_sha256(path)  # outside the transaction: it may be a big file
    with store.write():
        if info is not None and not ingest.note_refusal(
            store, path, info.st_size, info.st_mtime_ns, reason, content
        ):
            return False  # refused for this already, and still listed by the caller
        described = {**(details or {}), "reason": reason}
        if content is not None:
            described["sha256"] = content
        audit.append(
            store, actor=actor, action=audit.Action.REFUSE, object=str(path), details=described
        )
    return True


def _content_sha256(path: Path) -> str | None:
    """SHA-256 of a refused file's bytes, read as the archive reads (never through a link, never
    a FIFO or device); None when it cannot be read now."""
    try:
        reader = open_source(path)
    except InputError:
        return None
    digest = hashlib.sha256()
    try:
        with reader:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def already_seen(store: Store, path: Path) -> bool:
    """Whether this exact file (path, size, mtime) was taken already (the watcher skips it)."""
    try:
        info = path.lstat()
    except OSError:
        return True  # gone: nothing to hook
    return ingest.seen(store, path.absolute(), info.st_size, info.st_mtime_ns)


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
