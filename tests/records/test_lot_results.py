"""The lots dataset in the record store (issue 17 item 1): rows of a release record, stored
once, each lot's latest release, filters, and the charts ``trend --data-dir`` draws from it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cytorelease.lot.dataset import store_results
from cytorelease.provenance import content_sha256
from cytorelease.records.datadir import DataDir
from cytorelease.records.lot_results import lot_table
from cytorelease.records.store import Store
from cytorelease.synth.history import CAR, VCN, VIABILITY, write_history
from cytorelease.trend import trend_from_csv
from cytorelease.trend.from_store import trend_from_data
from tests.records.lot_records import PRODUCT, history_records


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    write_history(out, lots=60, sites=2, seed=7)
    return out / "history.csv"


def _store(store: Store, records: list[dict[str, Any]], **options: Any) -> int:
    with store.write():
        added = 0
        for r in records:
            added += store_results(store, r, record_sha256=content_sha256(r), origin="import",
                                  checked_against="none", **options)  # fmt: skip
        return added


@pytest.fixture
def stored(store: Store, history: Path) -> Iterator[list[dict[str, Any]]]:
    records = history_records(history)
    _store(store, records)
    yield records


def test_a_record_gives_one_row_per_attribute_with_a_result(store: Store, history: Path) -> None:
    record = history_records(history)[0]
    assert _store(store, [record]) == 3  # sterility is pending: no result, no row
    rows = {r["attribute"]: r for r in lot_table(store)}
    assert set(rows) == {VIABILITY, CAR, VCN}
    viability = rows[VIABILITY]
    measured = next(m for m in record["measurements"] if m["attribute"] == VIABILITY)
    assert viability["value_number"] == measured["value"]
    assert viability["value_source"] == "measurement" and rows[VCN]["value_source"] == "reported"
    assert rows[VCN]["value"] == next(
        c["reported"] for c in record["evaluation"]["criteria"] if c["attribute"] == VCN
    )
    # the limits of the bundled spec the record names (viability >= 80 %, VCN < 5.0)
    assert (viability["lsl"], viability["usl"]) == (80.0, None)
    assert (rows[VCN]["lsl"], rows[VCN]["usl"]) == (None, 5.0)
    assert viability["spec"] == f"{PRODUCT}@2" and viability["verdict"] == "pass"
    assert viability["date"] == record["lot"]["manufacturing_date"]
    assert viability["date_kind"] == "manufacturing"
    assert viability["site"] == record["lot"]["site"]
    assert viability["method_id"] == "cd19-car-t-panel" and rows[VCN]["method_id"] is None
    assert viability["record_sha256"] == content_sha256(record)


def test_storing_a_record_twice_adds_nothing(store: Store, history: Path) -> None:
    records = history_records(history)[:5]
    assert _store(store, records) == 15
    assert _store(store, records) == 0
    assert store.scalar("SELECT COUNT(*) FROM lot_results") == 15


def test_rows_are_append_only(store: Store, stored: list[dict[str, Any]]) -> None:
    with pytest.raises(store.database_error, match="lot_results is append-only"), store.write():
        store.execute("UPDATE lot_results SET value = '99'")
    with pytest.raises(store.database_error, match="lot_results is append-only"), store.write():
        store.execute("DELETE FROM lot_results")


def test_a_second_release_of_a_lot_replaces_it_in_the_table(
    store: Store, stored: list[dict[str, Any]]
) -> None:
    again = copy.deepcopy(stored[3])
    again["created_at"] = "2027-01-01T08:00:00Z"
    again["measurements"][0]["value"] = 42.5
    assert _store(store, [again]) == 3
    lot = again["lot"]["id"]
    latest = [r for r in lot_table(store) if r["lot"] == lot]
    assert {r["record_sha256"] for r in latest} == {content_sha256(again)}
    assert next(r for r in latest if r["attribute"] == VIABILITY)["value"] == "42.5"
    every = [r for r in lot_table(store, every_release=True) if r["lot"] == lot]
    assert len(every) == 6
    assert len(lot_table(store)) == 3 * len(stored)


def test_filters_by_product_date_and_site(store: Store, stored: list[dict[str, Any]]) -> None:
    other = copy.deepcopy(stored[0])
    other["lot"] = {**other["lot"], "id": "BCMA-0001", "product": "bcma-car-t"}
    _store(store, [other])
    assert {r["product"] for r in lot_table(store)} == {PRODUCT, "bcma-car-t"}
    assert {r["lot"] for r in lot_table(store, product="bcma-car-t")} == {"BCMA-0001"}
    cut = date.fromisoformat(stored[30]["lot"]["manufacturing_date"])
    since = lot_table(store, product=PRODUCT, since=cut)
    assert {r["lot"] for r in since} == {r["lot"]["id"] for r in stored[30:]}
    site2 = lot_table(store, site="site-2")
    assert {r["lot"] for r in site2} == {
        r["lot"]["id"] for r in stored if r["lot"]["site"] == "site-2"
    }


def test_the_importers_site_for_records_that_name_none(store: Store, history: Path) -> None:
    record = history_records(history, with_site=False)[0]
    _store(store, [record], site="site-9")
    assert {r["site"] for r in lot_table(store)} == {"site-9"}


def test_without_the_specs_exact_version_there_are_no_spec_limits(
    store: Store, history: Path
) -> None:
    record = history_records(history)[0]
    record["evaluation"]["spec"]["sha256"] = "ab" * 32  # not the library's cd19-car-t@2
    _store(store, [record])
    assert {(r["lsl"], r["usl"]) for r in lot_table(store)} == {(None, None)}


@pytest.mark.parametrize("by_site", [False, True])
def test_trend_from_the_store_draws_the_charts_of_the_table(
    data: DataDir, stored: list[dict[str, Any]], history: Path, by_site: bool
) -> None:
    attributes = (VIABILITY, CAR, VCN)
    from_csv = trend_from_csv(history, attributes, baseline=20, by_site=by_site)
    from_store = trend_from_data(
        data.root, attributes, product=PRODUCT, baseline=20, by_site=by_site
    )
    charts: list[dict[str, Any]] = from_store.to_dict()["charts"]  # type: ignore[assignment]
    assert charts == from_csv.to_dict()["charts"]
    assert len(charts) == (6 if by_site else 3)
    assert any(c["violations"] for c in charts)  # the planted drifts are caught
    assert all(c["ppk"] is not None for c in charts)  # spec limits from the records' spec


def test_trend_from_the_store_refuses_what_it_cannot_chart(
    data: DataDir, store: Store, stored: list[dict[str, Any]]
) -> None:
    from cytorelease.errors import InputError

    with pytest.raises(InputError, match=r"no result for attribute 'flow\.nothing'"):
        trend_from_data(data.root, ("flow.nothing",), baseline=20)
    other = copy.deepcopy(stored[0])
    other["lot"] = {**other["lot"], "id": "BCMA-0001", "product": "bcma-car-t"}
    _store(store, [other])
    with pytest.raises(InputError, match="chart one product at a time"):
        trend_from_data(data.root, (VIABILITY,), baseline=20)
    assert trend_from_data(data.root, (VIABILITY,), product=PRODUCT, baseline=20).charts


def test_trend_from_the_store_refuses_a_word_and_a_lot_without_site(
    data: DataDir, store: Store, history: Path
) -> None:
    from cytorelease.errors import InputError

    records = history_records(history, with_site=False)[:30]
    records[4]["measurements"][0]["value"] = "not detected"  # a word where a number goes
    _store(store, records)
    lot = records[4]["lot"]["id"]
    with pytest.raises(InputError, match=f"lot '{lot}': attribute '{VIABILITY}' is 'not detected'"):
        trend_from_data(data.root, (VIABILITY,), baseline=20)
    with pytest.raises(InputError, match=r"--by-site: 30 lot\(s\) have no site"):
        trend_from_data(data.root, (CAR,), baseline=20, by_site=True)
    assert trend_from_data(data.root, (CAR,), baseline=20).charts[0].series.site is None
