"""``lots import``: release records made without a data folder, brought into its lots dataset.

Every file is read and checked before anything is written, and all are stored in one
transaction, each with a ``lots-import`` audit row: a file that is not a release record, or
whose record is not the one a recorded hash names, refuses the whole import (exit 2), so a
folder is never half imported and nothing is skipped without a word.

A record's hash is its content's SHA-256 (the canonical JSON, as the release computed it). It
is held against every hash recorded elsewhere: the CoA beside it (the record the CoA embeds,
and the record hash each signature in it binds) and the data folder's ``releases`` row whose
result file it is. A record that nothing records a hash of could be an edited copy: it is
refused unless ``unchecked`` says to take it as it stands (its rows say ``checked_against``
``none``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.lot.dataset import store_results
from cytorelease.provenance import content_sha256
from cytorelease.records.lot_results import record_problem, stored_records
from cytorelease.records.lots import release_results
from cytorelease.records.store import Store
from cytorelease.records.trail import Trail

__all__ = [
    "ImportReport",
    "LoadedRecord",
    "import_records",
    "load_record",
    "render_with_results",
    "result_files",
]

RESULT_NAME = "result.json"


@dataclass(frozen=True, slots=True)
class LoadedRecord:
    path: Path
    record: dict[str, Any]
    sha256: str
    checked_against: tuple[str, ...]  # "coa", "releases": what recorded its hash
    release_id: int | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    data_dir: Path
    imported: tuple[dict[str, Any], ...]
    already: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "imported": list(self.imported),
            "already_present": list(self.already),
            "rows_added": sum(int(i["rows"]) for i in self.imported),
        }


def result_files(paths: Iterable[Path]) -> list[Path]:
    """Each file as given; each folder's ``result.json`` files, found at any depth, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob(RESULT_NAME) if p.is_file())
            if not inside:
                raise InputError(
                    f"no {RESULT_NAME} in this folder or below it",
                    path=path,
                    hint="name the result.json files, or the folders releases wrote them to",
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError("no such file or folder", path=path)
    return found


def _coa_hashes(folder: Path, lot: str) -> list[tuple[str, str]]:
    """(what, record SHA-256) for the CoA a release wrote beside its result.json."""
    from cytorelease.report.area import read_entries, split_report
    from cytorelease.report.record import extract_record

    coa = folder / f"coa-{lot}.html"
    if not coa.is_file():
        return []
    data = coa.read_bytes()
    found = [
        (f"the record embedded in {coa.name}", content_sha256(extract_record(data, path=str(coa))))
    ]
    try:
        entries = read_entries(split_report(data).area)
    except ValueError as exc:
        raise InputError(f"its signature area is not readable ({exc})", path=coa) from None
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, dict) and isinstance(entry.get("record_sha256"), str):
            found.append((f"signature {number} of {coa.name}", entry["record_sha256"]))
    return found


def _release_rows(store: Store, path: Path) -> list[dict[str, Any]]:
    """The releases rows whose result file ``path`` is (the worker's own releases)."""
    return [
        row
        for row in release_results(store)
        if Path(str(row["result_path"])).resolve() == path.resolve()
    ]


