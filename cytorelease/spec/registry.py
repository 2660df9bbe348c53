"""Spec versions on disk, their LOCK, references like ``cd19-car-t@2``, and new drafts.

Layout: ``<specs>/<product>/v<N>.yaml`` and ``<specs>/LOCK``. The LOCK lists the identity hash
(canonical-content SHA-256, see ``loader.spec_identity``) of every version that has been
effective. Loading a spec never consults a LOCK: only the LOCK of the library in use judges
whether it is locked (``LoadedSpec.definition``), so a changed, unlisted or draft version loads as
an *unlocked* what-if that can never release a lot. The library's own tools do check the LOCK
of the folder they maintain: ``spec lock`` refuses to re-lock a changed version and ``spec
validate`` reports a version that no longer matches, or is missing from, its LOCK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cytorelease._lock import held, lock_line
from cytorelease._lock import read_lock as _read_lock
from cytorelease._resources import ResourceKind, resource_dir
from cytorelease.errors import SpecError
from cytorelease.spec.loader import LoadedSpec, load_spec_file
from cytorelease.spec.model import SpecStatus

__all__ = [
    "LockOutcome",
    "SpecCheck",
    "check_specs",
    "find_lock",
    "latest_effective",
    "list_versions",
    "load_spec",
    "lock_specs",
    "new_version",
    "read_lock",
    "resolve_spec",
    "verify_lock",
]

LOCK_NAME = "LOCK"
_REF = re.compile(r"^(?P<product>[a-z0-9][a-z0-9._-]*)(?:@(?P<version>\d+))?$")
_VERSION_FILE = re.compile(r"^v(\d+)\.ya?ml$")
_LOCK_HEADER = (
    "# cytorelease spec LOCK: the canonical-content SHA-256 of every spec version that has been\n"
    "# effective. A listed version can never change: a change of limits is a new version.\n"
    "# Maintained by `cytorelease spec lock`; do not edit by hand.\n"
)


def find_lock(spec_path: Path) -> Path:
    """The LOCK of a spec file: beside it, or one folder up (``<specs>/<product>/vN.yaml``)."""
    for folder in (spec_path.parent, spec_path.parent.parent):
        if (folder / LOCK_NAME).is_file():
            return folder / LOCK_NAME
    return spec_path.parent.parent / LOCK_NAME


def read_lock(lock: Path) -> dict[str, str]:
    """``{"product@N": sha256}``; an absent LOCK is empty, a malformed line is an error."""
    return _read_lock(lock, error=SpecError)


def verify_lock(loaded: LoadedSpec) -> None:
    """Refuse a spec its folder's LOCK records with another content, or a non-draft one it does
    not list: the check of the library's maintenance tools (``spec lock``, ``spec validate``)."""
    lock = find_lock(loaded.path)
    locked = read_lock(lock).get(loaded.ref)
    if locked is not None and locked != loaded.sha256:
        raise SpecError(
            f"{loaded.ref} ({loaded.spec.status}) no longer matches its lock: {lock} records "
            f"sha256 {locked}, the file's content is sha256 {loaded.sha256}",
            path=loaded.path,
            hint="an effective spec never changes; restore it and make the change in a new "
            "version with `cytorelease spec new-version`",
        )
    if locked is None and loaded.spec.status != SpecStatus.DRAFT:
        raise SpecError(
            f"{loaded.ref} is {loaded.spec.status} but not recorded in {lock}",
            path=loaded.path,
            hint="record it with `cytorelease spec lock` once it is approved",
        )


def load_spec(path: str | Path) -> LoadedSpec:
    """Load and validate one spec file; whether it is locked is ``loaded.locked`` (the
    library's LOCK), not a refusal here (see the module doc)."""
    return load_spec_file(path)


