"""Out of trend on the CoA (issue 17 item 3): a product's baseline frozen into the data folder,
and a release judged against it, flagged for review without a change of verdict.

The history is the sample lot's own release record copied to 40 earlier lots whose values of
two attributes are drawn around a chosen centre, stored in the lots dataset as ``lots import``
stores records; the new lot is a real release of the sample lot (``release --data-dir``).
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from cytorelease.lot.dataset import store_results
from cytorelease.lot.release import release_lot
from cytorelease.provenance import content_sha256
from cytorelease.records import audit
from cytorelease.records.store import open_data
from cytorelease.report.record import extract_record
from tests.cli_contract import SAMPLE_LOT, assert_bad_input, invoke, one_json_document

CAR, VIABILITY = "flow.car_pct_of_viable_cd3", "flow.viability_pct_of_cd45"
PRODUCT = "cd19-car-t"
HISTORY_LOTS = 40


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample lot's record from a release without a data folder."""
    out = tmp_path_factory.mktemp("plain") / "release"
    return release_lot(SAMPLE_LOT, out=out).record


def _cli(args: list[str | Path]) -> Result:
    return invoke([str(a) for a in args])


def _values(record: dict[str, Any]) -> dict[str, float]:
    return {m["attribute"]: m["value"] for m in record["measurements"]}


def _history(data: Path, plain: dict[str, Any], offsets: dict[str, float], seed: int) -> list:
    """40 earlier lots of the product: each attribute of ``offsets`` drawn (sd 1) around the
    sample lot's value plus its offset. The stored records, oldest first."""
    rng = random.Random(seed)
    values = _values(plain)
    records = []
    for i in range(HISTORY_LOTS):
        record = copy.deepcopy({k: v for k, v in plain.items() if k != "rendering"})
        record["lot"]["id"] = f"lot-H{i:03d}"
        record["lot"]["manufacturing_date"] = (date(2026, 1, 1) + timedelta(days=3 * i)).isoformat()
        for m in record["measurements"]:
            if m["attribute"] in offsets:
                m["value"] = round(
                    rng.gauss(values[m["attribute"]] + offsets[m["attribute"]], 1), 3
                )
        records.append(record)
    _, store = open_data(data)
    with store, store.write():
        for record in records:
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                          checked_against="none")  # fmt: skip
    return records


def _freeze(data: Path, *extra: str) -> dict[str, Any]:
    result = _cli(["trend", CAR, VIABILITY, "--data-dir", data, "--product", PRODUCT,
                     "--freeze", "--json", *extra])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return one_json_document(result.stdout)


def _release(data: Path, out: Path) -> tuple[int, dict[str, Any], str]:
    result = _cli(["release", SAMPLE_LOT, "--out", out, "--data-dir", data, "--json"])
    assert result.exit_code in (0, 1), result.stderr
    record = json.loads((out / "result.json").read_text(encoding="utf-8"))
    page = (out / f"coa-{record['lot']['id']}.html").read_text(encoding="utf-8")
    summary = one_json_document(result.stdout)  # the command's --json names the flags too
    assert summary.get("out_of_trend", {}).get("flags") == record["out_of_trend"]["flags"]
    return result.exit_code, record, page


def _limits(values: list[float]) -> tuple[float, float, float]:
    """Centre, LCL, UCL of an I-MR baseline, computed here from the values alone."""
    centre = statistics.fmean(values)
    mr_bar = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values))
    return centre, centre - 2.66 * mr_bar, centre + 2.66 * mr_bar


