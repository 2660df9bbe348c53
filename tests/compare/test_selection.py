"""``compare lots:KEY=VALUE,... lots:...``: both sides selected from a data folder's lots dataset,
filled by ``lots import`` with the releases of a ``sample-data history`` (two sites), and a
re-release of every lot with a new gating-template version whose values are known."""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from cytorelease.synth.history import CAR, VCN, VIABILITY, write_history
from tests.cli_contract import assert_bad_input, invoke, one_json_document
from tests.records.lot_records import history_records
from tests.records.pg_backend import BACKENDS, backend_url

SHIFT = 1.25  # what the new template version adds to both flow values of every lot


def _write(folder: Path, records: list[dict[str, Any]]) -> Path:
    for record in records:
        path = folder / record["lot"]["id"] / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return folder


def _regated(record: dict[str, Any]) -> dict[str, Any]:
    """The lot released again a day later, gated with template 1.1.0 (values + SHIFT)."""
    again = json.loads(json.dumps(record))
    again["created_at"] = again["created_at"].replace("T12:", "T13:")
    for m in again["measurements"]:
        m["value"] = round(m["value"] + SHIFT, 2)
        m["method"] = {**m["method"], "version": "1.1.0"}
    for c in again["evaluation"]["criteria"]:
        if c["attribute"] in (CAR, VIABILITY):
            c["reported"] = f"{float(c['reported']) + SHIFT:.2f}"
    return again


@pytest.fixture(scope="module", params=BACKENDS)
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path]]:
    """(data folder, history.csv): 40 lots at two sites, each released twice; the store is
    SQLite in the data folder or a fresh PostgreSQL database (CYTORELEASE_DB)."""
    root = tmp_path_factory.mktemp("selection")
    write_history(root / "history", lots=40, sites=2, seed=5, shift_at=40)
    records = history_records(root / "history" / "history.csv")
    first = _write(root / "v1", records)
    second = _write(root / "v2", [_regated(r) for r in records])
    data = root / "data"
    with pytest.MonkeyPatch.context() as patch, backend_url(request.param, patch):
        for folder in (first, second):
            result = invoke(["lots", "import", str(folder), "--unchecked", "--data-dir", str(data)])
            assert result.exit_code == 0, result.stderr
        yield data, root / "history" / "history.csv"


def _compare(data: Path, a: str, b: str, *more: object) -> Result:
    return invoke(["compare", a, b, "--data-dir", str(data), *(str(m) for m in more)])


def _values(history_csv: Path, attribute: str, site: str) -> list[float]:
    with history_csv.open(encoding="utf-8", newline="") as handle:
        return [
            float(r["value"])
            for r in csv.DictReader(handle)
            if r["attribute"] == attribute and r["site"] == site
        ]


