"""``cytorelease watch INBOX``: hook every new stable file in a folder tree.

For instruments that can only write files. The first folder level under INBOX names the
instrument (``INBOX/FACS-01/run1.fcs``) unless ``--instrument`` says it for the whole tree.
Events from the ``watchdog`` library say which files changed; a file is hooked once its size and
mtime have stayed unchanged for the stability interval (what keeps a file still being written,
an editor's temporary included, out). A file that cannot be taken now (an instrument not in the
allow-list, a file directly in INBOX, a hidden file, a symbolic link) is left where it is,
reported (``watch`` exits 1) and taken once the cause is fixed: it is never marked handled.
Its refusal is audited once for that content and reason (not at every scan or ``--once`` run,
nor again when the file is touched or rewritten with the same bytes); the row names the
content's SHA-256, never its text.
Every start (and ``--once``) first re-ingests archive entries a crash left without a record
(``hook/sweep.py``), then scans the whole tree, so files that arrived while the watcher was
down are not missed; a file already taken (same path, size and mtime in the store's
sightings) is skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.hook.hook import (
    DEFAULT_STABLE_SECONDS,
    HookOutcome,
    HookStatus,
    already_seen,
    hook_file,
    refuse,
)
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

__all__ = ["WatchReport", "run_watch", "scan_once", "watch_inbox"]

NO_INSTRUMENT = "(no instrument folder)"
ORPHAN_AGE_SECONDS = 60.0  # a live hook records its archive copy well within this
Log = Callable[[str], None]


@dataclass
class WatchReport:
    outcomes: list[HookOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = {str(s): 0 for s in HookStatus}
        for outcome in self.outcomes:
            found[str(outcome.status)] += 1
        return found

    @property
    def not_taken(self) -> list[HookOutcome]:
        """Files left in the inbox (refused or quarantined): the operator has to act."""
        return [o for o in self.outcomes if o.exit_code]

    @property
    def exit_code(self) -> int:
        """1 when any file was not taken or could not be hooked, else 0."""
        return 1 if self.not_taken or self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "files": [o.to_dict() for o in self.outcomes],
            "not_taken": [str(o.path) for o in self.not_taken],
            "errors": self.errors,
        }


def _instrument_for(inbox: Path, path: Path, fixed: str | None) -> str:
    if fixed:
        return fixed
    parts = path.relative_to(inbox).parts
    return parts[0] if len(parts) >= 2 else NO_INSTRUMENT


def _candidates(inbox: Path, store: Store) -> list[Path]:
    found = []
    for path in sorted(inbox.rglob("*")):
        if _is_entry(path) and not already_seen(store, path):
            found.append(path)
    return found


def _is_entry(path: Path) -> bool:
    """A file or a link (a link is refused, and reported, not skipped); folders are walked."""
    return path.is_symlink() or path.is_file()


def _not_takeable(inbox: Path, path: Path, instrument: str | None) -> str | None:
    """Why a stable file cannot be taken as it is (left in place, reported), or None."""
    if path.name.startswith("."):
        # An editor's or instrument's temporary is hidden while written; one still there once
        # stable is reported, and taken when it is renamed.
        return "a hidden file (name starts with '.'): not taken; rename it to be taken"
    if instrument is None and len(path.relative_to(inbox).parts) < 2:
        return (
            "placed directly in the inbox: not taken; move it into INBOX/<instrument id>/ "
            "(or watch with --instrument)"
        )
    return None


class _Tracker:
    """Files waiting to become stable: path -> (size, mtime_ns, when it last changed)."""

    def __init__(self, stable_seconds: float) -> None:
        self.stable_seconds = stable_seconds
        self.files: dict[Path, tuple[int, int, float]] = {}
        self.waiting: set[Path] = set()  # refused files, left in place until the cause is fixed

    def add(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.files.setdefault(path, (-1, -1, time.monotonic()))

    def stable(self) -> list[Path]:
        ready, now = [], time.monotonic()
        for path, (size, mtime, since) in list(self.files.items()):
            try:
                info = path.lstat()  # a link is tracked as itself (and then refused)
            except OSError:
                del self.files[path]  # gone before it was stable: nothing to keep
                continue
            if (info.st_size, info.st_mtime_ns) != (size, mtime):
                self.files[path] = (info.st_size, info.st_mtime_ns, now)
            elif now - since >= self.stable_seconds:
                ready.append(path)
        return ready


def _hook_ready(
    data: DataDir,
    store: Store,
    inbox: Path,
    tracker: _Tracker,
    instrument: str | None,
    report: WatchReport,
    log: Log | None,
) -> None:
    for path in tracker.stable():
        del tracker.files[path]
        if already_seen(store, path):
            continue
        reason = _not_takeable(inbox, path, instrument)
        if reason is not None:
            # audited once per content and reason, listed by every scan
            refuse(store, path, audit.service_actor("watch"), reason, {"inbox": str(inbox)})
            report.outcomes.append(HookOutcome(HookStatus.REFUSED, path, reason))
            tracker.waiting.add(path)
            if log:
                log(f"{HookStatus.REFUSED}: {path}: {reason}")
            continue
        try:
            outcome = hook_file(
                data,
                store,
                path,
                instrument=_instrument_for(inbox, path, instrument),
                stable_seconds=min(tracker.stable_seconds, 0.05),
            )
        except CytoreleaseError as exc:
            report.errors.append(exc.one_line())
            if log:
                log(f"error: {exc.one_line()}")
            continue
        report.outcomes.append(outcome)
        if outcome.status is HookStatus.REFUSED:
            tracker.waiting.add(path)  # offered again when the allow-list changes
        if log:
            log(f"{outcome.status}: {path}: {outcome.message}")


def scan_once(
    data: DataDir,
    store: Store,
    inbox: Path,
    *,
    instrument: str | None = None,
    stable_seconds: float = DEFAULT_STABLE_SECONDS,
    poll: float = 0.1,
    log: Log | None = None,
) -> WatchReport:
    """One pass: hook every file not handled yet, waiting for each to become stable."""
    inbox = _check_inbox(inbox)
    tracker = _Tracker(stable_seconds)
    tracker.add(_candidates(inbox, store))
    report = WatchReport()
    while tracker.files:
        _hook_ready(data, store, inbox, tracker, instrument, report, log)
        if tracker.files:
            time.sleep(poll)
    return report


def watch_inbox(
    data: DataDir,
    store: Store,
    inbox: Path,
    *,
    instrument: str | None = None,
    stable_seconds: float = DEFAULT_STABLE_SECONDS,
    poll: float = 0.2,
    stop: threading.Event | None = None,
    log: Log | None = None,
) -> WatchReport:
    """Watch until ``stop`` is set (forever without one): scan first, then follow events."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    inbox = _check_inbox(inbox)
    seen: set[Path] = set()
    lock = threading.Lock()

    class _Collect(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.is_directory:
                return
            target = getattr(event, "dest_path", "") or event.src_path
            with lock:
                seen.add(Path(str(target)))

    observer = Observer()
    observer.schedule(_Collect(), str(inbox), recursive=True)
    observer.start()
    tracker = _Tracker(stable_seconds)
    tracker.add(_candidates(inbox, store))  # after start(): nothing slips between scan and events
    report = WatchReport()
    allow_list_seen = _signature_of(data.instruments_path)
    try:
        while stop is None or not stop.is_set():
            with lock:
                changed = list(seen)
                seen.clear()
            tracker.add(p for p in changed if _is_entry(p))
            allow_list = _signature_of(data.instruments_path)
            if allow_list != allow_list_seen:
                allow_list_seen = allow_list  # fixed (or changed): refused files are offered again
                tracker.add(tracker.waiting)
                tracker.waiting.clear()
            _hook_ready(data, store, inbox, tracker, instrument, report, log)
            time.sleep(poll)
    finally:
        observer.stop()
        observer.join()
    return report


def _signature_of(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def _check_inbox(inbox: Path) -> Path:
    if not inbox.is_dir():
        raise InputError("the inbox is not a folder", path=inbox, hint="pass an existing folder")
    return inbox.absolute()


def run_watch(
    data_dir: str | Path | None,
    inbox: Path,
    *,
    instrument: str | None = None,
    once: bool = False,
    stable_seconds: float = DEFAULT_STABLE_SECONDS,
    log: Log | None = None,
) -> WatchReport:
    """Open the data folder's store and scan once or watch (the ``watch`` command)."""
    from cytorelease.hook.sweep import sweep_orphans
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir)
    with store:
        data.check_private()
        for sha in sweep_orphans(data, store, older_than=ORPHAN_AGE_SECONDS):
            if log:
                log(f"recovered: archive entry {sha[:16]}… had no record: ingested")
        if once:
            return scan_once(
                data, store, inbox, instrument=instrument, stable_seconds=stable_seconds, log=log
            )
        return watch_inbox(
            data, store, inbox, instrument=instrument, stable_seconds=stable_seconds, log=log
        )
