"""Per-site trend baselines: ``trend --by-site --freeze`` freezes one baseline per site, and a
release is judged against its own site's baseline when one is frozen, else the pooled one.

The history is the sample lot's release record copied to earlier lots at two sites, stored as
``lots import`` stores records; the new lot is a real release of the sample lot with a site
named in its lot.yaml.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import shutil
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cytorelease.lot.dataset import store_results
from cytorelease.lot.release import release_lot
from cytorelease.provenance import content_sha256
from cytorelease.records import audit
from cytorelease.records.store import open_data
from cytorelease.report.record import extract_record
from tests.cli_contract import SAMPLE_LOT, invoke, one_json_document

CAR, VIABILITY = "flow.car_pct_of_viable_cd3", "flow.viability_pct_of_cd45"
PRODUCT = "cd19-car-t"
SITES = ("Leiden GMP-2", "Site-B")  # a space in a site name: a folder name all the same


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("plain") / "release"
    return release_lot(SAMPLE_LOT, out=out).record


def _value(record: dict[str, Any], attribute: str) -> float:
    return float(next(m["value"] for m in record["measurements"] if m["attribute"] == attribute))


def _history(data: Path, plain: dict[str, Any], offsets: dict[str, float]) -> list:
    """30 lots per site, alternating: CAR+ drawn (sd 1) around the sample lot's value plus the
    site's offset; viability around its own value at both."""
    rng = random.Random(11)
    records = []
    for i in range(60):
        site = SITES[i % 2]
        record = copy.deepcopy({k: v for k, v in plain.items() if k != "rendering"})
        record["lot"]["id"] = f"lot-S{i:03d}"
        record["lot"]["site"] = site
        record["lot"]["manufacturing_date"] = (date(2026, 1, 1) + timedelta(days=2 * i)).isoformat()
        for m in record["measurements"]:
            if m["attribute"] == CAR:
                m["value"] = round(rng.gauss(_value(plain, CAR) + offsets[site], 1), 3)
            elif m["attribute"] == VIABILITY:
                m["value"] = round(rng.gauss(_value(plain, VIABILITY), 1), 3)
        records.append(record)
    _, store = open_data(data)
    with store, store.write():
        for record in records:
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                          checked_against="none")  # fmt: skip
    return records


def _freeze(data: Path, *extra: str) -> dict[str, Any]:
    result = invoke(["trend", CAR, VIABILITY, "--data-dir", str(data), "--product", PRODUCT,
                     "--freeze", "--json", *extra])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return one_json_document(result.stdout)


def _lot_at(tmp_path: Path, site: str | None) -> Path:
    lot = tmp_path / f"lot-{site or 'none'}".replace(" ", "_")
    shutil.copytree(SAMPLE_LOT, lot)
    if site is not None:
        manifest = lot / "lot.yaml"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("spec: cd19-car-t@2\n", f"spec: cd19-car-t@2\nsite: {site}\n"),
                            encoding="utf-8")  # fmt: skip
    return lot


def _release(lot: Path, data: Path, out: Path) -> tuple[dict[str, Any], str]:
    result = invoke(["release", str(lot), "--out", str(out), "--data-dir", str(data), "--json"])
    assert result.exit_code in (0, 1), result.stderr
    record = json.loads((out / "result.json").read_text(encoding="utf-8"))
    page = (out / f"coa-{record['lot']['id']}.html").read_text(encoding="utf-8")
    return record, page


