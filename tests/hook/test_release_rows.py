"""Release and signature rows held against the audit trail (issue 13 item 7).

The ``releases`` and ``signatures`` tables are append-only, but someone with write access to the
database can drop the guard, edit or insert a row and put the guard back; the hash chain of the
audit trail does not cover those tables. Each such row is written in the transaction of the audit
row that states it, so ``audit verify`` holds every release and signature row against the trail
and names any the trail does not state.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.worker import run_worker
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.lots import check_release_rows
from cytorelease.records.store import Dialect, Store

from .conftest import hook_tubes, ready_service


def _tamper(store: Store, data: DataDir, table: str, *statements: str) -> None:
    """The insider: ``table``'s append-only guard dropped, the table edited, the guard back."""
    if store.dialect is Dialect.SQLITE:
        connection = sqlite3.connect(data.db_path, isolation_level=None)
        triggers = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
            (table,),
        ).fetchall()
        for name, _ in triggers:
            connection.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            connection.execute(statement)
        for _, sql in triggers:
            connection.execute(sql)
        connection.close()
    else:
        store.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change")
        for statement in statements:
            store.execute(statement)
        store.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_change")


@pytest.fixture
def released(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> int:
    ready_service(data, small_lots[11], monkeypatch)
    hook_tubes(data, store, small_lots[11], tmp_path)
    assert len(run_worker(data, store, once=True).releases) == 1
    return int(store.scalar("SELECT id FROM releases"))


def _verify(data: DataDir) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--json", "--data-dir", str(data.root)])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_a_workers_release_and_signature_agree_with_the_trail(
    data: DataDir, store: Store, released: int
) -> None:
    assert check_release_rows(store) == []
    code, document, _ = _verify(data)
    assert code == 0 and document["ok"] is True
    assert document["release_rows"] == {"releases": 1, "signatures": 1, "ok": True, "problems": []}
    signs = [e for e in audit.entries(store) if e.action == "sign"]
    assert signs[-1].details["release"] == released


def test_an_edited_disposition_is_named(data: DataDir, store: Store, released: int) -> None:
    before = store.scalar("SELECT disposition FROM releases WHERE id = ?", (released,))
    assert before == "INCOMPLETE"
    _tamper(
        store, data, "releases", f"UPDATE releases SET disposition = 'PASS' WHERE id = {released}"
    )
    assert audit.verify_chain(store).ok  # the trail itself is untouched
    (problem,) = check_release_rows(store)
    assert problem == (
        f"release {released} (lot lot-CAR-0011): its disposition is 'PASS' in the releases "
        "table but 'INCOMPLETE' in the audit trail (edited?)"
    )
    code, document, stderr = _verify(data)
    assert code == 1 and document["ok"] is False
    assert stderr == f"error: releases: {problem}\n"
    last = audit.entries(store)[-1]
    assert last.action == "verification-failed" and last.object == "releases"


def test_an_inserted_approval_and_an_inserted_release_are_named(
    data: DataDir, store: Store, released: int
) -> None:
    _tamper(
        store,
        data,
        "signatures",
        "INSERT INTO signatures (release_id, user_id, signer, meaning, utc_time, key_fingerprint)"
        f" VALUES ({released}, 'qapprover', 'Quinn', 'approved', '2026-12-01T00:00:00Z', "
        f"'{'ab' * 32}')",
    )
    _tamper(
        store,
        data,
        "releases",
        "INSERT INTO releases (lot, inputs_sha256, record_sha256, disposition, result_path,"
        " report_path, created_at) VALUES ('lot-CAR-0011', 'x', 'y', 'PASS', 'r', 'c',"
        " '2026-12-01T00:00:00Z')",
    )
    problems = check_release_rows(store)
    assert len(problems) == 2
    assert problems[0].startswith(f"release {released + 1} (lot lot-CAR-0011) is in the releases")
    assert problems[1] == (
        f"signature of qapprover (approved) on release {released} is in the signatures table but "
        "no audit row states it (written or edited outside cytorelease?)"
    )
    code, document, _ = _verify(data)
    assert code == 1 and document["release_rows"]["problems"] == problems  # type: ignore[index]


def test_deleted_or_relabelled_release_rows_are_named(
    data: DataDir, store: Store, released: int
) -> None:
    """Found by attack: deleting both tables' rows, or moving a release to another lot, passed."""
    _tamper(
        store, data, "releases", f"UPDATE releases SET lot = 'lot-CAR-0012' WHERE id = {released}"
    )
    assert check_release_rows(store) == [
        f"release {released}: its lot is 'lot-CAR-0012' in the releases table but "
        "'lot-CAR-0011' in the audit trail (edited?)"
    ]
    _tamper(store, data, "signatures", "DELETE FROM signatures")
    _tamper(store, data, "releases", "DELETE FROM releases")
    problems = check_release_rows(store)
    assert problems[0] == (
        f"release {released} is stated in the audit trail but gone from the releases table "
        "(deleted?)"
    )
    assert problems[1].startswith("the signature of service (computer-generated-evaluation)")
    assert problems[1].endswith("gone from the signatures table (deleted?)")
    code, document, _ = _verify(data)
    assert code == 1 and document["release_rows"]["releases"] == 0  # type: ignore[index]


def test_a_coa_swapped_in_the_releases_folder_is_named(
    data: DataDir, store: Store, released: int
) -> None:
    """Found by attack: a forged CoA copied over a release's file passed audit verify and was
    exported as the release."""
    row = store.one("SELECT * FROM releases WHERE id = ?", (released,))
    assert row is not None
    coa = data.releases_dir / row["lot"] / row["inputs_sha256"][:16] / Path(row["report_path"]).name
    assert coa.is_file()
    code, document, _ = _verify(data)
    assert code == 0, document
    coa.chmod(0o644)
    coa.write_bytes(coa.read_bytes().replace(b"INCOMPLETE", b"PASS", 1))
    code, document, stderr = _verify(data)
    assert code == 1
    assert f"release {released}: its CoA {coa} is not the file the worker stored" in stderr
    coa.unlink()
    assert f"release {released}: its CoA {coa} is gone" in _verify(data)[2]
