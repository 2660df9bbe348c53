"""A product's frozen trend baselines: the I-MR limits a release judges out of trend against.

``trend ATTRIBUTE... --data-dir D --product P --freeze`` (:mod:`cytorelease.trend.freeze`)
writes the Phase I limits of each charted attribute into the data folder as a versioned,
locked document; with ``--by-site`` one per site, from that site's chart::

    D/baselines/<product>/v<N>.json                 the pooled baseline (all sites)
    D/baselines/<product>/LOCK                      one line per version: <product>@<N> <sha256>
    D/baselines/<product>/sites/<site>/v<N>.json    the baseline of one site
    D/baselines/<product>/sites/<site>/LOCK         likewise (the document names its site)

The SHA-256 is the document's content hash (its canonical JSON), as for result records. A
freeze never replaces a version: freezing again writes version N + 1, which names the version
it supersedes, and the newest version is the one in force. Each freeze is one ``trend-freeze``
audit row whose object is the baseline's ref (``<product>@<N>``, a site's
``<product>/<site>@<N>``) with the version's SHA-256.

A baseline is used only when its whole history can be vouched for (:func:`current_baseline`):
every version 1..N is a file the LOCK lists with that content hash, a document of that product,
site and version (:mod:`cytorelease.trend.baseline_doc`: finite numbers, limits that its lots
give), the trail records a freeze of each with that hash, each version names the one before as
superseded, and the trail records no later version than the newest present (a deleted version
or folder is not silently replaced by an older one).

Hash, LOCK line and trail row say only who froze the bytes, and an insider who can write the
data folder and the database can forge all three (the trail's chain is extended correctly
until the next signed checkpoint). So, once the chain holds, every version is held to the lots
dataset of the same store, in one read for all versions: each lot it lists must be a release the
dataset holds with that record SHA-256, of that lot and product (a site's baseline: made at
that site), with the listed date and exactly the listed value of the attribute (the freeze
copied the stored number). Then which lots it lists, and which release of each, is held to
the audit trail's sequence (:mod:`cytorelease.trend.frozen_sequence`, one read of the trail's
rows of those lots): a lot stated before the version's freeze row and ahead of its last lot in
series order, left out, refuses it, as does an older release of a lot listed where a later one
was stated before the freeze. The sequence, not ``stored_at`` (each writing host's clock),
decides what came before: a skewed clock cannot refuse an honest baseline.

Anything else is refused, never ignored, naming the file, the version, the lot and what
disagrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease._lock import LOCK_NAME, read_lock
from cytorelease.errors import InputError
from cytorelease.provenance import content_sha256
from cytorelease.trend.baseline_doc import BASELINE_SCHEMA, document_problem, parse_baseline_json
from cytorelease.trend.frozen_sequence import StoredRelease, held_to_sequence

__all__ = [
    "BASELINE_SCHEMA",
    "FrozenBaseline",
    "baseline_folder",
    "baseline_in_force",
    "baseline_ref",
    "check_data_baselines",
    "current_baseline",
]

SITES_FOLDER = "sites"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# the lot manifest's rule for a site (letters, digits, spaces, '.', '_', '-'): a folder name too
_SITE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?")
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.json")


def baseline_ref(product: str, site: str | None, version: int) -> str:
    """The audit object of a freeze: ``<product>@<N>``, or ``<product>/<site>@<N>``."""
    return f"{product}@{version}" if site is None else f"{product}/{site}@{version}"


@dataclass(frozen=True)
class FrozenBaseline:
    """One locked version of a product's baseline, as read and checked (or just written)."""

    path: Path
    document: dict[str, Any]
    sha256: str

    @property
    def product(self) -> str:
        return str(self.document["product"])

    @property
    def site(self) -> str | None:
        site = self.document.get("site")
        return None if site is None else str(site)

    @property
    def version(self) -> int:
        return int(self.document["version"])

    @property
    def ref(self) -> str:
        return baseline_ref(self.product, self.site, self.version)

    def attributes(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self.document["attributes"]]

    def identity(self) -> dict[str, Any]:
        """What a release record names: id, product, scope (a site's or pooled), version,
        SHA-256, who froze it and when."""
        d = self.document
        return {"id": d["id"], "product": d["product"],
                "scope": "pooled" if self.site is None else "site", "site": self.site,
                "version": d["version"], "sha256": self.sha256, "frozen_at": d["frozen_at"],
                "frozen_by": d["frozen_by"], "baseline_n": d["baseline_n"]}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "path": str(self.path),
                "attributes": [a["attribute"] for a in self.document["attributes"]]}  # fmt: skip


def baseline_folder(data_dir: str | Path, product: str, site: str | None = None) -> Path:
    """``D/baselines/<product>`` (``.../sites/<site>`` for a site's); a product or site name
    that is no plain file name is refused."""
    if not _NAME.fullmatch(product):
        raise InputError(
            f"product {product!r} cannot name a baseline (letters, digits, '.', '_', '-')",
            path=Path(data_dir),
        )
    folder = Path(data_dir) / "baselines" / product
    if site is None:
        return folder
    if not _SITE.fullmatch(site):
        raise InputError(f"site {site!r} cannot name a baseline folder", path=folder)
    return folder / SITES_FOLDER / site


