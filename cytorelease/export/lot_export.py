"""``cytorelease audit export``: accurate and complete copies of a lot's records (21 CFR 11.10(b)).

The bundle holds, for one lot released by the unattended side: the raw files (copied from the
read-only archive, each re-hashed against its recorded SHA-256), the lot manifest, every release's
``result.json`` and CoA byte for byte, the spec, gating template and assay documents the results
name (only when the library still holds the recorded content), the frozen trend baselines
and pinned matrix files they name (``frozen_inputs.py``), the audit rows concerning the lot
(JSON and CSV, with their hashes) and the chain check of the whole trail at export time. It is
described by ``MANIFEST.json`` (schema ``cytorelease.export/1``), checkable with ``sha256sum -c
SHA256SUMS`` and readable by a person in ``index.html``.

The bundle is built in a temporary sibling folder and renamed into place in the same transaction
that appends the export's own audit row, so a failed export leaves nothing behind and an export
that exists is always recorded. Nothing in the data folder is changed apart from that row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cytorelease.errors import InputError, TemplateError
from cytorelease.export.bundle import BundleFile, BundleWriter, FileRole, write_sums
from cytorelease.export.definitions import copy_definitions
from cytorelease.export.frozen_inputs import copy_baselines, copy_matrix_files
from cytorelease.lot_id import lot_id_problem
from cytorelease.provenance import canonical_json, content_sha256, software
from cytorelease.records.archive import archived_path
from cytorelease.records.audit import (
    Action,
    AuditEntry,
    ChainCheck,
    append,
    entry_from_row,
    os_user,
    verify_chain,
)
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.report.area import read_entries, split_report
from cytorelease.report.render import page_environment

__all__ = ["EXPORT_SCHEMA", "ExportReport", "FileRole", "export_lot", "export_lot_from_store"]

EXPORT_SCHEMA = "cytorelease.export/1"
INDEX_TEMPLATE = "export-index.html.j2"
_AUDIT_SELECTION = (
    "rows whose lot is the exported lot, and rows whose object is one of its raw files' "
    "sha256 or one of its work-queue keys"
)
_AUDIT_COLUMNS = (
    "sequence",
    "utc_time",
    "actor",
    "action",
    "object",
    "lot",
    "details",
    "previous_hash",
    "hash",
)


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What ``export_lot`` wrote, and the audit row that records it."""

    lot: str
    out: Path
    manifest_sha256: str
    files: list[BundleFile]
    releases: list[dict[str, Any]]
    definitions: list[dict[str, Any]]
    audit_rows: int
    chain: ChainCheck
    audit_sequence: int

    @property
    def unavailable_definitions(self) -> list[dict[str, Any]]:
        return [d for d in self.definitions if not d["available"]]

    def count(self, role: FileRole) -> int:
        return sum(f.role is role for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "out": str(self.out),
            "manifest_sha256": self.manifest_sha256,
            "files": len(self.files) + 2,  # with MANIFEST.json and SHA256SUMS
            "raw_files": self.count(FileRole.RAW) + self.count(FileRole.RAW_SUPERSEDED),
            "releases": [
                {k: r[k] for k in ("id", "disposition", "record_sha256", "folder")}
                for r in self.releases
            ],
            "definitions": [
                {k: d.get(k) for k in ("kind", "id", "version", "available", "path", "reason")}
                for d in self.definitions
            ],
            "audit_rows": self.audit_rows,
            "chain": self.chain.to_dict(),
            "audit_sequence": self.audit_sequence,
        }


def export_lot(data_dir: str | Path | None, lot: str, out: str | Path) -> ExportReport:
    """Export ``lot`` from the data folder's store into the new or empty folder ``out``."""
    from cytorelease.records.store import open_data

    out = Path(out).absolute()
    _check_out(out)  # before the store: a wrong --out costs nothing and creates nothing
    data, store = open_data(data_dir, existing=True)
    with store:
        return export_lot_from_store(data, store, lot, out)


