"""A frozen baseline is held to the lots dataset it names: an insider who can write the data
folder and the database (a new version file, its LOCK line, a well-formed ``trend-freeze``
row appended through the project's own code) cannot put invented lots, changed values, another
lot's record, another site's lot or a picked subset of real lots under a release's
out-of-trend review. Both the release's lookup and ``audit verify`` refuse such a version,
naming its file; honest histories (lots imported later with earlier dates, a baseline lot
released again) still verify. SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from cytorelease._lock import LOCK_NAME, add_lock_entry
from cytorelease.errors import InputError
from cytorelease.lot.dataset import spec_limits, store_results
from cytorelease.provenance import content_sha256
from cytorelease.records import audit
from cytorelease.records.audit import os_user
from cytorelease.records.datadir import DataDir
from cytorelease.records.lot_results import result_rows
from cytorelease.records.store import Store, open_store
from cytorelease.synth.history import CAR, VCN, VIABILITY
from cytorelease.trend.freeze import freeze_from_data
from cytorelease.trend.from_store import trend_from_data
from cytorelease.trend.frozen import baseline_in_force, current_baseline
from cytorelease.trend.imr import D2, D4, E2
from tests.cli_contract import SAMPLE_LOT, assert_bad_input, invoke, one_json_document
from tests.records.lot_records import PRODUCT, history_records
from tests.records.pg_backend import BACKENDS, backend_url

LOTS, POOLED_N, SITE_N = 40, 20, 10
FIRST_DAY = date(2025, 1, 1)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with backend_url(request.param, monkeypatch) as url:
        yield url


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.open(tmp_path / "data")


@pytest.fixture
def store(data: DataDir, db_url: str) -> Iterator[Store]:
    opened = open_store(data, url=db_url)
    yield opened
    opened.close()


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    """40 lots a day apart, alternately at site-1 and site-2."""
    rng = random.Random(17)
    lines = ["lot,date,attribute,value,site,lsl,usl"]
    for i in range(LOTS):
        day, site = (FIRST_DAY + timedelta(days=i)).isoformat(), f"site-{1 + i % 2}"
        for attribute, value in ((CAR, rng.gauss(40, 3)), (VIABILITY, rng.gauss(91, 1.5)),
                                 (VCN, rng.gauss(2.6, 0.3))):  # fmt: skip
            lines.append(f"lot-H{i:03d},{day},{attribute},{value:.3f},{site},,")
    table = tmp_path / "history.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return history_records(table, with_site=True)


def _store_as_of(store: Store, record: dict[str, Any], stored_at: str) -> None:
    """The record's rows as its release stored them at ``stored_at`` (a history made over
    time: store_record stamps the present)."""
    rows = result_rows(
        record, record_sha256=content_sha256(record), origin="import", checked_against="none",
        limits=spec_limits(record["evaluation"]["spec"]), stored_at=stored_at,
    )  # fmt: skip
    for row in rows:
        names = list(row.fields)
        store.execute(
            f"INSERT INTO lot_results ({', '.join(names)}) VALUES "
            f"({', '.join('?' for _ in names)})",
            [row.fields[n] for n in names],
        )


@pytest.fixture
def frozen(data: DataDir, store: Store, tmp_path: Path) -> list[dict[str, Any]]:
    """The history stored a lot a day, then v1 of the pooled baseline (20 lots) and of each
    site's (10 lots). Returns the records."""
    records = _records(tmp_path)
    with store.write():
        for record in records:
            _store_as_of(store, record, f"{record['lot']['manufacturing_date']}T18:00:00+00:00")
    for by_site, n in ((False, POOLED_N), (True, SITE_N)):
        report = trend_from_data(data.root, (CAR, VIABILITY), product=PRODUCT, baseline=n,
                                 by_site=by_site)  # fmt: skip
        freeze_from_data(data.root, report, product=PRODUCT, actor=os_user())
    return records


def _folder(data: DataDir, site: str | None = None) -> Path:
    folder = data.root / "baselines" / PRODUCT
    return folder if site is None else folder / "sites" / site


