"""The released record a lot is assessed against, read where its task runs.

The coordinator hands each task the record's path and the record hash its release row states;
the task reads the record (shared storage on a cluster, as the archive is) and holds it to that
hash before anything in it is used. Reading and re-hashing a record costs about 2 ms (its
figures make it a few hundred KB): done by the workers, it is spread over the cluster's cores
instead of being the coordinator's bookkeeping per lot, and the task ships a path, not the
record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.provenance import content_sha256

__all__ = ["RELEASED_PARTS", "read_released", "released_inputs"]

# what a task uses of the released record: the lot (its manifest is held to it), its results
# and the inputs it read
RELEASED_PARTS = ("lot", "measurements", "evaluation", "definitions", "inputs")


def read_released(path: str | Path, record_sha256: str, *, product: str | None = None) -> dict:
    """The parts of the release's result.json a re-analysis uses, once the whole record hashes
    to ``record_sha256``; with ``product``, the record must name it (the coordinator chose the
    lot by the lots dataset's product, which the record itself must bear out)."""
    path = Path(path)
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise InputError("the released record cannot be read", path=path) from None
    if not isinstance(record, dict) or content_sha256(record) != record_sha256:
        raise InputError(
            "the released record is not the one its release row states (edited or replaced)",
            path=path,
        )
    shown = _lot(record).get("product")
    if product is not None and shown != product:
        raise InputError(
            f"the lots dataset names product {product!r} for this record, the record {shown!r}",
            path=path,
        )
    return {key: record.get(key) for key in RELEASED_PARTS}


def _lot(record: Mapping[str, Any]) -> Mapping[str, Any]:
    lot = record.get("lot")
    return lot if isinstance(lot, Mapping) else {}


def released_inputs(released: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(path in the lot folder, SHA-256) of each input the release read, sorted."""
    return tuple(sorted({(str(i["path"]), str(i["sha256"])) for i in released.get("inputs") or []}))
