"""The audit trail of interactive commands (release, sign, verify), run by a person.

Opt-in by configuration, not by habit: when a data folder is named (``--data-dir`` or
``CYTORELEASE_DATA``, which a site sets once for every analyst), each command appends its
actions to that folder's hash-chained trail under the OS user's name; without one, nothing is
written anywhere. Each action is its own short transaction, so a trail is never left half-written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease.records.audit import Action, append, os_user
from cytorelease.records.datadir import DATA_ENV

__all__ = ["Trail", "open_trail"]


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


def open_trail(data_dir: str | Path | None = None) -> Trail | None:
    """The trail of ``data_dir`` (else ``CYTORELEASE_DATA``); None when neither names one."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    return Trail(Path(chosen), os_user()) if chosen else None
