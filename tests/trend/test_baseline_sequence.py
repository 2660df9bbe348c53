"""A frozen baseline is held to the audit trail's sequence: the lots a freeze lists are the
first N of the series the lots dataset held when its ``trend-freeze`` row was appended. An
insider who writes a version of real lots picked from the series (leaving out inconvenient
ones), re-LOCKs it and appends a freeze row is refused by the release and by ``audit verify``;
an honest baseline stays in force when lots dated earlier are stored after it, and when the
hosts that stored the lots had clocks far off (``stored_at`` and the rows' times are not what
decides). The history is stored through ``lots import``, each record with its ``lots-import``
row, as a site brings in its releases. SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from cytorelease._lock import LOCK_NAME, add_lock_entry
from cytorelease.errors import InputError
from cytorelease.lot.dataset import spec_limits
from cytorelease.lot.dataset_import import import_records
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

LOTS, POOLED_N, SITE_N = 30, 20, 10
FIRST_DAY = date(2025, 1, 1)
Lots = list[dict[str, Any]]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with backend_url(request.param, monkeypatch) as url:
        yield url


@pytest.fixture
def data(tmp_path: Path, db_url: str) -> DataDir:
    return DataDir.open(tmp_path / "data")


@pytest.fixture
def store(data: DataDir, db_url: str) -> Iterator[Store]:
    opened = open_store(data, url=db_url)
    yield opened
    opened.close()


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    """30 lots a day apart, alternately at site-1 and site-2."""
    rng = random.Random(23)
    lines = ["lot,date,attribute,value,site,lsl,usl"]
    for i in range(LOTS):
        day, site = (FIRST_DAY + timedelta(days=i)).isoformat(), f"site-{1 + i % 2}"
        for attribute, value in ((CAR, rng.gauss(40, 3)), (VIABILITY, rng.gauss(91, 1.5)),
                                 (VCN, rng.gauss(2.6, 0.3))):  # fmt: skip
            lines.append(f"lot-S{i:03d},{day},{attribute},{value:.3f},{site},,")
    table = tmp_path / "history.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return history_records(table, with_site=True)


def _import(data: DataDir, folder: Path, records: list[dict[str, Any]]) -> None:
    """The records brought in by ``lots import`` (one lots-import row each)."""
    for record in records:
        place = folder / record["lot"]["id"] / content_sha256(record)[:8]
        place.mkdir(parents=True)
        (place / "result.json").write_text(json.dumps(record), encoding="utf-8")
    import_records(data.root, [folder], unchecked=True)


def _store_on_host(store: Store, record: dict[str, Any], clock: datetime) -> None:
    """What a host whose clock reads ``clock`` writes for one record in one transaction: its
    rows stamped ``stored_at`` by that clock and the lots-import row naming its hash."""
    sha = content_sha256(record)
    rows = result_rows(
        record, record_sha256=sha, origin="import", checked_against="none",
        limits=spec_limits(record["evaluation"]["spec"]), stored_at=clock.isoformat(),
    )  # fmt: skip
    with store.write():
        for row in rows:
            names = list(row.fields)
            store.execute(
                f"INSERT INTO lot_results ({', '.join(names)}) VALUES "
                f"({', '.join('?' for _ in names)})",
                [row.fields[n] for n in names],
            )
        audit.append(
            store, actor="service:worker@skewed-host", action=audit.Action.LOTS_IMPORT,
            object=f"{record['lot']['id']}/result.json", lot=record["lot"]["id"],
            details={"record_sha256": sha, "rows": len(rows)}, now=clock,
        )  # fmt: skip


def _freeze(data: DataDir) -> None:
    """v1 of the pooled baseline (20 lots) and of each site's (10 lots)."""
    for by_site, n in ((False, POOLED_N), (True, SITE_N)):
        report = trend_from_data(data.root, (CAR, VIABILITY), product=PRODUCT, baseline=n,
                                 by_site=by_site)  # fmt: skip
        freeze_from_data(data.root, report, product=PRODUCT, actor=os_user())


@pytest.fixture
def frozen(data: DataDir, tmp_path: Path) -> list[dict[str, Any]]:
    """The history imported, then v1 of every baseline. Returns the records, in lot order."""
    records = _records(tmp_path)
    _import(data, tmp_path / "history", records)
    _freeze(data)
    return records


def _folder(data: DataDir, site: str | None = None) -> Path:
    folder = data.root / "baselines" / PRODUCT
    return folder if site is None else folder / "sites" / site


