"""``lots import``, ``lots table`` and ``trend --data-dir`` (issue 17 item 1), on SQLite and
PostgreSQL; releases of the sample lot, made by the worker, by a person with a data folder, and
without one (then imported)."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cytorelease.cli.main import app
from cytorelease.lot.dataset import store_results
from cytorelease.lot.release import release_lot
from cytorelease.provenance import content_sha256
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.lot_results import FIRST_COLUMNS
from cytorelease.records.store import Store
from cytorelease.records.trail import Trail
from cytorelease.synth.history import CAR, VCN, VIABILITY, write_history
from tests.cli_contract import SAMPLE_LOT
from tests.records.lot_records import history_records

runner = CliRunner()


def _run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder a release of the sample lot wrote (result.json and its CoA)."""
    out = tmp_path_factory.mktemp("release") / "lot-CAR-0001-release"
    release_lot(SAMPLE_LOT, out=out)
    return out


@pytest.fixture
def copy_of(released: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy" / released.name
    shutil.copytree(released, target)
    return target


def _import(data: DataDir, *paths: Path | str) -> Result:
    return _run("lots", "import", *paths, "--data-dir", data.root, "--site", "site-A", "--json")


def test_import_is_idempotent_by_record_hash(data: DataDir, store: Store, released: Path) -> None:
    first = _import(data, released)
    assert first.exit_code == 0, first.stderr
    document = json.loads(first.stdout)
    record = json.loads((released / "result.json").read_text(encoding="utf-8"))
    (imported,) = document["imported"]
    assert imported["record_sha256"] == content_sha256(record)
    assert imported["checked_against"] == "coa" and imported["rows"] == document["rows_added"]
    count = store.scalar("SELECT COUNT(*) FROM lot_results")
    assert count == imported["rows"] > 10
    again = _import(data, released / "result.json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["rows_added"] == 0
    assert json.loads(again.stdout)["already_present"][0]["lot"] == "lot-CAR-0001"
    assert store.scalar("SELECT COUNT(*) FROM lot_results") == count
    (row,) = [e for e in audit.entries(store) if e.action == "lots-import"]
    assert row.details["record_sha256"] == imported["record_sha256"] and row.lot == "lot-CAR-0001"
    assert audit.verify_chain(store).ok


def test_an_edited_record_is_refused_against_its_coa(
    data: DataDir, store: Store, released: Path, copy_of: Path
) -> None:
    result = copy_of / "result.json"
    record = json.loads(result.read_text(encoding="utf-8"))
    record["measurements"][0]["value"] = 99.9
    result.write_text(json.dumps(record, sort_keys=True, indent=2), encoding="utf-8")
    refused = _import(data, released, copy_of)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"error: {result}: the record is not the one the record ")
    assert "edited or replaced" in refused.stderr
    # nothing of the good release either: an import is whole or nothing
    assert store.scalar("SELECT COUNT(*) FROM lot_results") == 0


def test_a_record_nothing_vouches_for_needs_unchecked(
    data: DataDir, store: Store, released: Path, tmp_path: Path
) -> None:
    alone = tmp_path / "alone" / "result.json"
    alone.parent.mkdir()
    shutil.copyfile(released / "result.json", alone)
    refused = _import(data, alone)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {alone}: nothing records this record's hash")
    taken = _run("lots", "import", alone, "--unchecked", "--data-dir", data.root, "--json")
    assert taken.exit_code == 0, taken.stderr
    assert json.loads(taken.stdout)["imported"][0]["checked_against"] == "none"
    assert store.scalar("SELECT DISTINCT checked_against FROM lot_results") == "none"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x00\xff garbage", "not UTF-8 text"),
        (b'{"measurements": []}', "not a release record (its schema is None"),
        (b'{"schema": "cytorelease.result/1", "lot": {}}', "the record names no lot id"),
        (b"[1, 2", "not valid JSON"),
        (
            b'{"schema": "cytorelease.result/1", "lot": {"id": "../x", "product": "p"}}',
            "the record's lot id is not a lot id",
        ),
    ],
)
def test_a_file_that_is_no_release_record_is_refused(
    data: DataDir, store: Store, released: Path, tmp_path: Path, content: bytes, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    refused = _import(data, released, bad)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"error: {bad}: {problem}")
    assert store.scalar("SELECT COUNT(*) FROM lot_results") == 0


