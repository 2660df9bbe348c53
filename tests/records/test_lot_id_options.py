"""``audit log --lot`` and ``audit export LOT`` check the lot id by the project's one rule.

A lot id names folders and files and is printed on output lines, so one that breaks the rule
(a line break, a path, a flag, too long) is a one-line usage error (exit 2) that does not
quote it, not an empty result or a query on the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.lot_id import LOT_ID_RULE, MAX_LOT_ID
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from tests.cli_contract import assert_bad_input, invoke, one_json_document

BAD_LOT_IDS = [
    "lot-A\nerror: forged line",
    "../lot-A",
    "lot-A/../../etc",
    "-lot-A",
    ".hidden",
    "lot A",
    "",
    "l" * (MAX_LOT_ID + 1),
]


def _one_row(store: Store) -> None:
    with store.write():
        audit.append(
            store, actor="qc-analyst-01", action=audit.Action.INGEST, object="f", lot="lot-A"
        )


@pytest.mark.parametrize("lot", BAD_LOT_IDS, ids=range(len(BAD_LOT_IDS)))
def test_audit_log_refuses_a_malformed_lot_id(data: DataDir, store: Store, lot: str) -> None:
    _one_row(store)
    result = invoke(["audit", "log", f"--lot={lot}", "--json", "--data-dir", data.root])
    line = assert_bad_input(result, "--lot")
    assert line == f"error: --lot: not a lot id: {LOT_ID_RULE}"
    assert len(result.stderr.strip().splitlines()) == 1
    assert "forged" not in result.stderr and "etc" not in result.stderr


def test_audit_log_takes_the_longest_valid_lot_id(data: DataDir, store: Store) -> None:
    _one_row(store)
    longest = "l" * MAX_LOT_ID
    result = invoke(["audit", "log", "--lot", longest, "--json", "--data-dir", data.root])
    assert result.exit_code == 0, result.stderr
    assert one_json_document(result.stdout) == {"rows": []}
    found = invoke(["audit", "log", "--lot", "lot-A", "--json", "--data-dir", data.root])
    assert [r["lot"] for r in one_json_document(found.stdout)["rows"]] == ["lot-A"]


def test_read_log_checks_the_lot_before_opening_the_store(tmp_path: Path) -> None:
    from cytorelease.errors import InputError

    empty = tmp_path / "nothing-here"
    with pytest.raises(InputError, match="not a lot id") as caught:
        audit.read_log(empty, lot="lot-A\nx")
    assert caught.value.path == "--lot"
    assert not empty.exists()


@pytest.mark.parametrize("lot", BAD_LOT_IDS, ids=range(len(BAD_LOT_IDS)))
def test_audit_export_refuses_a_malformed_lot_id(
    data: DataDir, store: Store, lot: str, tmp_path: Path
) -> None:
    _one_row(store)
    out = tmp_path / "bundle"
    result = invoke(["audit", "export", "--out", out, "--data-dir", data.root, "--", lot])
    line = assert_bad_input(result, "LOT")
    assert line == f"error: LOT: not a lot id: {LOT_ID_RULE}"
    assert "forged" not in result.stderr and "etc" not in result.stderr
    assert not out.exists()
