"""The worker's tables: analysed files, files assigned to lot inputs, releases and signatures.

records/ owns its tables: the worker calls these functions, never SQL of its own. Each release
and each signature row is written in the same transaction as the audit row that states it
(``evaluate`` names the release id, record hash and disposition; ``sign`` the release id, user,
meaning and key), so :func:`check_release_rows` can hold the tables against the hash-chained
trail: a release or signature row that no audit row states (inserted, or edited, by someone with
write access to the database) is named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease.provenance import file_sha256
from cytorelease.records.audit import Action, entries_of, record_verification_failure
from cytorelease.records.store import Store

Row = dict[str, Any]
# The manifest a release was made under, beside its result.json in the release folder.
RELEASED_MANIFEST = "lot.yaml"

__all__ = [
    "RELEASED_MANIFEST",
    "ReleaseRow",
    "ReleaseRowsCheck",
    "SignatureRow",
    "assign_file",
    "check_data_release_rows",
    "check_release_rows",
    "lot_files",
    "record_analysis",
    "record_release",
    "record_signature",
    "release_results",
    "unassigned_analyses",
]


def release_results(store: Store) -> list[Row]:
    """Every release row's id, result file and record hash (what a result.json is held to)."""
    return store.rows("SELECT id, result_path, record_sha256 FROM releases ORDER BY id")


def record_analysis(
    store: Store,
    sha256: str,
    *,
    kind: str,
    lot: str | None,
    input_path: str | None,
    summary: Mapping[str, Any],
    analysed_at: str,
    worker: str,
) -> None:
    store.execute(
        "INSERT INTO analyses (sha256, kind, lot, input_path, summary, analysed_at, worker)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sha256, kind, lot, input_path, json.dumps(summary), analysed_at, worker),
    )


def unassigned_analyses(store: Store) -> list[Row]:
    """Analysed files no lot input holds yet (their raw_files rows), oldest analysis first."""
    return store.rows(
        "SELECT r.sha256, r.kind, r.meta, r.original_name FROM analyses a"
        " JOIN raw_files r ON r.sha256 = a.sha256"
        " WHERE NOT EXISTS (SELECT 1 FROM lot_files f WHERE f.sha256 = a.sha256)"
        " ORDER BY a.analysed_at"
    )


def assign_file(store: Store, lot: str, input_path: str, sha256: str, assigned_at: str) -> None:
    store.execute(
        "INSERT INTO lot_files (lot, input_path, sha256, assigned_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (lot, input_path, sha256) DO NOTHING",
        (lot, input_path, sha256, assigned_at),
    )


def lot_files(store: Store, lot: str) -> list[tuple[str, str]]:
    """(input path, sha256) of every file assigned to ``lot``, in the order they were assigned."""
    return [
        (str(row["input_path"]), str(row["sha256"]))
        for row in store.rows(
            "SELECT input_path, sha256 FROM lot_files WHERE lot = ? ORDER BY assigned_at", (lot,)
        )
    ]


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    lot: str
    inputs_sha256: str
    record_sha256: str
    disposition: str
    result_path: str
    report_path: str
    created_at: str


@dataclass(frozen=True, slots=True)
class SignatureRow:
    user_id: str
    signer: str
    meaning: str
    utc_time: str
    key_fingerprint: str


def record_release(store: Store, release: ReleaseRow) -> int:
    """Insert the release row; its id. Call inside the transaction that audits it."""
    store.execute(
        "INSERT INTO releases (lot, inputs_sha256, record_sha256, disposition, result_path,"
        " report_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            release.lot,
            release.inputs_sha256,
            release.record_sha256,
            release.disposition,
            release.result_path,
            release.report_path,
            release.created_at,
        ),
    )
    return int(
        store.scalar(
            "SELECT id FROM releases WHERE lot = ? AND inputs_sha256 = ?",
            (release.lot, release.inputs_sha256),
        )
    )


def record_signature(store: Store, release_id: int, signature: SignatureRow) -> None:
    store.execute(
        "INSERT INTO signatures (release_id, user_id, signer, meaning, utc_time, key_fingerprint)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            release_id,
            signature.user_id,
            signature.signer,
            signature.meaning,
            signature.utc_time,
            signature.key_fingerprint,
        ),
    )


def _stated(store: Store, *actions: Action) -> list[dict[str, Any]]:
    """The details of every audit row of ``actions``, in sequence order."""
    return [e.details for e in entries_of(store, *actions)]


@dataclass(frozen=True, slots=True)
class ReleaseRowsCheck:
    releases: int
    signatures: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "releases": self.releases,
            "signatures": self.signatures,
            "ok": self.ok,
            "problems": list(self.problems),
        }