def _versions(folder: Path, product: str, *, pooled: bool) -> dict[int, str]:
    """Version -> SHA-256 from the LOCK, every file of the folder accounted for."""
    lock = folder / LOCK_NAME
    listed: dict[int, str] = {}
    for ref, sha in read_lock(lock, error=InputError).items():
        name, _, version = ref.partition("@")
        if name != product or not version.isdigit() or int(version) < 1:
            raise InputError(f"lists {ref}, not a version of {product!r}'s baseline", path=lock)
        listed[int(version)] = sha
    for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
        if entry.name == LOCK_NAME or entry.name.startswith("."):
            continue
        if pooled and entry.name == SITES_FOLDER and entry.is_dir():
            continue
        match = _VERSION_FILE.fullmatch(entry.name)
        if match is None or int(match[1]) not in listed:
            raise InputError(
                "is not a version the LOCK lists: a baseline is used only once it is locked",
                path=entry,
                hint="freeze again with `cytorelease trend ... --freeze` (a new version)",
            )
    for number in listed:
        if not (folder / f"v{number}.json").exists():  # a folder or pipe: refused when read
            raise InputError(
                f"the LOCK lists {product}@{number} and its file v{number}.json is missing",
                path=lock,
            )
    return listed


def _read(
    folder: Path, product: str, site: str | None, version: int, locked: str
) -> FrozenBaseline:
    from cytorelease._yaml import read_document_text

    path = folder / f"v{version}.json"
    # the bounded reader every document takes: no device or pipe, no huge file, UTF-8
    text = read_document_text(path, error=InputError, what="frozen trend baseline")
    document, problem = parse_baseline_json(text)
    if problem is not None:
        raise InputError(problem, path=path)
    sha = content_sha256(document)
    if sha != locked:
        raise InputError(
            f"the baseline's content hash {sha[:16]}... is not the {locked[:16]}... its LOCK "
            "records: the frozen baseline was changed, so it is refused",
            path=path,
            hint="restore the frozen version from a backup (a freeze refuses it too)",
        )
    problem = document_problem(document, product=product, site=site, version=version)
    if problem is not None:
        raise InputError(f"not version {version} of this baseline: {problem}", path=path)
    return FrozenBaseline(path, document, sha)


def _trail_versions(store: Any, product: str, site: str | None) -> dict[int, dict[str, int]]:
    """Version -> the SHA-256s the trail's freezes of this baseline record, each with the
    sequence of its first freeze row."""
    from cytorelease.records import audit

    base = baseline_ref(product, site, 0).rpartition("@")[0]
    found: dict[int, dict[str, int]] = {}
    for row in audit.entries_of(store, audit.Action.TREND_FREEZE):  # in sequence order
        name, _, version = row.object.rpartition("@")
        if name == base and version.isdigit():
            found.setdefault(int(version), {}).setdefault(
                str(row.details.get("sha256")), row.sequence
            )
    return found


def _checked(
    data_dir: str | Path, product: str, site: str | None, store: Any
) -> FrozenBaseline | None:
    """The newest version of one baseline after its whole history is checked (the module)."""
    folder = baseline_folder(data_dir, product, site)
    versions = _versions(folder, product, pooled=site is None) if folder.exists() else {}
    trail = _trail_versions(store, product, site)
    newest = max(versions, default=0)
    if max(trail, default=0) > newest:
        gone = baseline_ref(product, site, max(trail))
        raise InputError(
            f"the audit trail records the freeze of {gone}, and the data folder holds "
            + (f"versions up to {newest} only" if newest else "no version of it")
            + ": a frozen baseline was removed",
            path=folder / LOCK_NAME,
            hint="restore the baselines folder from its backup",
        )
    previous: FrozenBaseline | None = None
    read: list[FrozenBaseline] = []
    for version in range(1, newest + 1):
        if version not in versions:
            raise InputError(
                f"version {version} of {baseline_ref(product, site, version)} is missing from "
                f"the LOCK (it lists versions up to {newest}): a frozen version was removed",
                path=folder / LOCK_NAME,
            )
        baseline = _read(folder, product, site, version, versions[version])
        if baseline.sha256 not in trail.get(version, {}):
            raise InputError(
                f"the audit trail records no freeze of {baseline.ref} with SHA-256 "
                f"{baseline.sha256[:16]}...: the baseline and its LOCK were not written by a "
                "freeze",
                path=baseline.path,
            )
        expected = None if previous is None else {"version": previous.version,
                                                  "sha256": previous.sha256}  # fmt: skip
        if baseline.document.get("supersedes") != expected:
            raise InputError(
                f"{baseline.ref} names {baseline.document.get('supersedes')!r} as superseded, "
                f"not {expected!r}: versions follow one another",
                path=baseline.path,
            )
        previous = baseline
        read.append(baseline)
    # the chain first: a rewritten version is named by what broke it
    _held_to_dataset(store, read, {b.version: trail[b.version][b.sha256] for b in read})
    return previous