def _limits(entry: dict[str, Any]) -> None:
    """The I-MR limits of the entry's lots, as an insider recomputes them."""
    values = [float(lot["value"]) for lot in entry["lots"]]
    center = sum(values) / len(values)
    mr_bar = sum(abs(b - a) for a, b in pairwise(values)) / (len(values) - 1)
    entry.update(n=len(values), center=center, mr_bar=mr_bar, ucl=center + E2 * mr_bar,
                 lcl=center - E2 * mr_bar, mr_ucl=D4 * mr_bar, sigma=mr_bar / D2)  # fmt: skip


def _lot_of(record: dict[str, Any], attribute: str) -> dict[str, Any]:
    """A baseline's entry for a real release, as a freeze writes it."""
    value = next(m["value"] for m in record["measurements"] if m["attribute"] == attribute)
    return {"lot": record["lot"]["id"], "date": record["lot"]["manufacturing_date"],
            "value": float(value), "record_sha256": content_sha256(record)}  # fmt: skip


def _forge_v2(
    data: DataDir, store: Store, edit: Any, *, site: str | None = None
) -> tuple[Path, str]:
    """Version 2 written by hand from v1: ``edit`` changes each attribute's lots, the limits
    are recomputed to agree, the LOCK gets its line and the trail a trend-freeze row appended
    through the library (the chain intact). Returns the file and the reason words to expect."""
    folder = _folder(data, site)
    v1 = json.loads((folder / "v1.json").read_text(encoding="utf-8"))
    document = copy.deepcopy(v1)
    document["version"] = 2
    document["supersedes"] = {"version": 1, "sha256": content_sha256(v1)}
    for entry in document["attributes"]:
        entry["lots"] = edit(entry["attribute"], entry["lots"])
        _limits(entry)
    sha = content_sha256(document)
    path = folder / "v2.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    add_lock_entry(folder / LOCK_NAME, f"{PRODUCT}@2", sha, header="", error=InputError)
    ref = f"{PRODUCT}@2" if site is None else f"{PRODUCT}/{site}@2"
    with store.write():
        audit.append(store, actor="insider", action=audit.Action.TREND_FREEZE, object=ref,
                     details={"sha256": sha, "site": site, "baseline_n": document["baseline_n"]})  # fmt: skip
    return path, ref


def _refused(
    data: DataDir, store: Store, path: Path, words: str, *, site: str | None = None
) -> None:
    """Refused by the release's lookup (InputError naming the file and why) and reported by
    ``audit verify`` (exit 1, the problem naming the file)."""
    with pytest.raises(InputError) as caught:
        baseline_in_force(data.root, PRODUCT, site, store)
    line = caught.value.one_line()
    assert str(path) in line and words in line and "version 2" in line, line
    verify = invoke(["audit", "verify", "--data-dir", str(data.root), "--json"])
    assert verify.exit_code == 1, verify.stdout + verify.stderr
    problems = one_json_document(verify.stdout)["trend_baselines"]["problems"]
    assert any(str(path) in p and words in p for p in problems), problems


def _verifies(data: DataDir, versions: int) -> None:
    verify = invoke(["audit", "verify", "--data-dir", str(data.root), "--json"])
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert one_json_document(verify.stdout)["trend_baselines"] == {
        "versions": versions, "problems": []
    }  # fmt: skip