def test_a_folder_without_records_is_refused(data: DataDir, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = _import(data, empty)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {empty}: no result.json in this folder")


def _table(data: DataDir, out: Path, *options: str) -> Result:
    return _run("lots", "table", "--data-dir", data.root, "--out", out, *options, "--json")


def _stored_history(store: Store, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    write_history(tmp_path / "history", lots=60, sites=2, seed=3)
    history = tmp_path / "history" / "history.csv"
    records = history_records(history)
    with store.write():
        for record in records:
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                         checked_against="none")  # fmt: skip
    return history, records


def test_table_columns_and_filters(data: DataDir, store: Store, tmp_path: Path) -> None:
    _, records = _stored_history(store, tmp_path)
    out = tmp_path / "lots.csv"
    written = _table(data, out)
    assert written.exit_code == 0, written.stderr
    assert json.loads(written.stdout)["rows"] == 3 * len(records)
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    assert tuple(header[: len(FIRST_COLUMNS)]) == (
        "lot", "product", "site", "date", "attribute", "value", "unit", "verdict", "spec",
    )  # fmt: skip
    assert len(rows) == 3 * len(records)
    since = records[40]["lot"]["manufacturing_date"]
    narrowed = _table(data, out, "--site", "site-1", "--since", since, "--product", "cd19-car-t")
    assert narrowed.exit_code == 0, narrowed.stderr
    wanted = {r["lot"]["id"] for r in records[40:] if r["lot"]["site"] == "site-1"}
    with out.open(encoding="utf-8", newline="") as handle:
        assert {row["lot"] for row in csv.DictReader(handle)} == wanted
    bad = _table(data, out, "--since", "last week")
    assert bad.exit_code == 2 and "'last week' is not an ISO 8601 date" in bad.stderr
    wrong = _table(data, tmp_path / "lots.xlsx")
    assert wrong.exit_code == 2 and "write a .csv or a .parquet" in wrong.stderr


def test_table_as_parquet_and_without_pyarrow(
    data: DataDir, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    _, records = _stored_history(store, tmp_path)
    out = tmp_path / "lots.parquet"
    assert _table(data, out).exit_code == 0
    table = pq.read_table(out)
    assert table.num_rows == 3 * len(records)
    assert tuple(table.column_names[: len(FIRST_COLUMNS)]) == FIRST_COLUMNS
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as on an install without it
    refused = _table(data, tmp_path / "other.parquet")
    assert refused.exit_code == 2 and "writing Parquet needs pyarrow" in refused.stderr
    assert not (tmp_path / "other.parquet").exists()


def test_trend_data_dir_gives_the_charts_of_from_csv(
    data: DataDir, store: Store, tmp_path: Path
) -> None:
    history, _ = _stored_history(store, tmp_path)
    attributes = (VIABILITY, CAR, VCN)
    common = ("--baseline", "20", "--by-site", "--json")
    from_csv = _run("trend", *attributes, "--from-csv", history, *common)
    assert from_csv.exit_code == 0, from_csv.stderr
    from_store = _run(
        "trend", *attributes, "--data-dir", data.root, "--product", "cd19-car-t", *common,
        "--out", tmp_path / "report.html",
    )  # fmt: skip
    assert from_store.exit_code == 0, from_store.stderr
    assert json.loads(from_store.stdout)["charts"] == json.loads(from_csv.stdout)["charts"]
    assert "<svg" in (tmp_path / "report.html").read_text(encoding="utf-8")
    # and the exported table, read back by --from-csv, draws them too
    exported = tmp_path / "lots.csv"
    assert _table(data, exported).exit_code == 0
    again = _run("trend", *attributes, "--from-csv", exported, *common)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["charts"] == json.loads(from_csv.stdout)["charts"]


def test_trend_takes_exactly_one_source(data: DataDir, tmp_path: Path) -> None:
    both = _run("trend", VIABILITY, "--from-csv", tmp_path / "x.csv", "--data-dir", data.root)
    neither = _run("trend", VIABILITY)
    for result in (both, neither):
        assert result.exit_code == 2 and "give exactly one of them" in result.stderr


def test_a_persons_release_with_a_data_folder_stores_its_rows(
    data: DataDir, store: Store, tmp_path: Path
) -> None:
    outcome = release_lot(SAMPLE_LOT, out=tmp_path / "out", trail=Trail(data.root, "aanalyst"))
    rows = store.rows("SELECT * FROM lot_results")
    assert {r["record_sha256"] for r in rows} == {outcome.record_sha256}
    assert {r["origin"] for r in rows} == {"release"}
    measured = {m["attribute"] for m in outcome.record["measurements"]}
    assert measured <= {r["attribute"] for r in rows}
    (render,) = [e for e in audit.entries(store) if e.action == "render"]
    assert render.details["record_sha256"] == outcome.record_sha256
    # importing the release afterwards adds nothing
    again = _import(data, tmp_path / "out")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["rows_added"] == 0
