"""Hashes and identities that results carry: file SHA-256, canonical content hash, versions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cytorelease import __version__

__all__ = ["canonical_json", "content_sha256", "file_sha256", "software"]

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (raw files can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(obj: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept: the bytes every hash is taken over."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def content_sha256(obj: Any) -> str:
    """SHA-256 of an object's canonical JSON: a document's identity, independent of formatting."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def software() -> dict[str, str]:
    """The software identity every result names."""
    return {"name": "cytorelease", "version": __version__}