def load_record(path: Path, store: Store, *, unchecked: bool = False) -> LoadedRecord:
    """Read and check one result file; :class:`InputError` naming it when it is not a release
    record or not the record a recorded hash names."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(
            "not UTF-8 text (expected a result.json release record)", path=path
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", path=path
        ) from None
    except ValueError as exc:  # a number JSON allows but Python will not read (huge ints)
        raise InputError(f"not readable JSON ({exc})", path=path) from None
    problem = record_problem(record)
    if problem is not None:
        raise InputError(problem, path=path)
    try:
        sha = content_sha256(record)
    except ValueError as exc:  # NaN or infinity: no canonical record holds one
        raise InputError(f"not a canonical release record ({exc})", path=path) from None
    recorded = _coa_hashes(path.parent, str(record["lot"]["id"]))
    rows = _release_rows(store, path)
    recorded += [(f"release {r['id']} of the data folder", str(r["record_sha256"])) for r in rows]
    for what, expected in recorded:
        if expected != sha:
            raise InputError(
                f"the record is not the one {what} names (recorded record sha256 {expected}, "
                f"this file's record is sha256 {sha}): edited or replaced",
                path=path,
                hint="import the release as it was made; nothing was imported",
            )
    checked = tuple(dict.fromkeys(("releases" if "release" in w else "coa") for w, _ in recorded))
    if not checked and not unchecked:
        raise InputError(
            "nothing records this record's hash (no CoA beside it, no release row names it), "
            "so an edited copy could not be told from the release",
            path=path,
            hint="import it from the folder the release wrote (with its CoA), or pass "
            "--unchecked to take it as it stands",
        )
    release_id = int(rows[0]["id"]) if rows else None
    return LoadedRecord(path, record, sha, checked, release_id)


def render_with_results(
    trail: Trail,
    object: str,
    *,
    lot: str,
    details: dict[str, Any],
    record: dict[str, Any],
    record_sha256: str,
) -> int:
    """A person's release with a data folder: its ``render`` audit row (which states the
    record's hash, as the worker's ``evaluate`` row does) and the record's rows in the lots
    dataset, in one transaction; the rows added."""
    from cytorelease.records import audit
    from cytorelease.records.store import open_data

    _, store = open_data(trail.data_dir)
    with store, store.write():
        audit.append(
            store, actor=trail.actor, action=audit.Action.RENDER, object=object, lot=lot,
            details=details,
        )  # fmt: skip
        return store_results(
            store, record, record_sha256=record_sha256, origin="release",
            checked_against="release",
        )  # fmt: skip


def _store_one(
    store: Store,
    record: dict[str, Any],
    sha: str,
    path: Path,
    *,
    origin: str,
    checked: str,
    site: str | None,
    release_id: int | None,
) -> int:
    from cytorelease.records import audit

    added = store_results(
        store, record, record_sha256=sha, origin=origin, checked_against=checked, site=site,
        release_id=release_id,
    )  # fmt: skip
    audit.append(
        store,
        actor=audit.os_user(),
        action=audit.Action.LOTS_IMPORT,
        object=str(path.absolute()),
        lot=str(record["lot"]["id"]),
        details={"record_sha256": sha, "rows": added, "checked_against": checked, "site": site},
    )
    return added


def import_records(
    data_dir: str | Path | None,
    paths: Iterable[Path],
    *,
    site: str | None = None,
    unchecked: bool = False,
) -> ImportReport:
    """Import the release records of ``paths`` (files or folders) into the data folder's lots
    dataset; a record it already holds is reported, not stored again."""
    from cytorelease.records.store import open_data

    if site is not None and not site.strip():
        raise InputError("--site is empty", path="--site")
    data, store = open_data(data_dir)
    with store:
        files = result_files(paths)
        loaded = [load_record(path, store, unchecked=unchecked) for path in files]
        if site is not None:
            for item in loaded:
                own = item.record["lot"].get("site")
                if isinstance(own, str) and own != site:
                    raise InputError(
                        f"the record names site {own!r}, not --site {site!r}", path=item.path
                    )
        imported, already = [], []
        with store.write():
            held = stored_records(store, (i.sha256 for i in loaded))
            for item in loaded:
                summary = {
                    "file": str(item.path),
                    "lot": item.record["lot"]["id"],
                    "record_sha256": item.sha256,
                }
                if item.sha256 in held:
                    already.append(summary)
                    continue
                checked = "+".join(item.checked_against) or "none"
                added = _store_one(
                    store, item.record, item.sha256, item.path, origin="import",
                    checked=checked, site=site, release_id=item.release_id,
                )  # fmt: skip
                held.add(item.sha256)
                imported.append({**summary, "rows": added, "checked_against": checked})
    return ImportReport(data.root, tuple(imported), tuple(already))