def test_invented_lots_whose_limits_agree_are_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]], tmp_path: Path
) -> None:
    def invent(attribute: str, lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = random.Random(attribute)
        return [{"lot": f"lot-F{i:03d}", "date": (FIRST_DAY + timedelta(days=i)).isoformat(),
                 "value": round(rng.uniform(0, 100), 3), "record_sha256": f"{i:02x}" * 32}
                for i in range(len(lots))]  # fmt: skip

    path, _ = _forge_v2(data, store, invent)
    _refused(data, store, path, "lists lot 'lot-F000' with record 0000000000000000...")
    _refused(data, store, path, "which the lots dataset does not hold")
    out = tmp_path / "out"  # the release itself: exit 2 naming the file, no record written
    result = invoke(["release", str(SAMPLE_LOT), "--out", str(out), "--data-dir", str(data.root)])
    assert "which the lots dataset does not hold" in assert_bad_input(result, path)
    assert not (out / "result.json").exists()


def test_a_real_lot_with_a_changed_value_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    def lower(attribute: str, lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lots[3]["value"] -= 5.0  # the limits recomputed with it: only the dataset disagrees
        return lots

    path, _ = _forge_v2(data, store, lower)
    _refused(data, store, path, "lists lot 'lot-H003'")
    _refused(data, store, path, "where the lots dataset holds")


def test_a_real_lot_naming_another_lots_record_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    def swap(attribute: str, lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lots[4]["record_sha256"] = lots[5]["record_sha256"]
        return lots

    path, _ = _forge_v2(data, store, swap)
    _refused(data, store, path, "which is a release of lot 'lot-H005'")


def test_a_real_lot_with_another_date_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    def redate(attribute: str, lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lots[0]["date"] = "2024-06-01"  # still first in series order
        return lots

    path, _ = _forge_v2(data, store, redate)
    _refused(data, store, path, "dated 2024-06-01, which the lots dataset dates 2025-01-01")


def test_a_site_baseline_listing_another_sites_lot_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    other = frozen[1]  # lot-H001, made at site-2
    assert other["lot"]["site"] == "site-2"

    def borrow(attribute: str, lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = [*lots[:-1], _lot_of(other, attribute)]
        return sorted(found, key=lambda lot: (lot["date"], lot["lot"]))

    path, _ = _forge_v2(data, store, borrow, site="site-1")
    _refused(data, store, path, "lists lot 'lot-H001'", site="site-1")
    _refused(data, store, path, "holds as made at site 'site-2'", site="site-1")


def test_lots_out_of_series_order_are_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    path, _ = _forge_v2(data, store, lambda attribute, lots: lots[::-1])
    _refused(data, store, path, "not in series order")


def test_the_honest_freeze_is_what_a_release_is_judged_against(
    data: DataDir, store: Store, frozen: list[dict[str, Any]], tmp_path: Path
) -> None:
    pooled = current_baseline(data.root, PRODUCT, store)
    assert pooled is not None and pooled.version == 1
    _verifies(data, versions=3)  # the pooled baseline and each site's
    out = tmp_path / "out"
    result = invoke(["release", str(SAMPLE_LOT), "--out", str(out), "--data-dir", str(data.root)])
    assert result.exit_code in (0, 1), result.stderr
    record = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert record["out_of_trend"]["baseline"]["sha256"] == pooled.sha256
    _verifies(data, versions=3)  # the release's own lot, stored now, is no lot left out


def test_later_imports_and_releases_leave_an_honest_baseline_in_force(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    """After the freeze: an older lot imported (dated before every baseline lot, so the first
    of the series now), and a baseline lot released again with another value. The versions
    still name records the dataset holds, and neither lot was in the dataset when they were
    frozen."""
    early = copy.deepcopy(frozen[0])
    early["lot"]["id"], early["lot"]["manufacturing_date"] = "lot-E001", "2024-12-01"
    early["created_at"] = "2024-12-01T12:00:00Z"
    again = copy.deepcopy(frozen[2])
    again["created_at"] = "2026-06-01T12:00:00Z"
    for m in again["measurements"]:
        m["value"] = float(m["value"]) + 1.5
    with store.write():
        for record in (early, again):
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                          checked_against="none")  # fmt: skip
    for site in (None, "site-1", "site-2"):
        baseline = current_baseline(data.root, PRODUCT, store, site)
        assert baseline is not None and baseline.version == 1
    _verifies(data, versions=3)
    # a freeze now takes the imported lot first, and the new release of lot-H002
    report = trend_from_data(data.root, (CAR, VIABILITY), product=PRODUCT, baseline=POOLED_N)
    (v2,) = freeze_from_data(data.root, report, product=PRODUCT, actor=os_user())
    lots = v2.document["attributes"][0]["lots"]
    assert lots[0]["lot"] == "lot-E001"
    assert next(lot for lot in lots if lot["lot"] == "lot-H002")["record_sha256"] == (
        content_sha256(again)
    )
    assert current_baseline(data.root, PRODUCT, store) == v2
    _verifies(data, versions=4)