def _limits(entry: dict[str, Any]) -> None:
    values = [float(lot["value"]) for lot in entry["lots"]]
    center = sum(values) / len(values)
    mr_bar = sum(abs(b - a) for a, b in pairwise(values)) / (len(values) - 1)
    entry.update(n=len(values), center=center, mr_bar=mr_bar, ucl=center + E2 * mr_bar,
                 lcl=center - E2 * mr_bar, mr_ucl=D4 * mr_bar, sigma=mr_bar / D2)  # fmt: skip


def _entry(record: dict[str, Any], attribute: str) -> dict[str, Any]:
    """A baseline's entry for a real release, as a freeze writes it."""
    value = next(m["value"] for m in record["measurements"] if m["attribute"] == attribute)
    return {"lot": record["lot"]["id"], "date": record["lot"]["manufacturing_date"],
            "value": float(value), "record_sha256": content_sha256(record)}  # fmt: skip


def _forge_v2(
    data: DataDir, store: Store, pick: Callable[[str], Lots], *, site: str | None = None
) -> Path:
    """Version 2 written by hand from v1 with the lots ``pick`` gives each attribute (real
    releases, in series order), the limits recomputed, the LOCK line added and a
    trend-freeze row appended through the library (the chain intact)."""
    folder = _folder(data, site)
    v1 = json.loads((folder / "v1.json").read_text(encoding="utf-8"))
    document = copy.deepcopy(v1)
    document["version"] = 2
    document["supersedes"] = {"version": 1, "sha256": content_sha256(v1)}
    for entry in document["attributes"]:
        entry["lots"] = pick(entry["attribute"])
        _limits(entry)
    sha = content_sha256(document)
    path = folder / "v2.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    add_lock_entry(folder / LOCK_NAME, f"{PRODUCT}@2", sha, header="", error=InputError)
    ref = f"{PRODUCT}@2" if site is None else f"{PRODUCT}/{site}@2"
    with store.write():
        audit.append(store, actor="insider", action=audit.Action.TREND_FREEZE, object=ref,
                     details={"sha256": sha, "site": site, "baseline_n": document["baseline_n"]})  # fmt: skip
    return path


def _refused(
    data: DataDir, store: Store, path: Path, words: str, *, site: str | None = None
) -> None:
    """Refused by the release's lookup and reported by ``audit verify`` (exit 1)."""
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


def _highest(records: list[dict[str, Any]], attribute: str, count: int) -> set[str]:
    """The lots of ``records`` with the highest values of ``attribute``."""
    ranked = sorted(records, key=lambda r: -_entry(r, attribute)["value"])
    return {r["lot"]["id"] for r in ranked[:count]}


def test_a_favourable_subset_of_real_lots_is_refused_by_the_release(
    data: DataDir, store: Store, frozen: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The three highest lots of the first 20 left out and the 21st-23rd taken instead: every
    listed lot is a real release with its stored value, in series order."""

    def pick(attribute: str) -> Lots:
        dropped = _highest(frozen[:POOLED_N], attribute, 3)
        kept = [r for r in frozen[: POOLED_N + 3] if r["lot"]["id"] not in dropped]
        return [_entry(r, attribute) for r in kept]

    path = _forge_v2(data, store, pick)
    first = min(_highest(frozen[:POOLED_N], CAR, 3))  # CAR is the version's first attribute
    _refused(data, store, path, f"leaves out lot {first!r}")
    _refused(data, store, path, "before this version's freeze")
    out = tmp_path / "out"  # the release itself: exit 2 naming the file, no record written
    result = invoke(["release", str(SAMPLE_LOT), "--out", str(out), "--data-dir", str(data.root)])
    assert f"leaves out lot {first!r}" in assert_bad_input(result, path)
    assert not (out / "result.json").exists()


def test_a_window_that_skips_the_first_lots_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    """Lots 3-22: the series' first lots left out (the freeze has no later start)."""
    path = _forge_v2(data, store, lambda a: [_entry(r, a) for r in frozen[3 : POOLED_N + 3]])
    _refused(data, store, path, "leaves out lot 'lot-S000'")


def test_a_sites_favourable_subset_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]]
) -> None:
    own = [r for r in frozen if r["lot"]["site"] == "site-1"]

    def pick(attribute: str) -> Lots:
        dropped = _highest(own[:SITE_N], attribute, 2)
        kept = [r for r in own[: SITE_N + 2] if r["lot"]["id"] not in dropped]
        return [_entry(r, attribute) for r in kept]

    path = _forge_v2(data, store, pick, site="site-1")
    first = min(_highest(own[:SITE_N], CAR, 2))
    _refused(data, store, path, f"leaves out lot {first!r}", site="site-1")
    assert current_baseline(data.root, PRODUCT, store, "site-2") is not None  # untouched