def test_two_sites_unpaired_match_the_history(history: tuple[Path, Path]) -> None:
    data, history_csv = history
    result = _compare(data, "lots:site=site-1", "lots:site=site-2,product=cd19-car-t",
                      "--pair-by", "none", "--margin", f"{CAR}=5", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["a"] == {**document["a"], "kind": "lots-dataset", "selection": "site=site-1",
                             "lots": 20, "path": str(data)}  # fmt: skip
    assert document["b"]["selection"] == "product=cd19-car-t,site=site-2"
    by_name = {c["attribute"]: c for c in document["attributes"]}
    assert set(by_name) == {CAR, VIABILITY, VCN}
    for attribute in (CAR, VIABILITY, VCN):
        # each lot's latest release: the 1.1.0 re-gating for the flow values
        shift = SHIFT if attribute != VCN else 0.0
        a = [v + shift for v in _values(history_csv, attribute, "site-1")]
        b = [v + shift for v in _values(history_csv, attribute, "site-2")]
        c = by_name[attribute]
        assert (c["n_a"], c["n_b"]) == (20, 20)
        assert c["bias"] == pytest.approx(statistics.mean(b) - statistics.mean(a), abs=1e-9)
        assert c["sd_a"] == pytest.approx(statistics.stdev(a), rel=1e-9)
    assert by_name[CAR]["margin"] == 5 and by_name[VIABILITY]["equivalent"] is None
    assert document["flips"] == []


def test_the_same_lots_with_two_template_versions_pair_by_lot(history: tuple[Path, Path]) -> None:
    data, _ = history
    old, new = "lots:method=cd19-car-t-panel@1.0.0", "lots:method=cd19-car-t-panel@1.1.0"
    result = _compare(data, old, new, "--pair-by", "lot", "--json")
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["lots"]["in_both"] == 40 and document["lots"]["only_in_a"] == []
    by_name = {c["attribute"]: c for c in document["attributes"]}
    assert set(by_name) == {CAR, VIABILITY}  # VCN is derived: no method measured it
    for c in by_name.values():
        assert c["n"] == 40
        assert c["bias"] == pytest.approx(SHIFT, abs=0.006)  # each value kept to 2 decimals
        assert c["deming_slope"] == pytest.approx(1.0, abs=1e-3)


def test_a_selection_and_its_csv_export_compare_alike(
    history: tuple[Path, Path], tmp_path: Path
) -> None:
    data, _ = history
    export = tmp_path / "site-1.csv"
    exported = invoke(["lots", "table", "--site", "site-1", "--out", str(export),
                       "--data-dir", str(data)])  # fmt: skip
    assert exported.exit_code == 0, exported.stderr
    picked = one_json_document(
        _compare(data, "lots:site=site-1", "lots:site=site-2", "--pair-by", "none", "--json").stdout
    )
    mixed = _compare(data, str(export), "lots:site=site-2", "--pair-by", "none", "--json")
    assert mixed.exit_code == 0, mixed.stderr
    from_csv = one_json_document(mixed.stdout)
    assert from_csv["a"]["kind"] == "csv"
    assert from_csv["attributes"] == picked["attributes"]


def test_since_until_and_every_lot(history: tuple[Path, Path]) -> None:
    data, history_csv = history
    with history_csv.open(encoding="utf-8", newline="") as handle:
        days = sorted({r["date"] for r in csv.DictReader(handle)})
    late = f"lots:since={days[20]}"
    early = f"lots:until={days[19]}"
    document = one_json_document(_compare(data, early, late, "--pair-by", "none", "--json").stdout)
    assert (document["a"]["lots"], document["b"]["lots"]) == (20, 20)
    every = one_json_document(_compare(data, "lots:", late, "--pair-by", "none", "--json").stdout)
    assert every["a"]["lots"] == 40 and every["a"]["selection"] == ""


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        ("lots:site=site-1,colour=red", "no selection key 'colour' (keys: product, site,"),
        ("lots:site=site-1,site=site-2", "the key 'site' is given twice"),
        ("lots:since=2026-13-01", "since='2026-13-01' is not an ISO 8601 date"),
        ("lots:site", "'site': expected KEY=VALUE"),
        ("lots:since=2026-03-01,until=2026-02-01", "until 2026-02-01 is before since 2026-03-01"),
    ],
)
def test_a_malformed_selection_is_refused(
    history: tuple[Path, Path], selection: str, problem: str
) -> None:
    data, _ = history
    line = assert_bad_input(_compare(data, selection, "lots:", "--pair-by", "none"), selection)
    assert problem in line


def test_a_selection_of_no_lot_is_refused_naming_the_data_folder(
    history: tuple[Path, Path],
) -> None:
    data, _ = history
    result = _compare(data, "lots:site=site-9", "lots:", "--pair-by", "none")
    assert "the selection 'lots:site=site-9' matches no lot" in assert_bad_input(result, data)


def test_a_data_folder_without_a_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)  # the SQLite file is what is missing
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _compare(empty, "lots:site=site-1", "lots:", "--pair-by", "none")
    assert "no cytorelease record store here" in assert_bad_input(result, empty)
    assert sorted(p.name for p in empty.iterdir()) == []


def test_the_report_names_the_selection(history: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = history
    out = tmp_path / "report.html"
    result = _compare(data, "lots:site=site-1", "lots:site=site-2", "--pair-by", "none",
                      "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert f"{data} (lots-dataset, selection site=site-1, sha256 " in page
