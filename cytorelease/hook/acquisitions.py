"""Which acquisition of each lot input a release uses.

An input (a tube named in the manifest) can receive several different files: the instrument
acquired the tube again, or a changed copy was sent. Each is a version of that input, numbered
in the order the files were assigned to it; a release names the version of every input it used.
"""

from __future__ import annotations

from typing import Any

from cytorelease.records.lots import lot_files
from cytorelease.records.store import Store

__all__ = ["acquisitions_of", "files_per_input"]


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
