"""``cytorelease watch INBOX``: hook every new stable file in a folder tree.

For instruments that can only write files. The first folder level under INBOX names the
instrument (``INBOX/FACS-01/run1.fcs``) unless ``--instrument`` says it for the whole tree.
Events from the ``watchdog`` library say which files changed; a file is hooked once its size and
mtime have stayed unchanged for the stability interval. Every start (and ``--once``) scans the
whole tree first, so files that arrived while the watcher was down are not missed; a file
already handled (same path, size and mtime in the store's sightings) is skipped.
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
)
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

__all__ = ["WatchReport", "run_watch", "scan_once", "watch_inbox"]

NO_INSTRUMENT = "(no instrument folder)"
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "files": [o.to_dict() for o in self.outcomes],
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
        if path.name.startswith(".") or not path.is_file():
            continue  # hidden files are instruments' temporaries
        if not already_seen(store, path):
            found.append(path)
    return found


class _Tracker:
    """Files waiting to become stable: path -> (size, mtime_ns, when it last changed)."""

    def __init__(self, stable_seconds: float) -> None:
        self.stable_seconds = stable_seconds
        self.files: dict[Path, tuple[int, int, float]] = {}

    def add(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.files.setdefault(path, (-1, -1, time.monotonic()))

    def stable(self) -> list[Path]:
        ready, now = [], time.monotonic()
        for path, (size, mtime, since) in list(self.files.items()):
            try:
                info = path.stat()
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
    try:
        while stop is None or not stop.is_set():
            with lock:
                changed = list(seen)
                seen.clear()
            tracker.add(p for p in changed if not p.name.startswith(".") and p.is_file())
            _hook_ready(data, store, inbox, tracker, instrument, report, log)
            time.sleep(poll)
    finally:
        observer.stop()
        observer.join()
    return report


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
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir)
    with store:
        if once:
            return scan_once(
                data, store, inbox, instrument=instrument, stable_seconds=stable_seconds, log=log
            )
        return watch_inbox(
            data, store, inbox, instrument=instrument, stable_seconds=stable_seconds, log=log
        )
