"""The audit trail of interactive commands (release, sign, verify), run by a person.

Opt-in by configuration, not by habit: when a data folder is named (``--data-dir`` or
``CYTORELEASE_DATA``, which a site sets once for every analyst), each command appends its
actions to that folder's hash-chained trail under the OS user's name; without one, nothing is
written anywhere. Each action is its own short transaction, so a trail is never left half-written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cytorelease.records.audit import Action, append, os_user
from cytorelease.records.datadir import DATA_ENV

if TYPE_CHECKING:
    from cytorelease.records.store import Store

__all__ = ["PendingRows", "Recorder", "Trail", "open_trail"]


class Recorder(Protocol):
    """What the release pipeline records its steps to: a person's :class:`Trail`, or the
    worker's :class:`PendingRows` (one audit path for both)."""

    def record(
        self,
        action: Action,
        object: str,
        *,
        lot: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Trail:
    """Appends rows to the trail of one data folder, as the person running the command."""

    data_dir: Path
    actor: str

    def record(
        self,
        action: Action,
        object: str,
        *,
        lot: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        from cytorelease.records.store import open_data

        _, store = open_data(self.data_dir)
        with store, store.write():
            append(
                store,
                actor=self.actor,
                action=action,
                object=object,
                lot=lot,
                details=details or {},
            )


@dataclass
class PendingRows:
    """Rows the pipeline recorded, held until the caller writes them in its own transaction
    (the worker's: the release row, its audit rows and its signature commit together)."""

    rows: list[tuple[Action, str, str | None, dict[str, Any]]] = field(default_factory=list)

    def record(
        self,
        action: Action,
        object: str,
        *,
        lot: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.rows.append((action, object, lot, dict(details or {})))

    def append_to(
        self,
        store: Store,
        *,
        actor: str,
        extra: Mapping[Action, Mapping[str, Any]],
        objects: Mapping[Action, str] | None = None,
    ) -> None:
        """Append every row, each action's details completed with ``extra[action]`` and its
        object replaced by ``objects[action]`` (a file's final place, once it has one)."""
        for action, object, lot, details in self.rows:
            append(
                store,
                actor=actor,
                action=action,
                object=(objects or {}).get(action, object),
                lot=lot,
                details={**details, **extra.get(action, {})},
            )


def open_trail(data_dir: str | Path | None = None) -> Trail | None:
    """The trail of ``data_dir`` (else ``CYTORELEASE_DATA``); None when neither names one."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    return Trail(Path(chosen), os_user()) if chosen else None
