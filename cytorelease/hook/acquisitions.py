"""Which acquisition of each lot input a release uses.

An input (a tube named in the manifest) can receive several different files: the instrument
acquired the tube again, or a changed copy was sent. Each is a version of that input, numbered
in the order the files were assigned to it; a release names the version of every input it used.
"""

from __future__ import annotations

from typing import Any

from cytorelease.records import audit
from cytorelease.records.lots import lot_files
from cytorelease.records.queue import ItemState, QueueItem, finish
from cytorelease.records.store import Store

__all__ = [
    "Reacquired",
    "acquisitions_of",
    "check_unchanged",
    "describe",
    "files_per_input",
    "hold_reacquired",
]


def files_per_input(store: Store, lot: str) -> dict[str, list[str]]:
    """The distinct files assigned to each input of ``lot``, oldest first."""
    found: dict[str, list[str]] = {}
    for input_path, sha in lot_files(store, lot):
        shas = found.setdefault(input_path, [])
        if sha not in shas:
            shas.append(sha)
    return found


def acquisitions_of(store: Store, lot: str, inputs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """For each input of ``inputs`` (path -> sha256): ``sha256``, its ``acquisition`` number
    (1 = the first file the input received), ``of`` (how many it received) and the
    ``previous`` (other) files."""
    received = files_per_input(store, lot)
    found: dict[str, dict[str, Any]] = {}
    for path, sha in inputs.items():
        shas = received.get(path, [sha])
        found[path] = {
            "sha256": sha,
            "acquisition": shas.index(sha) + 1,
            "of": len(shas),
            "previous": [s for s in shas if s != sha],
        }
    return found


def describe(acquisitions: dict[str, dict[str, Any]]) -> str:
    """``tube1.fcs: acquisition 2 of 2 (sha…); ...``: what a held release names."""
    return "; ".join(
        f"{p}: acquisition {a['acquisition']} of {a['of']} ({a['sha256'][:16]}…)"
        for p, a in acquisitions.items()
    )


class Reacquired(Exception):
    """An input of a queued release received another file after the release was queued."""

    def __init__(self, reason: str, now: dict[str, dict[str, Any]]) -> None:
        super().__init__(reason)
        self.reason, self.now = reason, now


def check_unchanged(store: Store, item: QueueItem, inputs: dict[str, str]) -> None:
    """Raise :class:`Reacquired` for a release whose inputs received other files since it was
    queued (a tube re-acquired before the worker reached the release: it would release on
    acquisition 1 while 2 exists), unless a person retried it after a hold for exactly these."""
    lot = str(item.payload["lot"])
    now = acquisitions_of(store, lot, inputs)
    queued = item.payload.get("acquisitions")
    if queued == now or (queued is None and all(a["of"] == 1 for a in now.values())):
        return
    if _reviewed(store, item, now):
        return
    raise Reacquired(
        "re-acquired: release needs review (an input received another file after this release "
        f"was queued: {describe(now)}); a retry releases on exactly these files",
        now,
    )


def _reviewed(store: Store, item: QueueItem, now: dict[str, Any]) -> bool:
    """Whether a person retried this item after it was held for exactly these acquisitions."""
    rows = audit.entries_of(
        store, audit.Action.ITEM_RETRIED, audit.Action.ITEM_HELD, object=item.key
    )[-2:]
    return (
        len(rows) == 2
        and rows[1].action == audit.Action.ITEM_RETRIED
        and rows[0].action == audit.Action.ITEM_HELD
        and rows[0].details.get("acquisitions") == now
    )


def hold_reacquired(store: Store, actor: str, item: QueueItem, exc: Reacquired) -> None:
    """Hold ``item`` for a person (audited with the acquisitions it found)."""
    with store.write():
        finish(store, item, state=ItemState.HELD, outcome=exc.reason)
        audit.append(
            store,
            actor=actor,
            action=audit.Action.ITEM_HELD,
            object=item.key,
            lot=item.payload.get("lot"),
            details={"item": item.id, "reason": exc.reason, "acquisitions": exc.now},
        )
