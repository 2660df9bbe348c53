"""A manual record held against the audit trail: every event the trail recorded for the file
must still be in it.

A record is a hash chain, so an edited or reordered event breaks it; but the newest events
(a correction, a mismatch) can be cut off and leave a valid shorter chain. The trail's
``manual-enter``, ``manual-verify`` and ``manual-mismatch`` rows name each event's hash and the
record file, so with the data folder the events entered through it are held here. A record
copied to another folder, or entered without a data folder, has no rows to be held to.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cytorelease.manual.events import ManualEvent, event_sha256

__all__ = ["missing_events"]


def missing_events(data_dir: Path, path: Path, events: Sequence[ManualEvent]) -> str | None:
    """What the record at ``path`` lacks of the events the trail of ``data_dir`` recorded for
    it, or None."""
    from cytorelease.records.audit import Action, entries_of
    from cytorelease.records.store import open_data

    _, store = open_data(data_dir)
    with store:
        rows = [
            row
            for action in (Action.MANUAL_ENTER, Action.MANUAL_VERIFY, Action.MANUAL_MISMATCH)
            for row in entries_of(store, action, object=str(path.absolute()))
        ]
    held = {event_sha256(e) for e in events}
    gone = sorted((r for r in rows if r.details.get("event_sha256") not in held),
                  key=lambda r: r.sequence)  # fmt: skip
    if not gone:
        return None
    first = gone[0]
    return (
        f"the audit trail recorded {len(gone)} event(s) this record no longer holds (row "
        f"{first.sequence}: {first.action} by {first.details.get('user_id')} at "
        f"{first.details.get('utc_time')}): events were removed from it"
    )