def test_by_site_freeze_writes_one_locked_baseline_per_site(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    records = _history(data, plain, {SITES[0]: 0.0, SITES[1]: 5.0})
    document = _freeze(data, "--by-site")
    frozen = document["frozen_baselines"]
    assert [(f["scope"], f["site"], f["version"]) for f in frozen] == [
        ("site", SITES[0], 1), ("site", SITES[1], 1)
    ]  # fmt: skip
    assert not (data / "baselines" / PRODUCT / "LOCK").exists()  # no pooled baseline
    _, store = open_data(data)
    with store:
        rows = audit.entries_of(store, audit.Action.TREND_FREEZE)
    assert [r.object for r in rows] == [f"{PRODUCT}/{s}@1" for s in SITES]
    for site, entry in zip(SITES, frozen, strict=True):
        folder = data / "baselines" / PRODUCT / "sites" / site
        saved = json.loads((folder / "v1.json").read_text(encoding="utf-8"))
        assert saved["site"] == site and content_sha256(saved) == entry["sha256"]
        assert (folder / "LOCK").read_text(encoding="utf-8") == f"{PRODUCT}@1 {entry['sha256']}\n"
        # the site's limits are those of the site's own first 20 lots, computed here
        own = [r for r in records if r["lot"]["site"] == site][:20]
        values = [_value(r, CAR) for r in own]
        centre = statistics.fmean(values)
        mr_bar = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values))
        car = next(a for a in saved["attributes"] if a["attribute"] == CAR)
        assert car["center"] == pytest.approx(centre, rel=1e-12)
        assert car["ucl"] == pytest.approx(centre + 2.66 * mr_bar, rel=1e-12)
        assert [lot["lot"] for lot in car["lots"]] == [r["lot"]["id"] for r in own]
        row = next(r for r in rows if r.object == f"{PRODUCT}/{site}@1")
        assert row.details["sha256"] == entry["sha256"] and row.details["site"] == site
    # freezing again: each site's version 2, superseding its own version 1
    again = _freeze(data, "--by-site", "--baseline", "25")["frozen_baselines"]
    assert [(f["site"], f["version"]) for f in again] == [(SITES[0], 2), (SITES[1], 2)]
    v2 = json.loads((data / "baselines" / PRODUCT / "sites" / SITES[1] / "v2.json").read_text())
    assert v2["supersedes"] == {"version": 1, "sha256": frozen[1]["sha256"]}


def test_a_release_is_judged_against_its_sites_baseline(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # site 1's CAR+ far below the new lot, site 2's far above: the new lot at site 1 is out of
    # its site's trend, while against the pooled chart (alternating sites: wide limits) it is not
    records = _history(data, plain, {SITES[0]: -12.0, SITES[1]: 12.0})
    sited = _freeze(data, "--by-site")["frozen_baselines"]
    pooled = _freeze(data)["frozen_baseline"]
    record, page = _release(_lot_at(tmp_path, SITES[0]), data, tmp_path / "out-1")
    block = record["out_of_trend"]
    assert block["baseline"]["scope"] == "site" and block["baseline"]["site"] == SITES[0]
    assert (block["baseline"]["version"], block["baseline"]["sha256"]) == (1, sited[0]["sha256"])
    assert [f["attribute"] for f in block["flags"]] == [CAR]
    car = next(a for a in block["attributes"] if a["attribute"] == CAR)
    site_lots = {r["lot"]["id"] for r in records if r["lot"]["site"] == SITES[0]}
    assert {p["lot"] for p in car["sparkline"][:-1]} <= site_lots  # its site's lots only
    assert car["previous_lots"] == len(site_lots)
    assert f"{PRODUCT}, site {SITES[0]}, version 1" in page
    assert extract_record(page.encode("utf-8"))["out_of_trend"] == block
    # the lot's site is in the CoA's lot identity block
    assert f'<td class="site">{SITES[0]}</td>' in page
    # a site without a baseline of its own: the pooled one, which says so
    record, page = _release(_lot_at(tmp_path, "Site-C"), data, tmp_path / "out-c")
    baseline = record["out_of_trend"]["baseline"]
    assert (baseline["scope"], baseline["site"], baseline["sha256"]) == (
        "pooled", None, pooled["sha256"]
    )  # fmt: skip
    car = next(a for a in record["out_of_trend"]["attributes"] if a["attribute"] == CAR)
    assert car["previous_lots"] == len(records)  # the pooled chart: every site's lots
    assert 1 not in [r["rule"] for r in car["rules"]]  # within the pooled chart's wide limits
    assert f"{PRODUCT} (pooled, all sites), version 1" in page
    # a lot naming no site: the pooled baseline too, and no site row
    record, page = _release(_lot_at(tmp_path, None), data, tmp_path / "out-none")
    assert record["out_of_trend"]["baseline"]["scope"] == "pooled"
    assert 'class="site"' not in page


def test_a_site_without_a_baseline_and_no_pooled_one_is_null(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _history(data, plain, {SITES[0]: 0.0, SITES[1]: 0.0})
    _freeze(data, "--by-site")
    record, page = _release(_lot_at(tmp_path, "Site-C"), data, tmp_path / "out")
    block = record["out_of_trend"]
    assert block["baseline"] is None and "Site-C" in block["note"]
    assert "Out of trend" not in page
    record, _ = _release(_lot_at(tmp_path, SITES[1]), data, tmp_path / "out-b")
    assert record["out_of_trend"]["baseline"]["site"] == SITES[1]
