"""What an export copies besides the definitions: the frozen trend baselines and the pinned
spillover matrix files the results name, so the bundle is checkable offline.

- A result's ``out_of_trend.baseline`` names a frozen baseline (product, site or pooled,
  version, content SHA-256). Its file is copied from the data folder
  (``baselines/<product>/[sites/<site>/]v<N>.json``, the layout of ``trend/frozen.py``) to the
  same place in the bundle, with a ``LOCK`` beside it holding the LOCK line of each copied
  version. The file's content hash must be the one the record names and the data folder's LOCK
  lists, else nothing is exported: a data folder's record was altered.
- A flow analysis compensated from ``source: matrix_file`` records the file (relative to its
  template) and its pinned SHA-256. The file is copied beside the copied template
  (``definitions/gating/...``), so the template's reference resolves inside the bundle, when the
  library still holds those bytes; otherwise it is listed as not available, with the reason, as
  a definition is.

Both are in ``SHA256SUMS`` like every file, so ``sha256sum -c`` fails on an altered copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from cytorelease._lock import LOCK_NAME, lock_line, read_lock
from cytorelease.errors import InputError
from cytorelease.export.bundle import BundleWriter, FileRole
from cytorelease.provenance import content_sha256

__all__ = ["copy_baselines", "copy_matrix_files"]

_PRODUCT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SITE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?")


def _named_baselines(results: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, int, str]]:
    wanted: dict[tuple[str, str | None, int, str], None] = {}
    for record in results:
        block = record.get("out_of_trend")
        baseline = block.get("baseline") if isinstance(block, dict) else None
        if isinstance(baseline, dict):
            site = baseline.get("site")
            key = (str(baseline.get("product")), None if site is None else str(site),
                   int(baseline.get("version") or 0), str(baseline.get("sha256")))  # fmt: skip
            wanted[key] = None
    return list(wanted)


def copy_baselines(
    bundle: BundleWriter, data_root: Path, results: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Copy every frozen baseline the results name, with its LOCK line (see the module)."""
    listed: list[dict[str, Any]] = []
    locks: dict[str, list[str]] = {}
    for product, site, version, recorded in _named_baselines(results):
        if not _PRODUCT.fullmatch(product) or (site is not None and not _SITE.fullmatch(site)):
            raise InputError(
                f"a release record names baseline product {product!r} site {site!r}, which "
                "name no baseline folder",
                path=data_root,
            )
        place = PurePosixPath("baselines", product, *(("sites", site) if site else ()))
        folder = data_root.joinpath(*place.parts)
        path = folder / f"v{version}.json"
        locked = read_lock(folder / LOCK_NAME, error=InputError).get(f"{product}@{version}")
        if not path.is_file():
            raise InputError(
                f"the frozen baseline {product}@{version} a release names is missing",
                path=path,
                hint="restore the baselines folder from its backup; nothing was exported",
            )
        data = path.read_bytes()
        try:
            found = content_sha256(json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            found = None
        if found != recorded or locked != recorded:
            raise InputError(
                f"the frozen baseline {product}@{version} was altered: the release names "
                f"content sha256 {recorded}, the file's is {found}, its LOCK lists {locked}",
                path=path,
                hint="restore the baselines folder from its backup; nothing was exported",
            )
        relative = (place / path.name).as_posix()
        copied = bundle.write(relative, data, FileRole.BASELINE)
        lock_path = (place / LOCK_NAME).as_posix()
        locks.setdefault(lock_path, []).append(lock_line(f"{product}@{version}", recorded))
        listed.append({"product": product, "site": site, "version": version,
                       "content_sha256": recorded, "path": copied.path, "lock": lock_path,
                       "source": str(path)})  # fmt: skip
    for lock_path, lines in locks.items():
        bundle.write(lock_path, "".join(lines).encode("utf-8"), FileRole.BASELINE)
    return listed


def _named_matrices(results: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    wanted: dict[tuple[str, str], None] = {}
    for record in results:
        for analysis in record.get("analyses") or []:
            summary = analysis.get("summary") if isinstance(analysis, dict) else None
            compensation = summary.get("compensation") if isinstance(summary, dict) else None
            if not isinstance(compensation, dict) or compensation.get("source") != "matrix_file":
                continue
            for item in compensation.get("inputs") or []:
                if isinstance(item, dict) and item.get("role") == "matrix_file":
                    wanted[(str(item.get("path")), str(item.get("sha256")))] = None
    return list(wanted)


def copy_matrix_files(
    bundle: BundleWriter, results: Iterable[dict[str, Any]], definitions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Copy every pinned matrix file beside the copied template that holds it (the module)."""
    templates = [d for d in definitions if d.get("kind") == "gating-template" and d["available"]]
    listed: list[dict[str, Any]] = []
    for relative, pinned in _named_matrices(results):
        described: dict[str, Any] = {"file": relative, "sha256": pinned, "available": False}
        pure = PurePosixPath(relative)
        if pure.is_absolute() or any(p in ("", ".", "..") for p in pure.parts):
            listed.append({**described, "reason": "not a path inside the template's folder"})
            continue
        found = None
        for template in templates:
            source = Path(template["library_path"]).parent.joinpath(*pure.parts)
            if source.is_file() and hashlib.sha256(source.read_bytes()).hexdigest() == pinned:
                found = (template, source)
                break
        if found is None:
            reason = "no copied gating template's folder holds a file of the pinned SHA-256"
            listed.append({**described, "reason": reason})
            continue
        template, source = found
        target = (PurePosixPath(template["path"]).parent / pure).as_posix()
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != pinned:  # changed since it was hashed above
            listed.append({**described, "reason": "the file changed while it was copied"})
            continue
        copied = bundle.write(target, data, FileRole.MATRIX)
        listed.append({**described, "available": True, "path": copied.path,
                       "template": template["path"], "library_path": str(source)})  # fmt: skip
    return listed