_COLUMNS = (
    "record_sha256", "lot", "product", "site", "date", "attribute", "value_number", "released_at",
)  # fmt: skip


def _records(rows: list[tuple[Any, ...]]) -> dict[str, StoredRelease]:
    found: dict[str, StoredRelease] = {}
    for sha, lot, product, site, day, attribute, number, released_at in rows:
        record = found.get(sha)
        if record is None:
            record = found[sha] = StoredRelease(
                str(lot), str(product), None if site is None else str(site), str(day),
                str(released_at), {},
            )  # fmt: skip
        record.values[str(attribute)] = None if number is None else float(number)
    return found


def _lot_problem(
    baseline: FrozenBaseline, attribute: str, lot: dict[str, Any], record: StoredRelease | None
) -> str | None:
    """How the lots dataset's record disagrees with a lot the baseline lists, or None."""
    if record is None:
        return "which the lots dataset does not hold"
    if record.lot != lot["lot"]:
        return f"which is a release of lot {record.lot!r} in the lots dataset"
    if record.product != baseline.product:
        return f"which is a release of product {record.product!r} in the lots dataset"
    if baseline.site is not None and record.site != baseline.site:
        return f"which the lots dataset holds as made at site {record.site!r}"
    if record.date != lot["date"]:
        return f"dated {lot['date']}, which the lots dataset dates {record.date}"
    if attribute not in record.values:
        return f"which holds no {attribute} result in the lots dataset"
    held = record.values[attribute]
    if held is None or held != float(lot["value"]):
        return f"with value {lot['value']!r}, where the lots dataset holds {held!r}"
    return None


def _held_to_dataset(store: Any, versions: list[FrozenBaseline], freezes: dict[int, int]) -> None:
    """Refuse a version whose lots are not the releases of the lots dataset it names (the
    module); one read of the dataset for all
    the versions of one baseline (another only to say how a lot outside it disagrees)."""
    from cytorelease.records.lot_results import lots_through, record_rows

    if not versions:
        return
    first = versions[0]
    every = [a for v in versions for a in v.attributes()]
    records = _records(
        lots_through(store, _COLUMNS, product=first.product, site=first.site,
                     attributes=sorted({a["attribute"] for a in every}),
                     last=max(str(lot["date"]) for a in every for lot in a["lots"]))
    )  # fmt: skip
    for baseline in versions:
        attributes = baseline.attributes()
        for entry in attributes:
            for lot in entry["lots"]:
                sha = str(lot["record_sha256"])
                record = records.get(sha)
                if record is None:  # not among the lots read: what it is, for the refusal
                    record = _records(record_rows(store, _COLUMNS, sha)).get(sha)
                problem = _lot_problem(baseline, entry["attribute"], lot, record)
                if problem is not None:
                    raise InputError(
                        f"version {baseline.version} ({baseline.ref}): {entry['attribute']}: "
                        f"lists lot {lot['lot']!r} with record {sha[:16]}..., {problem}: a "
                        "baseline lists the releases it was frozen on",
                        path=baseline.path,
                    )
    held_to_sequence(store, versions, records, freezes)  # which lots, and which release of each


def current_baseline(
    data_dir: str | Path, product: str, store: Any, site: str | None = None
) -> FrozenBaseline | None:
    """The version in force of ``product``'s pooled baseline (``site``'s when given), checked
    against its LOCK and the trail of ``store`` (the data folder's); None when there is none."""
    return _checked(data_dir, product, site, store)


def baseline_in_force(
    data_dir: str | Path, product: str, site: str | None, store: Any
) -> FrozenBaseline | None:
    """What a release at ``site`` is judged against: the site's baseline when one is frozen,
    else the product's pooled one, else None."""
    if site is not None:
        own = _checked(data_dir, product, site, store)
        if own is not None:
            return own
    return _checked(data_dir, product, None, store)


def _scopes(data_dir: Path, store: Any) -> set[tuple[str, str | None]]:
    """Every (product, site) a folder or a freeze of the trail names."""
    from cytorelease.records import audit

    scopes: set[tuple[str, str | None]] = set()
    root = data_dir / "baselines"
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        scopes.add((folder.name, None))
        sites = folder / SITES_FOLDER
        for site in sorted(sites.iterdir()) if sites.is_dir() else ():
            scopes.add((folder.name, site.name))
    for row in audit.entries_of(store, audit.Action.TREND_FREEZE):
        product, _, named = row.object.rpartition("@")[0].partition("/")
        scopes.add((product, named or None))
    return scopes


def check_data_baselines(data_dir: Path, store: Any) -> tuple[int, list[str]]:
    """``audit verify``'s check of every baseline of the data folder: (versions vouched for,
    problems), each problem one line naming the file."""
    checked, problems = 0, []
    for product, site in sorted(_scopes(data_dir, store), key=lambda s: (s[0], s[1] or "")):
        try:
            newest = _checked(data_dir, product, site, store)
        except InputError as exc:
            problems.append(exc.one_line())
            continue
        checked += 0 if newest is None else newest.version
    return checked, problems