def list_versions(product_dir: Path) -> list[tuple[int, Path]]:
    """``(version, file)`` of every ``vN.yaml`` in a product folder, oldest first."""
    found = []
    for path in product_dir.glob("v*.y*ml"):
        match = _VERSION_FILE.match(path.name)
        if match:
            found.append((int(match[1]), path))
    return sorted(found)


def _product_dir(product: str) -> Path:
    base = resource_dir(ResourceKind.SPECS)
    folder = base / product
    if not folder.is_dir():
        known = sorted(p.name for p in base.iterdir() if p.is_dir())
        raise SpecError(
            f"no spec for product '{product}'",
            path=base,
            hint=f"products: {', '.join(known) or 'none'}",
        )
    return folder


def latest_effective(product_dir: Path) -> LoadedSpec:
    """The one effective version in a product folder (none, or two, is an error)."""
    versions = list_versions(product_dir)
    if not versions:
        raise SpecError(
            "no vN.yaml spec versions in this folder",
            path=product_dir,
            hint="give a spec file, a product folder of specs/, or product@N",
        )
    effective = [
        loaded
        for _, path in versions
        if (loaded := load_spec(path)).spec.status == SpecStatus.EFFECTIVE
    ]
    if not effective:
        raise SpecError("no effective version", path=product_dir, hint="name a version: product@N")
    markets = {s.spec.market for s in effective}
    if len(effective) > len(markets):
        listed = ", ".join(s.ref for s in effective)
        raise SpecError(
            f"more than one effective version for one market: {listed}", path=product_dir
        )
    if len(effective) > 1:
        listed = ", ".join(f"{s.ref} ({s.spec.market})" for s in effective)
        raise SpecError(
            f"one effective version per market: {listed}",
            path=product_dir,
            hint="name the version: product@N",
        )
    return effective[0]


def resolve_spec(reference: str | Path) -> LoadedSpec:
    """A spec by file path, product folder, ``product@N``, or ``product`` (latest effective)."""
    path = Path(reference)
    if path.is_file():
        return load_spec(path)
    if path.is_dir():
        return latest_effective(path)
    match = _REF.match(str(reference))
    if match is None:
        raise SpecError(
            "not a spec file and not a reference",
            path=str(reference),
            hint="give a path, 'product@version' (e.g. cd19-car-t@2) or a product name",
        )
    folder = _product_dir(match["product"])
    if match["version"] is None:
        return latest_effective(folder)
    version = int(match["version"])
    for number, file in list_versions(folder):
        if number == version:
            return load_spec(file)
    available = ", ".join(f"@{n}" for n, _ in list_versions(folder)) or "none"
    raise SpecError(
        f"no version {version} of {match['product']}", path=folder, hint=f"versions: {available}"
    )