def check_data_release_rows(data_dir: str | Path | None) -> ReleaseRowsCheck:
    """:func:`check_release_rows` on the data folder's store (``audit verify``); problems are
    audited as a verification-failed row."""
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir, existing=True)
    with store:
        problems = check_release_rows(store) + check_stored_coas(store, data.releases_dir)
        check = ReleaseRowsCheck(
            int(store.scalar("SELECT COUNT(*) FROM releases")),
            int(store.scalar("SELECT COUNT(*) FROM signatures")),
            tuple(problems),
        )
        if problems:
            record_verification_failure(store, "releases", {"problems": problems})
    return check


def _stored_coas(store: Store) -> dict[int, str]:
    """Release id -> the SHA-256 of its CoA as the worker stored it (its last sign row)."""
    found: dict[int, str] = {}
    for details in _stated(store, Action.SIGN, Action.SIGN_SKIPPED):
        release, sha = details.get("release"), details.get("report_sha256")
        if isinstance(release, int) and isinstance(sha, str):
            found[release] = sha
    return found


def check_stored_coas(store: Store, releases_dir: Path) -> list[str]:
    """Each release's CoA in ``releases_dir`` held against the hash its sign row recorded (a
    CoA swapped in the folder would otherwise be exported as the release)."""
    problems = []
    recorded = _stored_coas(store)
    for row in store.rows("SELECT * FROM releases ORDER BY id"):
        sha = recorded.get(int(row["id"]))
        if sha is None:
            continue  # released before sign rows recorded the file
        name = Path(str(row["report_path"])).name
        path = releases_dir / str(row["lot"]) / str(row["inputs_sha256"])[:16] / name
        try:
            actual = file_sha256(path)
        except OSError:
            problems.append(f"release {row['id']}: its CoA {path} is gone")
            continue
        if actual != sha:
            problems.append(
                f"release {row['id']}: its CoA {path} is not the file the worker stored "
                "(replaced or edited)"
            )
    return problems


def check_release_rows(store: Store) -> list[str]:
    """Every release and signature row held against the audit rows that state it; the problems.

    A release row must have an ``evaluate`` row with its id, record hash and disposition; a
    signature row a ``sign`` row with its release id, user id, meaning and key fingerprint. Rows
    written before sign rows named their release are matched on the other fields.
    """
    problems: list[str] = []
    evaluations = [
        e for e in entries_of(store, Action.EVALUATE) if isinstance(e.details.get("release"), int)
    ]
    evaluated = {e.details["release"]: e.details for e in evaluations}
    lots = {e.details["release"]: e.lot for e in evaluations if e.lot}
    releases = store.rows("SELECT * FROM releases ORDER BY id")
    present = {int(row["id"]) for row in releases}
    for release in sorted(set(evaluated) - present):
        problems.append(
            f"release {release} is stated in the audit trail but gone from the releases table "
            "(deleted?)"
        )
    for row in releases:
        stated_lot = lots.get(int(row["id"]))
        if stated_lot is not None and stated_lot != row["lot"]:
            problems.append(
                f"release {row['id']}: its lot is {row['lot']!r} in the releases table but "
                f"{stated_lot!r} in the audit trail (edited?)"
            )
    for row in releases:
        stated = evaluated.get(int(row["id"]))
        if stated is None:
            problems.append(
                f"release {row['id']} (lot {row['lot']}) is in the releases table but no audit "
                "row states it (written outside cytorelease?)"
            )
            continue
        for field in ("record_sha256", "disposition"):
            if str(stated.get(field)) != str(row[field]):
                problems.append(
                    f"release {row['id']} (lot {row['lot']}): its {field} is {row[field]!r} in "
                    f"the releases table but {stated.get(field)!r} in the audit trail (edited?)"
                )
    # (release id or None for rows written before sign rows named it, user, meaning, key)
    signed = {
        (d.get("release"), d.get("user_id"), d.get("meaning"), d.get("key_fingerprint"))
        for d in _stated(store, Action.SIGN)
    }
    rows = store.rows("SELECT * FROM signatures ORDER BY release_id, user_id")
    held = {(int(r["release_id"]), r["user_id"], r["meaning"], r["key_fingerprint"]) for r in rows}
    for sign in sorted((s for s in signed if isinstance(s[0], int)), key=str):
        if sign not in held:
            release, user, meaning, _ = sign
            problems.append(
                f"the signature of {user} ({meaning}) on release {release} is stated in the "
                "audit trail but gone from the signatures table (deleted?)"
            )
    for row in rows:
        fields = (row["user_id"], row["meaning"], row["key_fingerprint"])
        if (int(row["release_id"]), *fields) not in signed and (None, *fields) not in signed:
            problems.append(
                f"signature of {row['user_id']} ({row['meaning']}) on release {row['release_id']}"
                " is in the signatures table but no audit row states it (written or edited "
                "outside cytorelease?)"
            )
    return problems
