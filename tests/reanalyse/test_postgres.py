"""`reanalyse` on a PostgreSQL store (a real server, as the other PostgreSQL tests get one):
the what-if rows on the shared server, a re-run that skips every lot, the releases untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cytorelease.reanalyse.change import resolve_change
from cytorelease.reanalyse.executors import SerialExecutor
from cytorelease.reanalyse.run import reanalyse
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store
from tests.cli_contract import invoke, one_json_document
from tests.records.pg_backend import fresh_database

from .conftest import build_released
from .test_reanalyse import LOTS, STRICT, template_copy


def _releases(data: DataDir, url: str) -> tuple[list[dict], dict[str, bytes]]:
    """Every release row, and the bytes of each release's result.json."""
    store = open_store(data, url=url)
    with store:
        rows = store.rows("SELECT * FROM releases ORDER BY id")
    return rows, {str(r["result_path"]): Path(str(r["result_path"])).read_bytes() for r in rows}


def test_reanalyse_on_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database() as url:
        monkeypatch.setenv("CYTORELEASE_DB", url)
        data = DataDir.open(build_released(tmp_path, url))
        # no SQLite file: the releases and the what-if rows are on the server
        assert not data.db_path.exists()
        released = _releases(data, url)
        assert [r["lot"] for r in released[0]] == LOTS
        draft = template_copy(tmp_path, STRICT)
        change = resolve_change(template=str(draft))
        store = open_store(data, url=url)
        with store:
            first = reanalyse(data, store, change, SerialExecutor()).to_dict()
        assert (first["reanalysed"], first["skipped"], first["failed"]) == (3, 0, [])
        assert [f["lot"] for f in first["flips"]] == LOTS
        # the command, on the server CYTORELEASE_DB names: every lot already done
        again = invoke(["reanalyse", "--data-dir", str(data.root), "--template", str(draft),
                        "--executor", "serial", "--json"])  # fmt: skip
        assert again.exit_code == 0, again.stderr
        summary = one_json_document(again.stdout)
        assert (summary["reanalysed"], summary["skipped"]) == (0, 3)
        assert summary["flips"] == first["flips"] and summary["changes"] == first["changes"]
        store = open_store(data, url=url)
        with store:
            rows = store.rows("SELECT lot, release_id, record FROM whatif_results ORDER BY lot")
            assert [r["lot"] for r in rows] == LOTS  # one row per lot after two runs
            assert all(json.loads(str(r["record"]))["what_if"] is True for r in rows)
            ids = {r["lot"]: r["id"] for r in released[0]}
            assert {r["lot"]: r["release_id"] for r in rows} == ids
            # the what-if rows are append-only on the server as on SQLite
            with pytest.raises(Exception, match="append-only"), store.write():
                store.execute("UPDATE whatif_results SET disposition = 'PASS'")
        # the released records are never replaced: rows and result.json bytes as before
        assert _releases(data, url) == released