def _replace_top_level(text: str, key: str, value: str, after: str) -> str:
    """Set a top-level scalar ``key: value`` in YAML text, keeping every other line (and comment)."""
    pattern = re.compile(rf"^{key}:.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(f"{key}: {value}", text, count=1)
    anchor = re.compile(rf"^{after}:.*$", re.MULTILINE)
    return anchor.sub(lambda m: f"{m.group(0)}\n{key}: {value}", text, count=1)


def new_version(reference: str | Path) -> Path:
    """Copy the latest version of a product as ``v<N+1>.yaml``, status draft; never overwrites."""
    path = Path(reference)
    if path.is_file():
        if not _VERSION_FILE.match(path.name):
            raise SpecError(
                "not a vN.yaml spec version file",
                path=path,
                hint="give a product's spec file (e.g. specs/cd19-car-t/v2.yaml), its folder or "
                "its name",
            )
        folder = path.parent
    elif path.is_dir():
        folder = path
    else:
        match = _REF.match(str(reference))
        if match is None:
            raise SpecError("not a spec file, folder or product name", path=str(reference))
        folder = _product_dir(match["product"])
    versions = list_versions(folder)
    if not versions:
        raise SpecError("no vN.yaml spec versions in this folder", path=folder)
    latest_number, latest_path = versions[-1]
    latest = load_spec(latest_path)  # never copy a broken or tampered version
    verify_lock(latest)
    number = latest_number + 1
    target = folder / f"v{number}.yaml"
    text = latest_path.read_text(encoding="utf-8")
    text = _replace_top_level(text, "version", str(number), "product")
    text = _replace_top_level(text, "status", "draft", "version")
    text = _replace_top_level(text, "supersedes", str(latest.spec.version), "status")
    text = _replace_top_level(text, "effective_from", "null", "status")
    load_spec_file(target, read=lambda _: text)  # the draft must validate before it exists
    try:
        with open(target, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise SpecError(
            f"v{number}.yaml already exists; edit it, or remove it to start over",
            path=target,
        ) from None
    return target


class LockOutcome(StrEnum):
    ADDED = "added"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class LockEntry:
    ref: str
    sha256: str
    outcome: LockOutcome
    lock: Path


def _lock_order(entry: tuple[str, str]) -> tuple[str, int]:
    product, _, version = entry[0].partition("@")
    return product, int(version)


def lock_specs(paths: list[Path]) -> list[LockEntry]:
    """Record approved (non-draft) versions in their LOCK; a changed locked version is refused."""
    results = []
    for path in paths:
        loaded = load_spec_file(path)
        if loaded.spec.status == SpecStatus.DRAFT:
            raise SpecError(
                f"{loaded.ref} is a draft; set status: effective (and effective_from) first",
                path=path,
            )
        if not _VERSION_FILE.match(path.name) or path.parent.name != loaded.spec.product:
            # A stray copy would otherwise create or edit a LOCK two folders up.
            raise SpecError(
                f"only a spec in the registry layout <specs>/{loaded.spec.product}/"
                f"v{loaded.spec.version}.yaml can be locked; this file is outside it",
                path=path,
                hint="move it into the product's folder of your specs library first",
            )
        lock = find_lock(loaded.path)
        with held(lock):  # read and written under the writers' lock: no concurrent line lost
            entries = read_lock(lock)
            if loaded.ref in entries:
                verify_lock(loaded)
                results.append(LockEntry(loaded.ref, loaded.sha256, LockOutcome.UNCHANGED, lock))
                continue
            entries[loaded.ref] = loaded.sha256
            body = "".join(lock_line(r, sha) for r, sha in sorted(entries.items(), key=_lock_order))
            partial = lock.with_name(lock.name + ".partial")
            partial.write_text(_LOCK_HEADER + body, encoding="utf-8")
            partial.replace(lock)  # whole or not at all, as the one LOCK writer does
        results.append(LockEntry(loaded.ref, loaded.sha256, LockOutcome.ADDED, lock))
    return results


@dataclass(frozen=True, slots=True)
class SpecCheck:
    """The outcome of validating one spec reference: its identity, or every problem found."""

    reference: str
    loaded: LoadedSpec | None
    problems: tuple[str, ...]  # each "<file>: <field> (line N): <problem>"

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "ok": self.ok,
            "spec": self.loaded.identity() if self.loaded else None,
            "path": str(self.loaded.path) if self.loaded else None,
            "problems": list(self.problems),
        }


def check_specs(references: list[str]) -> list[SpecCheck]:
    """Validate each spec (schema, rules, LOCK), collecting every problem instead of stopping."""
    from cytorelease.spec.loader import SpecValidationError

    checks = []
    for reference in references:
        try:
            loaded = resolve_spec(reference)
            verify_lock(loaded)
            checks.append(SpecCheck(reference, loaded, ()))
        except SpecValidationError as exc:
            lines = tuple(f"{exc.path}: {p.text()}" for p in exc.problems)
            checks.append(SpecCheck(reference, None, lines))
        except SpecError as exc:
            checks.append(SpecCheck(reference, None, (exc.one_line(),)))
    return checks