def export_lot_from_store(data: DataDir, store: Store, lot: str, out: Path) -> ExportReport:
    """:func:`export_lot` on an open store (the tests use it on either backend)."""
    out = Path(out).absolute()
    _check_out(out)
    _check_outside(out, data.root)
    if (problem := lot_id_problem(lot)) is not None:
        # the value is not quoted: it may hold a line break
        raise InputError(f"not a lot id: {problem}", path="LOT")
    assigned = store.rows(
        "SELECT f.input_path, f.sha256, f.assigned_at, r.size, r.kind, r.instrument,"
        " r.original_name, r.ingested_at FROM lot_files f JOIN raw_files r ON r.sha256 = f.sha256"
        " WHERE f.lot = ? ORDER BY f.assigned_at, f.input_path",
        (lot,),
    )
    releases = store.rows("SELECT * FROM releases WHERE lot = ? ORDER BY id", (lot,))
    if not assigned and not releases:
        raise InputError(
            f"no lot {lot!r} in the record store (no raw files assigned to it, no releases)",
            path=data.root,
            hint="`cytorelease audit log` lists the lots the trail knows",
        )
    created_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    tmp = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        bundle = BundleWriter(tmp)
        summary: dict[str, Any] = {
            "schema": EXPORT_SCHEMA,
            "lot": lot,
            "created_at": created_at,
            "exported_by": os_user(),
            "software": software(),
            "source": {"data_dir": str(data.root), "store": str(store.dialect)},
            "lot_manifest": _copy_manifest(data, bundle, lot),
            "raw_files": _copy_raw(data, bundle, assigned),
        }
        summary["releases"], results = _copy_releases(data, store, bundle, lot, releases)
        summary["definitions"] = copy_definitions(bundle, results)
        # what else the results name, so the bundle checks out offline (export/frozen_inputs.py)
        summary["trend_baselines"] = copy_baselines(bundle, data.root, results)
        summary["matrix_files"] = copy_matrix_files(bundle, results, summary["definitions"])
        rows = _audit_rows(store, lot, {str(r["sha256"]) for r in assigned})
        chain = verify_chain(store)
        summary["audit"] = _write_audit(bundle, lot, rows, chain)
        _write_index(bundle, summary, rows)
        manifest = {**summary, "files": [f.to_dict() for f in bundle.files]}
        manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        bundle.write("MANIFEST.json", manifest_bytes, FileRole.MANIFEST)
        write_sums(tmp, bundle.files)
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        with store.write():
            entry = append(
                store,
                actor=os_user(),
                action=Action.EXPORT,
                object=str(out),
                lot=lot,
                details={
                    "manifest_sha256": manifest_sha,
                    "files": len(bundle.files) + 1,
                    "releases": [r["id"] for r in summary["releases"]],
                    "audit_rows": len(rows),
                    "chain_ok": chain.ok,
                },
            )
            os.rename(tmp, out)  # a failed rename rolls the audit row back
    except OSError as exc:
        raise InputError(
            f"cannot write the export bundle: {(exc.strerror or str(exc)).lower()}",
            path=exc.filename or out,
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportReport(
        lot=lot,
        out=out,
        manifest_sha256=manifest_sha,
        files=bundle.files[:-1],
        releases=summary["releases"],
        definitions=summary["definitions"],
        audit_rows=len(rows),
        chain=chain,
        audit_sequence=entry.sequence,
    )


def _check_out(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(
            "is a file, not a folder (--out is a new or empty folder for the export bundle)",
            path=out,
            hint="choose another --out",
        )
    if out.is_dir() and any(out.iterdir()):
        raise InputError(
            "is not empty; an export goes into a new or empty folder and never mixes with "
            "other files",
            path=out,
            hint="choose another --out",
        )


def _check_outside(out: Path, root: Path) -> None:
    if out.resolve().is_relative_to(root.resolve()):
        raise InputError(
            "is inside the data folder; an export never writes there",
            path=out,
            hint="choose an --out outside the data folder",
        )


def _confined(input_path: str, data: DataDir) -> str:
    """A manifest input path as a bundle path; anything that could leave ``raw/`` is refused."""
    pure = PurePosixPath(input_path)
    if not input_path or pure.is_absolute() or any(p in ("", ".", "..") for p in pure.parts):
        raise InputError(
            f"the store records input path {input_path!r}, which is not a relative path inside "
            "a lot folder",
            path=data.root,
        )
    return pure.as_posix()


def _copy_raw(
    data: DataDir, bundle: BundleWriter, assigned: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every raw file assigned to the lot; the latest file for an input under ``raw/<input>``."""
    latest = {str(r["input_path"]): str(r["sha256"]) for r in assigned}  # ordered by time
    listed: list[dict[str, Any]] = []
    for row in assigned:
        input_path, sha = _confined(str(row["input_path"]), data), str(row["sha256"])
        current = latest[str(row["input_path"])] == sha
        relative = f"raw/{input_path}" if current else f"superseded/{sha}/{input_path}"
        source = archived_path(data.archive_dir, sha)
        if not source.is_file():
            raise InputError(
                f"the archived copy of {input_path} (sha256 {sha}) is missing",
                path=source,
                hint="restore the archive from its backup; nothing was exported",
            )
        copied = bundle.copy(source, relative, FileRole.RAW if current else FileRole.RAW_SUPERSEDED)
        if copied.sha256 != sha or copied.bytes != int(row["size"]):
            raise InputError(
                f"the archived copy of {input_path} was altered: recorded sha256 {sha} "
                f"({int(row['size']):,} bytes), the archive now holds sha256 {copied.sha256} "
                f"({copied.bytes:,} bytes)",
                path=source,
                hint="restore the archive from its backup; nothing was exported",
            )
        listed.append(
            {
                "path": relative,
                "input_path": input_path,
                "sha256": sha,
                "bytes": copied.bytes,
                "current": current,
                **{
                    k: row[k]
                    for k in ("kind", "instrument", "original_name", "ingested_at", "assigned_at")
                },
            }
        )
    return listed


def _copy_manifest(data: DataDir, bundle: BundleWriter, lot: str) -> dict[str, Any]:
    source = data.lots_dir / lot / "lot.yaml"
    if not source.is_file():
        return {"available": False, "reason": f"no manifest at {source}"}
    copied = bundle.copy(source, "lot.yaml", FileRole.LOT_MANIFEST)
    return {"available": True, "path": copied.path, "source": str(source)}


def _stored_file(data: DataDir, lot: str, inputs_sha: str, recorded: str) -> Path:
    """A release file in this data folder (which may have moved), else where it was recorded."""
    here = data.releases_dir / lot / inputs_sha[:16] / Path(recorded).name
    return here if here.is_file() else Path(recorded)


def _copy_releases(
    data: DataDir, store: Store, bundle: BundleWriter, lot: str, releases: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    listed: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for row in releases:
        inputs_sha, number = str(row["inputs_sha256"]), int(row["id"])
        result = _stored_file(data, lot, inputs_sha, str(row["result_path"]))
        report = _stored_file(data, lot, inputs_sha, str(row["report_path"]))
        for path in (result, report):
            if not path.is_file():
                raise InputError(
                    f"release {number} of lot {lot} is recorded but its file is missing",
                    path=path,
                    hint="restore the releases folder from its backup; nothing was exported",
                )
        folder = f"releases/{number}"
        result_copy = bundle.copy(result, f"{folder}/result.json", FileRole.RESULT)
        report_copy = bundle.copy(report, f"{folder}/{report.name}", FileRole.COA)
        record = _read_record(result, str(row["record_sha256"]))
        results.append(record)
        signatures = store.rows(
            "SELECT user_id, signer, meaning, utc_time, key_fingerprint FROM signatures"
            " WHERE release_id = ? ORDER BY utc_time, user_id",
            (number,),
        )
        listed.append(
            {
                "id": number,
                "folder": folder,
                "created_at": row["created_at"],
                "disposition": row["disposition"],
                "record_sha256": row["record_sha256"],
                "inputs_sha256": inputs_sha,
                "spec": record.get("evaluation", {}).get("spec"),
                "result": result_copy.path,
                "coa": report_copy.path,
                "coa_sha256": report_copy.sha256,
                "stored_result_path": str(result),
                "stored_report_path": str(report),
                "signatures": signatures,
                "coa_signatures": _coa_signatures(report),
            }
        )
    return listed, results


def _read_record(path: Path, recorded_sha: str) -> dict[str, Any]:
    """The result record, checked against the record SHA-256 the store holds for it."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        found = content_sha256(record)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"the stored result record is not readable JSON ({exc})", path=path
        ) from None
    if found != recorded_sha:
        raise InputError(
            f"the stored result record was altered: recorded record sha256 {recorded_sha}, "
            f"the file's record is sha256 {found}",
            path=path,
            hint="restore the releases folder from its backup; nothing was exported",
        )
    return dict(record)


def _coa_signatures(report: Path) -> list[dict[str, Any]] | None:
    """The signatures the CoA holds now (a person may have signed after the service)."""
    try:
        blocks = read_entries(split_report(report.read_bytes()).area)
    except ValueError:
        return None
    keep = ("signer", "user_id", "role", "meaning", "utc_time", "key_fingerprint", "comment")
    return [{k: b.get(k) for k in keep} for b in blocks if isinstance(b, dict)]


def _audit_rows(store: Store, lot: str, shas: set[str]) -> list[AuditEntry]:
    keys = {f"file:{sha}" for sha in shas}
    keys |= {
        str(r["key"])
        for r in store.rows("SELECT key FROM queue WHERE key LIKE ?", (f"release:{lot}:%",))
        if str(r["key"]).startswith(f"release:{lot}:")
    }
    objects = sorted(shas | keys)
    marks = ", ".join("?" for _ in objects)
    where = f"lot = ? OR object IN ({marks})" if objects else "lot = ?"
    found = store.rows(f"SELECT * FROM audit_log WHERE {where} ORDER BY sequence", (lot, *objects))
    return [entry_from_row(r) for r in found]


def _write_audit(
    bundle: BundleWriter, lot: str, rows: list[AuditEntry], chain: ChainCheck
) -> dict[str, Any]:
    document = {"lot": lot, "selection": _AUDIT_SELECTION, "rows": [r.to_dict() for r in rows]}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    bundle.write("audit/audit.json", text.encode(), FileRole.AUDIT)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_AUDIT_COLUMNS)
    for row in rows:
        values = {**row.to_dict(), "details": canonical_json(row.details)}
        writer.writerow(["" if values[c] is None else values[c] for c in _AUDIT_COLUMNS])
    bundle.write("audit/audit.csv", buffer.getvalue().encode(), FileRole.AUDIT)
    return {
        "rows": len(rows),
        "first_sequence": rows[0].sequence if rows else None,
        "last_sequence": rows[-1].sequence if rows else None,
        "files": ["audit/audit.json", "audit/audit.csv"],
        "selection": _AUDIT_SELECTION,
        "chain": chain.to_dict(),
    }


def _write_index(bundle: BundleWriter, summary: dict[str, Any], rows: list[AuditEntry]) -> None:
    """``index.html``: the human-readable copy, rendered from the same facts as the manifest."""
    from jinja2 import TemplateError as JinjaTemplateError
    from jinja2 import TemplateNotFound

    from cytorelease._resources import ResourceKind, resource_dir

    folder = resource_dir(ResourceKind.REPORTS)
    env = page_environment(folder)
    audit_rows = [
        {**r.to_dict(), "details_text": json.dumps(r.details, ensure_ascii=False, sort_keys=True)}
        for r in rows
    ]
    try:
        html = env.get_template(INDEX_TEMPLATE).render(export=summary, audit_rows=audit_rows)
    except TemplateNotFound:
        raise TemplateError("no such export page template", path=folder / INDEX_TEMPLATE) from None
    except JinjaTemplateError as exc:
        raise TemplateError(
            f"the export page template failed: {exc}", path=folder / INDEX_TEMPLATE
        ) from None
    bundle.write("index.html", html.encode("utf-8"), FileRole.INDEX)
