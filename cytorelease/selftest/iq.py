"""Installation qualification: the installed files are the released ones, the dependencies fit.

A wheel's ``RECORD`` (in its ``.dist-info``) lists every file the installer wrote with its
SHA-256; re-hashing those files shows that nothing was changed, lost or added since. An editable
(development) install has no such list for its modules, which are read from the source tree: then
the files RECORD does list are checked, the modules' folder and a digest of them are recorded,
and the check is a flag (not qualified), never a pass.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from cytorelease.provenance import file_sha256
from cytorelease.selftest.checks import Check, Status

__all__ = [
    "dependency_check",
    "installed_dependency_check",
    "installed_record_check",
    "is_editable",
    "record_check",
]

DIST_NAME = "cytorelease"
_STAGE = "IQ"
_SHOWN = 10  # mismatching files listed by name; the count says how many in all


def _record_digest(value: str) -> str:
    """RECORD's ``sha256=<urlsafe base64, unpadded>`` as hex."""
    padded = value + "=" * (-len(value) % 4)
    return base64.urlsafe_b64decode(padded).hex()


def is_editable(dist: metadata.Distribution) -> bool:
    """PEP 610: an editable install says so in ``direct_url.json``."""
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return False
    return bool((document.get("dir_info") or {}).get("editable"))


def _verify_record(dist: metadata.Distribution) -> tuple[int, list[dict[str, Any]], set[Path]]:
    """(files checked, problems, the checked files' resolved paths)."""
    problems: list[dict[str, Any]] = []
    checked: set[Path] = set()
    count = 0
    for entry in dist.files or []:
        if entry.hash is None:  # RECORD itself, and .pyc files written after install
            continue
        located = Path(str(dist.locate_file(entry)))
        count += 1
        checked.add(located.resolve())
        if entry.hash.mode != "sha256":
            problems.append({"file": str(entry), "problem": f"hash {entry.hash.mode} not sha256"})
            continue
        if not located.is_file():
            problems.append({"file": str(entry), "problem": "missing"})
            continue
        if file_sha256(located) != _record_digest(entry.hash.value):
            problems.append({"file": str(entry), "problem": "content differs from RECORD"})
    return count, problems, checked


def _unlisted(package_dir: Path, checked: set[Path]) -> list[dict[str, Any]]:
    """Python files inside the installed package that RECORD does not list (dropped in later)."""
    extra = []
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" not in path.parts and path.resolve() not in checked:
            extra.append(
                {"file": str(path.relative_to(package_dir.parent)), "problem": "not in RECORD"}
            )
    return extra


def _source_digest(package_dir: Path) -> tuple[int, str]:
    """A digest over the package's module files (path and SHA-256 of each), for editable installs."""
    digest = hashlib.sha256()
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    for path in files:
        digest.update(f"{path.relative_to(package_dir).as_posix()}\0{file_sha256(path)}\n".encode())
    return len(files), digest.hexdigest()


def record_check(dist: metadata.Distribution, module_file: str | Path) -> Check:
    """The installed files against RECORD; ``module_file`` is the package's ``__init__.py`` in use."""
    title = "installed files match the distribution's RECORD (SHA-256)"
    count, problems, checked = _verify_record(dist)
    package_dir = Path(module_file).resolve().parent
    editable = is_editable(dist)
    observed: dict[str, Any] = {"files_checked": count, "mismatches": len(problems)}
    if editable:
        modules, digest = _source_digest(package_dir)
        observed.update(
            {"editable": True, "modules_from": str(package_dir), "modules": modules,
             "modules_sha256": digest}
        )  # fmt: skip
        status = Status.FAIL if problems else Status.FLAG
        detail = (
            f"editable install: RECORD covers {count} files (metadata, bundled definitions, entry "
            f"point), not the modules, which are read from {package_dir}; their digest is recorded "
            "instead. Not an installation qualification: install the wheel for that."
        )
    else:
        if package_dir / "__init__.py" not in checked:
            problems.insert(
                0, {"file": str(module_file), "problem": "the package in use is not this RECORD's"}
            )
        problems.extend(_unlisted(package_dir, checked))
        observed["mismatches"] = len(problems)
        status = Status.PASS if problems == [] and count > 0 else Status.FAIL
        detail = f"{count} files re-hashed" + (
            f"; {len(problems)} differ, first: "
            + ", ".join(f"{p['file']} ({p['problem']})" for p in problems[:3])
            if problems
            else ""
        )
    return Check(
        "iq.record", _STAGE, title, status, expected={"mismatches": 0}, observed=observed,
        detail=detail, items=problems[:_SHOWN],
    )  # fmt: skip


def dependency_check(dist: metadata.Distribution) -> Check:
    """Every declared (non-optional) requirement is installed at a version it allows."""
    from packaging.requirements import Requirement

    items = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an optional extra, or not for this platform
        try:
            version: str | None = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            version = None
        ok = version is not None and requirement.specifier.contains(version, prereleases=True)
        items.append(
            {"name": requirement.name, "required": str(requirement.specifier) or "any",
             "installed": version, "ok": ok}
        )  # fmt: skip
    bad = [i for i in items if not i["ok"]]
    return Check(
        "iq.dependencies",
        _STAGE,
        "declared dependencies installed at allowed versions",
        Status.PASS if items and not bad else Status.FAIL,
        expected={"unsatisfied": 0},
        observed={"checked": len(items), "unsatisfied": len(bad)},
        detail="; ".join(
            f"{i['name']} {i['installed'] or 'missing'} (needs {i['required']})" for i in bad
        ),
        items=items,
    )


def installed_record_check() -> Check:
    """:func:`record_check` of the cytorelease this process imported."""
    import cytorelease

    return record_check(metadata.distribution(DIST_NAME), cytorelease.__file__)


def installed_dependency_check() -> Check:
    return dependency_check(metadata.distribution(DIST_NAME))
