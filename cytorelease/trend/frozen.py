"""A product's frozen trend baseline: the I-MR limits a release judges out of trend against.

``trend ATTRIBUTE... --data-dir D --product P --freeze`` writes the Phase I limits of each
charted attribute into the data folder as a versioned, locked document::

    D/baselines/<product>/v<N>.json     the document (schema cytorelease.trend-baseline/1)
    D/baselines/<product>/LOCK          one line per version: <product>@<N> <sha256>

The SHA-256 is the document's content hash (its canonical JSON), as for result records. Per
attribute the document holds the centre, limits, MR-bar, MR UCL and sigma, and the baseline
lots with the date, value and record SHA-256 each was charted from. A freeze never replaces a
version: freezing again writes version N + 1, which names the version it supersedes, and the
newest version is the one in force. Each freeze is one ``trend-freeze`` audit row (who, when,
the version and its SHA-256), written in the transaction that places the file.

:func:`current_baseline` reads the version in force and refuses, never ignores, a baseline it
cannot vouch for: a document whose content hash is not its LOCK line's, a version file the LOCK
does not list, a LOCK line without its file, or a version the audit trail records no freeze of
with that hash (a document and LOCK rewritten together still contradict the trail).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease._lock import LOCK_NAME, read_lock
from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json, content_sha256
from cytorelease.trend.report import TrendReport
from cytorelease.trend.series import ORDERING

__all__ = [
    "BASELINE_SCHEMA",
    "FrozenBaseline",
    "baseline_folder",
    "current_baseline",
    "freeze_from_data",
]

BASELINE_SCHEMA = "cytorelease.trend-baseline/1"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.json")


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
    def version(self) -> int:
        return int(self.document["version"])

    @property
    def ref(self) -> str:
        return f"{self.product}@{self.version}"

    def attributes(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self.document["attributes"]]

    def identity(self) -> dict[str, Any]:
        """What a release record names: id, version, SHA-256, who froze it and when."""
        d = self.document
        return {"id": d["id"], "product": d["product"], "version": d["version"],
                "sha256": self.sha256, "frozen_at": d["frozen_at"], "frozen_by": d["frozen_by"],
                "baseline_n": d["baseline_n"]}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "path": str(self.path),
                "attributes": [a["attribute"] for a in self.document["attributes"]]}  # fmt: skip


def baseline_folder(data_dir: str | Path, product: str) -> Path:
    """``D/baselines/<product>``; a product name that is no plain file name is refused."""
    if not _NAME.fullmatch(product):
        raise InputError(
            f"product {product!r} cannot name a baseline (letters, digits, '.', '_', '-')",
            path=Path(data_dir),
        )
    return Path(data_dir) / "baselines" / product


def _versions(folder: Path, product: str) -> dict[int, str]:
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


def _read(folder: Path, product: str, version: int, locked: str) -> FrozenBaseline:
    from cytorelease._yaml import read_document_text

    path = folder / f"v{version}.json"
    # the bounded reader every document takes: no device or pipe, no huge file, UTF-8
    text = read_document_text(path, error=InputError, what="frozen trend baseline")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not a JSON baseline document ({exc})", path=path) from None
    sha = content_sha256(document)
    if sha != locked:
        raise InputError(
            f"the baseline's content hash {sha[:16]}... is not the {locked[:16]}... its LOCK "
            "records: the frozen baseline was changed, so it is refused",
            path=path,
            hint="restore the frozen version from a backup (a freeze refuses it too)",
        )
    shape = isinstance(document, dict) and document.get("schema") == BASELINE_SCHEMA
    if not shape or document.get("product") != product or document.get("version") != version:
        raise InputError(
            f"not version {version} of {product!r}'s baseline ({BASELINE_SCHEMA})", path=path
        )
    return FrozenBaseline(path, document, sha)


def _check_trail(store: Any, baseline: FrozenBaseline) -> None:
    from cytorelease.records import audit

    rows = audit.entries_of(store, audit.Action.TREND_FREEZE, object=baseline.ref)
    if not any(row.details.get("sha256") == baseline.sha256 for row in rows):
        raise InputError(
            f"the audit trail records no freeze of {baseline.ref} with SHA-256 "
            f"{baseline.sha256[:16]}...: the baseline and its LOCK were not written by a freeze",
            path=baseline.path,
        )


def current_baseline(data_dir: str | Path, product: str, store: Any) -> FrozenBaseline | None:
    """The version in force of ``product``'s baseline, checked against its LOCK and the trail
    of ``store`` (the data folder's); None when the folder holds none."""
    folder = baseline_folder(data_dir, product)
    if not folder.exists():
        return None
    versions = _versions(folder, product)
    if not versions:
        return None
    newest = max(versions)
    baseline = _read(folder, product, newest, versions[newest])
    _check_trail(store, baseline)
    return baseline


def _record_hashes(store: Any, product: str, attributes: tuple[str, ...], rows_sha: str,
                   source: Path) -> dict[tuple[str, str], str]:  # fmt: skip
    """(lot, attribute) -> record SHA-256 of the rows charted, held to the report's rows hash
    (the rows are read again: a release stored in between would name other records)."""
    import hashlib

    from cytorelease.records.lot_results import lot_table_tuples

    rows = lot_table_tuples(
        store, ("lot", "attribute", "record_sha256"), product=product, attributes=attributes
    )
    digest = hashlib.sha256()
    for _, attribute, sha in rows:
        digest.update(f"{sha} {attribute}\n".encode())
    if digest.hexdigest() != rows_sha:
        raise InputError(
            "the lots dataset changed while the baseline was frozen", path=source,
            hint="freeze again",
        )  # fmt: skip
    return {(str(lot), str(attribute)): str(sha) for lot, attribute, sha in rows}


def _document(
    report: TrendReport, hashes: Mapping[tuple[str, str], str], *, product: str, version: int,
    actor: str, now: datetime, supersedes: dict[str, Any] | None, store_location: str,
) -> dict[str, Any]:  # fmt: skip
    from cytorelease import __version__

    attributes = []
    for chart in report.charts:
        s, b = chart.series, chart.baseline
        lots = [
            {"lot": lot, "date": day.isoformat(), "value": value,
             "record_sha256": hashes[(lot, s.attribute)]}
            for lot, day, value in zip(s.lots[: b.n], s.dates, s.values, strict=False)
        ]  # fmt: skip
        attributes.append(
            {"attribute": s.attribute, "n": b.n, "center": b.center, "ucl": b.ucl,
             "lcl": b.lcl, "mr_bar": b.mr_bar, "mr_ucl": b.mr_ucl, "sigma": b.sigma,
             "lsl": s.lsl, "usl": s.usl, "lots": lots}
        )  # fmt: skip
    return {
        "schema": BASELINE_SCHEMA,
        "id": product,
        "product": product,
        "version": version,
        "frozen_at": now.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "frozen_by": actor,
        "software_version": __version__,
        "source": {"store": store_location, "rows_sha256": report.source_sha256},
        "ordering": ORDERING,
        "baseline_n": report.baseline_n,
        "supersedes": supersedes,
        "attributes": attributes,
    }


def freeze_from_data(
    data_dir: str | Path,
    report: TrendReport,
    *,
    product: str,
    actor: str,
    now: datetime | None = None,
) -> FrozenBaseline:
    """Freeze the baselines of ``report`` (drawn from ``data_dir``'s lots dataset for
    ``product``, pooled) as the next version of the product's baseline."""
    from cytorelease.records import audit
    from cytorelease.records.store import open_data

    if report.by_site:
        raise InputError(
            "a frozen baseline is one pooled chart per attribute; --by-site charts are not "
            "frozen", path=report.source, hint="freeze without --by-site",
        )  # fmt: skip
    folder = baseline_folder(data_dir, product)
    _, store = open_data(data_dir, existing=True)
    with store:
        hashes = _record_hashes(
            store, product, tuple(c.series.attribute for c in report.charts),
            report.source_sha256, report.source,
        )  # fmt: skip
        with store.write():
            versions = _versions(folder, product)
            supersedes = None
            if versions:
                newest = max(versions)
                previous = _read(folder, product, newest, versions[newest])
                supersedes = {"version": newest, "sha256": previous.sha256}
            version = max(versions, default=0) + 1
            document = _document(
                report, hashes, product=product, version=version, actor=actor,
                now=now or datetime.now(UTC), supersedes=supersedes,
                store_location=str(store.location),
            )  # fmt: skip
            sha = content_sha256(document)
            path = folder / f"v{version}.json"
            audit.append(
                store, actor=actor, action=audit.Action.TREND_FREEZE, object=f"{product}@{version}",
                details={"sha256": sha, "path": str(path.absolute()), "baseline_n":
                         report.baseline_n, "attributes": [a["attribute"] for a in
                         document["attributes"]], "rows_sha256": report.source_sha256,
                         "supersedes": supersedes},
            )  # fmt: skip
            _place(folder, path, document, f"{product}@{version} {sha}\n")
    return FrozenBaseline(path, document, sha)


def _place(folder: Path, path: Path, document: dict[str, Any], lock_line: str) -> None:
    """Write the version file (never over an existing one), then its LOCK line; a failure
    here rolls the audit row back with the caller's transaction."""
    canonical_json(document)  # refuses NaN / inf before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise InputError(
            "exists already: a frozen baseline is never overwritten", path=path
        ) from None
    try:
        with (folder / LOCK_NAME).open("a", encoding="utf-8") as lock:
            lock.write(lock_line)
    except OSError:
        path.unlink(missing_ok=True)
        raise