def test_freeze_writes_a_locked_version_and_never_overwrites_one(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    records = _history(data, plain, {CAR: 0.0, VIABILITY: 0.0}, seed=1)
    frozen = _freeze(data)["frozen_baseline"]
    folder = data / "baselines" / PRODUCT
    document = json.loads((folder / "v1.json").read_text(encoding="utf-8"))
    assert frozen["version"] == 1 and frozen["sha256"] == content_sha256(document)
    assert (folder / "LOCK").read_text(encoding="utf-8") == f"{PRODUCT}@1 {frozen['sha256']}\n"
    by_attribute = {a["attribute"]: a for a in document["attributes"]}
    for attribute in (CAR, VIABILITY):
        first = [next(m["value"] for m in r["measurements"] if m["attribute"] == attribute)
                 for r in records[:20]]  # fmt: skip
        centre, lcl, ucl = _limits(first)
        entry = by_attribute[attribute]
        assert entry["center"] == pytest.approx(centre, rel=1e-12)
        assert (entry["lcl"], entry["ucl"]) == pytest.approx((lcl, ucl), rel=1e-12)
        assert [lot["lot"] for lot in entry["lots"]] == [r["lot"]["id"] for r in records[:20]]
        assert [lot["record_sha256"] for lot in entry["lots"]] == [
            content_sha256(r) for r in records[:20]
        ]
    _, store = open_data(data)
    with store:
        (row,) = audit.entries_of(store, audit.Action.TREND_FREEZE)
    assert row.object == f"{PRODUCT}@1" and row.details["sha256"] == frozen["sha256"]
    assert row.actor == document["frozen_by"] == audit.os_user()
    # freezing again is a new version naming the one it supersedes; v1 keeps its bytes
    before = (folder / "v1.json").read_bytes()
    second = _freeze(data, "--baseline", "25")["frozen_baseline"]
    assert second["version"] == 2 and (folder / "v1.json").read_bytes() == before
    newer = json.loads((folder / "v2.json").read_text(encoding="utf-8"))
    assert newer["supersedes"] == {"version": 1, "sha256": frozen["sha256"]}
    assert len((folder / "LOCK").read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize("args", [["--freeze"], ["--freeze", "--by-site"]])  # no --product
def test_freeze_needs_a_product_of_the_data_folder(args: list[str], tmp_path: Path) -> None:
    result = _cli(["trend", CAR, "--data-dir", tmp_path, *args])
    assert result.exit_code == 2 and "--freeze needs --data-dir and --product" in result.stderr
    assert not (tmp_path / "baselines").exists()


def test_an_out_of_trend_value_is_a_review_flag_and_the_verdict_stays(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # CAR+ history 12 sd below the new lot's value: far beyond the frozen UCL; viability around it
    records = _history(data, plain, {CAR: -12.0, VIABILITY: 0.0}, seed=2)
    frozen = _freeze(data)["frozen_baseline"]
    code, record, page = _release(data, tmp_path / "out")
    block = record["out_of_trend"]
    assert block["baseline"]["sha256"] == frozen["sha256"] and block["baseline"]["version"] == 1
    assert [f["attribute"] for f in block["flags"]] == [CAR]
    assert all(f["flag"] == "OUT_OF_TREND" for f in block["flags"])
    car = next(a for a in block["attributes"] if a["attribute"] == CAR)
    assert car["status"] == "out_of_trend"
    first = [next(m["value"] for m in r["measurements"] if m["attribute"] == CAR)
             for r in records[:20]]  # fmt: skip
    assert car["value"] > _limits(first)[2]  # planted above the UCL computed here
    assert 1 in [r["rule"] for r in car["rules"]]
    assert all("lot-CAR-0001" in r["lots"] for r in car["rules"])
    assert len(car["sparkline"]) == 30 and car["sparkline"][-1]["lot"] == "lot-CAR-0001"
    assert [p["lot"] for p in car["sparkline"][:-1]] == [r["lot"]["id"] for r in records[-29:]]
    viability = next(a for a in block["attributes"] if a["attribute"] == VIABILITY)
    assert viability["status"] == "in_trend" and viability["rules"] == []
    # a review flag: the evaluation, verdicts and disposition are those of a plain release
    assert record["evaluation"] == plain["evaluation"]
    assert code == (0 if plain["evaluation"]["disposition"] == "PASS" else 1)
    # on the page, and in the record the page embeds (what sign and verify hash)
    assert "Out of trend (review)" in page and "OUT_OF_TREND" in page
    assert page.count('class="oot-spark"') == 1
    assert extract_record(page.encode("utf-8"))["out_of_trend"] == block


def test_an_in_trend_lot_has_no_flag(plain: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "data"
    _history(data, plain, {CAR: 0.0, VIABILITY: 0.0}, seed=5)
    _freeze(data)
    _, record, page = _release(data, tmp_path / "out")
    block = record["out_of_trend"]
    assert block["flags"] == []
    assert {a["status"] for a in block["attributes"]} == {"in_trend"}
    assert "No attribute is out of trend." in page and "OUT_OF_TREND" not in page


def test_without_a_baseline_the_record_says_so_and_the_page_nothing(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _history(data, plain, {CAR: 0.0}, seed=3)
    _, record, page = _release(data, tmp_path / "out")
    assert record["out_of_trend"]["baseline"] is None
    assert PRODUCT in record["out_of_trend"]["note"]
    assert "out-of-trend" not in page and "Out of trend" not in page
    # a release without a data folder is not checked at all: no block
    assert "out_of_trend" not in plain


def test_a_tampered_baseline_is_refused(plain: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "data"
    _history(data, plain, {CAR: -12.0, VIABILITY: 0.0}, seed=4)
    _freeze(data)
    path = data / "baselines" / PRODUCT / "v1.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["attributes"][0]["ucl"] += 50.0  # widen the limits so nothing is out of trend
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    result = _cli(["release", SAMPLE_LOT, "--out", tmp_path / "out", "--data-dir", data])
    line = assert_bad_input(result, path)
    assert "content hash" in line
    assert not (tmp_path / "out" / "result.json").exists()
    # nor is a new version frozen over it (it would name a changed baseline as superseded)
    again = _cli(["trend", CAR, VIABILITY, "--data-dir", data, "--product", PRODUCT, "--freeze"])
    assert "content hash" in assert_bad_input(again, path)
    assert not (path.parent / "v2.json").exists()


def test_a_baseline_the_trail_does_not_vouch_for_is_refused(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    from cytorelease.errors import InputError
    from cytorelease.trend.frozen import current_baseline

    data = tmp_path / "data"
    _history(data, plain, {CAR: 0.0, VIABILITY: 0.0}, seed=6)
    _freeze(data)
    folder = data / "baselines" / PRODUCT
    _, store = open_data(data)
    with store:
        assert current_baseline(data, PRODUCT, store) is not None
        # document and LOCK rewritten together: consistent, but no freeze wrote them
        document = json.loads((folder / "v1.json").read_text(encoding="utf-8"))
        document["frozen_by"] = (
            "someone-else"  # (a changed limit: tests/trend/test_baseline_attacks)
        )
        (folder / "v1.json").write_text(json.dumps(document), encoding="utf-8")
        (folder / "LOCK").write_text(f"{PRODUCT}@1 {content_sha256(document)}\n", "utf-8")
        with pytest.raises(InputError, match="audit trail records no freeze"):
            current_baseline(data, PRODUCT, store)
        # a version file no LOCK line lists
        (folder / "v2.json").write_text("{}", encoding="utf-8")
        with pytest.raises(InputError, match="not a version the LOCK lists"):
            current_baseline(data, PRODUCT, store)


def test_a_baseline_that_is_no_regular_file_is_refused_unread(
    plain: dict[str, Any], tmp_path: Path
) -> None:
    import os

    from cytorelease.errors import InputError
    from cytorelease.trend.frozen import current_baseline

    data = tmp_path / "data"
    _history(data, plain, {CAR: 0.0, VIABILITY: 0.0}, seed=8)
    _freeze(data)
    path = data / "baselines" / PRODUCT / "v1.json"
    path.unlink()
    os.mkfifo(path)  # a pipe nobody writes to: opening it must not wait
    _, store = open_data(data)
    with store, pytest.raises(InputError, match="not a regular file"):
        current_baseline(data, PRODUCT, store)
