"""The audit trail: hash chain, immutability enforced by the database, tamper detection."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Dialect, Store


def _append_three(store: Store) -> list[audit.AuditEntry]:
    with store.write():
        return [
            audit.append(
                store,
                actor="qc-analyst-01",
                action=audit.Action.INGEST,
                object=f"file-{i}",
                lot="lot-A" if i != 1 else "lot-B",
                details={"n": i},
            )
            for i in range(3)
        ]


def test_rows_chain_by_hash_over_canonical_fields(store: Store) -> None:
    moment = datetime(2026, 11, 21, 5, 40, tzinfo=UTC)
    with store.write():
        first = audit.append(
            store, actor="ana", action=audit.Action.SPEC_LOAD, object="cd19-car-t@2", now=moment
        )
        second = audit.append(
            store, actor="ana", action=audit.Action.EVALUATE, object="lot-A", details={"b": 1}
        )
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.previous_hash == audit.GENESIS_HASH
    assert second.previous_hash == first.hash
    assert first.utc_time == "2026-11-21T05:40:00.000000+00:00"
    expected = hashlib.sha256(
        canonical_json(
            {
                "sequence": 1,
                "utc_time": "2026-11-21T05:40:00.000000+00:00",
                "actor": "ana",
                "action": "spec-load",
                "object": "cd19-car-t@2",
                "lot": None,
                "details": {},
                "previous_hash": "0" * 64,
            }
        ).encode()
    ).hexdigest()
    assert first.hash == expected
    check = audit.verify_chain(store)
    assert check.ok and check.rows == 2 and check.last_hash == second.hash


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'mallory' WHERE sequence = 2", "DELETE FROM audit_log"],
)
def test_database_refuses_update_and_delete(store: Store, statement: str) -> None:
    _append_three(store)
    with pytest.raises(store.database_error, match="append-only"):
        store.execute(statement)
    assert [e.actor for e in audit.entries(store)] == ["qc-analyst-01"] * 3


def test_raw_file_records_are_immutable_too(store: Store) -> None:
    with store.write():
        store.execute(
            "INSERT INTO raw_files VALUES ('ab', 1, 'fcs', 'valid', NULL, 'F', 'a', '/a', '{}', 't')"
        )
    with pytest.raises(store.database_error, match="raw_files is append-only"):
        store.execute("UPDATE raw_files SET status = 'quarantined'")


def _tamper(store: Store, data: DataDir, sql: str) -> None:
    """What an attacker with access to the database could do: disable the guard, then edit."""
    if store.dialect is Dialect.SQLITE:
        connection = sqlite3.connect(data.db_path, isolation_level=None)
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute(sql)
        connection.close()
    else:
        store.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        store.execute(sql)


def test_verify_names_the_edited_row(data: DataDir, store: Store) -> None:
    _append_three(store)
    _tamper(store, data, "UPDATE audit_log SET details = '{\"n\":7}' WHERE sequence = 2")
    check = audit.verify_chain(store)
    assert check.broken_at == 2 and check.rows == 1
    assert "content does not match its hash" in (check.problem or "")


def test_verify_names_a_removed_row(data: DataDir, store: Store) -> None:
    _append_three(store)
    _tamper(store, data, "DELETE FROM audit_log WHERE sequence = 2")
    check = audit.verify_chain(store)
    assert check.broken_at == 3
    assert "expected sequence 2" in (check.problem or "")


def test_verify_detects_a_rehashed_row_by_its_successor(data: DataDir, store: Store) -> None:
    rows = _append_three(store)
    forged = {**rows[1].hashed_fields(), "actor": "mallory"}
    _tamper(
        store,
        data,
        f"UPDATE audit_log SET actor = 'mallory', hash = '{audit.row_hash(forged)}'"
        " WHERE sequence = 2",
    )
    check = audit.verify_chain(store)
    assert check.broken_at == 3
    assert "previous hash does not match row 2" in (check.problem or "")


def test_cli_verify_exits_1_naming_the_row_and_audits_the_failure(
    data: DataDir, store: Store
) -> None:
    _append_three(store)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", str(data.root)])
    assert ok.exit_code == 0, ok.output
    assert "audit trail intact: 3 rows" in ok.output
    _tamper(store, data, "UPDATE audit_log SET object = 'file-9' WHERE sequence = 3")
    broken = runner.invoke(app, ["audit", "verify", "--data-dir", str(data.root)])
    assert broken.exit_code == 1
    assert f"error: {store.location}: audit trail broken at row 3:" in broken.output
    last = audit.entries(store)[-1]
    assert last.action == "verification-failed" and last.details["broken_at"] == 3


def test_correction_is_a_new_row_referencing_the_old(store: Store) -> None:
    rows = _append_three(store)
    fixed = audit.correct(
        store, sequence=2, reason="wrong lot assigned", actor="qa-01", details={"lot": "lot-A"}
    )
    assert fixed.sequence == 4 and fixed.action == "correction"
    assert fixed.details == {"corrects": 2, "reason": "wrong lot assigned", "lot": "lot-A"}
    assert audit.entries(store)[1] == rows[1]  # the corrected row is untouched
    assert audit.verify_chain(store).ok
    with pytest.raises(InputError, match="no audit row 99 to correct"):
        audit.correct(store, sequence=99, reason="x", actor="qa-01")
    with pytest.raises(InputError, match="a correction needs a reason"):
        audit.correct(store, sequence=1, reason="  ", actor="qa-01")


def test_cli_log_filters_by_lot_and_prints_json(data: DataDir, store: Store) -> None:
    _append_three(store)
    result = CliRunner().invoke(
        app, ["audit", "log", "--lot", "lot-A", "--json", "--data-dir", str(data.root)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert [r["sequence"] for r in rows] == [1, 3]
    assert rows[1]["previous_hash"] != rows[0]["hash"]  # row 2 (lot-B) sits between them
    assert {r["object"] for r in rows} == {"file-0", "file-2"}


def test_cli_log_table(data: DataDir, store: Store) -> None:
    _append_three(store)
    result = CliRunner().invoke(app, ["audit", "log", "--data-dir", str(data.root)])
    assert result.exit_code == 0
    assert "Audit trail (3 rows)" in result.output and "ingest" in result.output
