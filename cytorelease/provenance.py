"""Hashes and identities that results carry: file SHA-256, canonical content hash, versions.

Every result names the software that made it: cytorelease's version and the installed versions
of the libraries its numbers come from (a different numpy, scipy or numba can change a fitted
value in its last digits, so a result is reproducible only with the same ones).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from cytorelease import __version__

__all__ = [
    "NUMERIC_DEPENDENCIES",
    "canonical_json",
    "content_sha256",
    "dependency_versions",
    "file_sha256",
    "software",
]

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


# The distributions whose code computes or signs a reported number (numba compiles the gating
# and transform kernels through llvmlite; cryptography makes the signatures).
NUMERIC_DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "numba",
    "llvmlite",
    "statsmodels",
    "scikit-learn",
    "cryptography",
)


@cache  # installed versions do not change while the process runs
def _installed_versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in NUMERIC_DEPENDENCIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"  # named, never left out: absence is a fact about the run
        found.append((name, version))
    return tuple(found)


def dependency_versions() -> dict[str, str]:
    """Installed version of each of :data:`NUMERIC_DEPENDENCIES` ("not installed" if absent)."""
    return dict(_installed_versions())


def software() -> dict[str, object]:
    """The software identity every result names: name, version and the numeric dependencies."""
    return {"name": "cytorelease", "version": __version__, "dependencies": dependency_versions()}