def test_an_older_release_of_a_re_released_lot_is_refused(
    data: DataDir, store: Store, frozen: list[dict[str, Any]], tmp_path: Path
) -> None:
    """lot-S005 released again (another value) after v1; a v2 that keeps v1's lots lists the
    release the dataset had replaced before that v2's freeze row."""
    again = copy.deepcopy(frozen[5])
    again["created_at"] = "2026-06-01T12:00:00Z"
    for m in again["measurements"]:
        m["value"] = float(m["value"]) + 4.0
    _import(data, tmp_path / "again", [again])
    assert current_baseline(data.root, PRODUCT, store) is not None  # v1 was frozen before it
    path = _forge_v2(data, store, lambda a: [_entry(r, a) for r in frozen[:POOLED_N]])
    _refused(data, store, path, f"later release of it, record {content_sha256(again)[:16]}")


def test_the_honest_path_verifies_and_releases(
    data: DataDir, store: Store, frozen: list[dict[str, Any]], tmp_path: Path
) -> None:
    pooled = current_baseline(data.root, PRODUCT, store)
    assert pooled is not None and pooled.version == 1
    assert [lot["lot"] for lot in pooled.attributes()[0]["lots"]] == [
        r["lot"]["id"] for r in frozen[:POOLED_N]
    ]
    _verifies(data, versions=3)
    out = tmp_path / "out"
    result = invoke(["release", str(SAMPLE_LOT), "--out", str(out), "--data-dir", str(data.root)])
    assert result.exit_code in (0, 1), result.stderr
    record = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert record["out_of_trend"]["baseline"]["sha256"] == pooled.sha256
    # a second honest freeze (pooled: the released lot names no site), after the release's
    # render row stored its lot: the same first 20 lots
    report = trend_from_data(data.root, (CAR, VIABILITY), product=PRODUCT, baseline=POOLED_N)
    (v2,) = freeze_from_data(data.root, report, product=PRODUCT, actor=os_user())
    assert v2.attributes()[0]["lots"] == pooled.attributes()[0]["lots"]
    _verifies(data, versions=4)


def test_an_early_dated_lot_imported_after_the_freeze_leaves_it_in_force(
    data: DataDir, store: Store, frozen: list[dict[str, Any]], tmp_path: Path
) -> None:
    """An older lot brought in after v1, dated before every baseline lot: the first of the
    series now, and no lot v1 left out. A freeze now takes it first."""
    early = copy.deepcopy(frozen[0])
    early["lot"]["id"], early["lot"]["manufacturing_date"] = "lot-E001", "2024-12-01"
    early["created_at"] = "2024-12-01T12:00:00Z"
    _import(data, tmp_path / "early", [early])
    for site in (None, "site-1"):
        baseline = current_baseline(data.root, PRODUCT, store, site)
        assert baseline is not None and baseline.version == 1
    _verifies(data, versions=3)
    report = trend_from_data(data.root, (CAR, VIABILITY), product=PRODUCT, baseline=POOLED_N)
    (v2,) = freeze_from_data(data.root, report, product=PRODUCT, actor=os_user())
    assert v2.document["attributes"][0]["lots"][0]["lot"] == "lot-E001"
    _verifies(data, versions=4)


def test_hosts_clocks_far_off_decide_nothing(data: DataDir, store: Store, tmp_path: Path) -> None:
    """Each lot stored by a host whose clock is years off either way (stored_at and the
    trail's times out of order), then an early-dated lot by a host whose clock reads before
    all of them: the honest baseline stays in force; a favourable subset is still refused."""
    records = _records(tmp_path)
    rng = random.Random(5)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for record in records:
        _store_on_host(store, record, now + timedelta(days=rng.uniform(-900, 900)))
    _freeze(data)
    early = copy.deepcopy(records[1])
    early["lot"]["id"], early["lot"]["manufacturing_date"] = "lot-E002", "2024-12-02"
    _store_on_host(store, early, datetime(2000, 1, 1, tzinfo=UTC))
    _verifies(data, versions=3)

    def pick(attribute: str) -> Lots:  # the early lot first, as a freeze now would
        kept = [early, *(r for i, r in enumerate(records[:POOLED_N]) if i != 7)]
        return [_entry(r, attribute) for r in kept]

    path = _forge_v2(data, store, pick)
    _refused(data, store, path, "leaves out lot 'lot-S007'")
