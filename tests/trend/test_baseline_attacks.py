"""A hostile insider against the frozen trend baselines: every change to the baselines folder
that would let a release be judged against other limits (or none) refuses the release, exit 2
naming the file, and fails ``audit verify``, exit 1 naming it.

The insider may write any file of the data folder, and (the worst case) append well-formed rows
to the audit trail through the project's own code; the trail's chain stays intact then, so the
checks below are what stands between the edit and the release.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cytorelease.lot.dataset import store_results
from cytorelease.lot.release import release_lot
from cytorelease.provenance import content_sha256
from cytorelease.records import audit
from cytorelease.records.store import open_data
from tests.cli_contract import SAMPLE_LOT, assert_bad_input, invoke, one_json_document

CAR, VIABILITY = "flow.car_pct_of_viable_cd3", "flow.viability_pct_of_cd45"
PRODUCT = "cd19-car-t"


@pytest.fixture(scope="module")
def frozen_twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with 40 earlier lots of the product (30 at each of two sites for the
    site baselines' sake) and versions 1 and 2 of the pooled baseline, 1 of each site's."""
    root = tmp_path_factory.mktemp("attacks")
    plain = release_lot(SAMPLE_LOT, out=root / "plain").record
    data = root / "data"
    rng = random.Random(3)
    _, store = open_data(data)
    with store, store.write():
        for i in range(40):
            record = copy.deepcopy({k: v for k, v in plain.items() if k != "rendering"})
            record["lot"]["id"] = f"lot-A{i:03d}"
            record["lot"]["site"] = ("site-1", "site-2")[i % 2]
            day = date(2026, 1, 1) + timedelta(days=i)
            record["lot"]["manufacturing_date"] = day.isoformat()
            for m in record["measurements"]:
                if m["attribute"] in (CAR, VIABILITY):
                    m["value"] = round(rng.gauss(float(m["value"]), 1), 3)
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                          checked_against="none")  # fmt: skip
    for extra in ([], ["--baseline", "25"], ["--by-site", "--baseline", "15"]):
        result = invoke(["trend", CAR, VIABILITY, "--data-dir", str(data), "--product", PRODUCT,
                         "--freeze", *extra])  # fmt: skip
        assert result.exit_code == 0, result.stderr
    return data


@pytest.fixture
def data(frozen_twice: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(frozen_twice, tmp_path / "data"))


def _folder(data: Path, site: str | None = None) -> Path:
    folder = data / "baselines" / PRODUCT
    return folder if site is None else folder / "sites" / site


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _relock(folder: Path, version: int, document: dict[str, Any]) -> None:
    """Write the document and put its hash in the LOCK by hand, as an insider would."""
    (folder / f"v{version}.json").write_text(json.dumps(document), encoding="utf-8")
    lines = [
        f"{PRODUCT}@{version} {content_sha256(document)}" if line.startswith(f"{PRODUCT}@{version} ")
        else line
        for line in (folder / "LOCK").read_text(encoding="utf-8").splitlines()
    ]  # fmt: skip
    (folder / "LOCK").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _forge_trail(data: Path, ref: str, document: dict[str, Any]) -> None:
    """A trend-freeze row appended through the project's code: the chain stays intact."""
    _, store = open_data(data)
    with store, store.write():
        audit.append(store, actor="insider", action=audit.Action.TREND_FREEZE, object=ref,
                     details={"sha256": content_sha256(document)})  # fmt: skip


def _refused(data: Path, tmp_path: Path, path: Path, words: str, *, lot: Path = SAMPLE_LOT) -> None:
    out = tmp_path / "out"
    result = invoke(["release", str(lot), "--out", str(out), "--data-dir", str(data)])
    line = assert_bad_input(result, path)
    assert words in line, line
    assert not (out / "result.json").exists()
    verify = invoke(["audit", "verify", "--data-dir", str(data), "--json"])
    assert verify.exit_code == 1, verify.stdout + verify.stderr
    problems = one_json_document(verify.stdout)["trend_baselines"]["problems"]
    assert any(str(path) in p and words in p for p in problems), problems


def test_the_untouched_folder_releases_and_verifies(data: Path, tmp_path: Path) -> None:
    result = invoke(["release", str(SAMPLE_LOT), "--out", str(tmp_path / "o"), "--data-dir",
                     str(data), "--json"])  # fmt: skip
    assert result.exit_code in (0, 1), result.stderr
    record = _load(tmp_path / "o" / "result.json")
    assert record["out_of_trend"]["baseline"]["version"] == 2
    verify = invoke(["audit", "verify", "--data-dir", str(data), "--json"])
    assert verify.exit_code == 0, verify.stderr
    assert one_json_document(verify.stdout)["trend_baselines"] == {"versions": 4, "problems": []}


def test_v1_with_edited_limits_relocked_by_hand(data: Path, tmp_path: Path) -> None:
    folder = _folder(data)
    document = _load(folder / "v1.json")
    document["attributes"][0]["ucl"] += 50.0
    _relock(folder, 1, document)  # v2 is in force; v1 was rewritten under it
    _refused(data, tmp_path, folder / "v1.json", "limits were changed")


def test_edited_limits_with_their_lots_relocked_and_a_forged_trail_row(
    data: Path, tmp_path: Path
) -> None:
    """Limits consistent with the lots, the LOCK and a trail row: the chain to v2 still holds
    the original v1's hash."""
    folder = _folder(data)
    document = _load(folder / "v1.json")
    for entry in document["attributes"]:
        shift = 30.0
        for lot in entry["lots"]:
            lot["value"] += shift
        for key in ("center", "ucl", "lcl"):
            entry[key] += shift
    _relock(folder, 1, document)
    _forge_trail(data, f"{PRODUCT}@1", document)
    _refused(data, tmp_path, folder / "v2.json", "as superseded")


def test_the_newest_version_deleted_with_its_lock_line(data: Path, tmp_path: Path) -> None:
    folder = _folder(data)
    (folder / "v2.json").unlink()
    lines = (folder / "LOCK").read_text(encoding="utf-8").splitlines()
    (folder / "LOCK").write_text(lines[0] + "\n", encoding="utf-8")
    _refused(data, tmp_path, folder / "LOCK", f"records the freeze of {PRODUCT}@2")


def test_an_older_version_deleted_with_its_lock_line(data: Path, tmp_path: Path) -> None:
    folder = _folder(data)
    (folder / "v1.json").unlink()
    lines = (folder / "LOCK").read_text(encoding="utf-8").splitlines()
    (folder / "LOCK").write_text(lines[1] + "\n", encoding="utf-8")
    _refused(data, tmp_path, folder / "LOCK", "version 1")


def test_the_whole_folder_deleted(data: Path, tmp_path: Path) -> None:
    shutil.rmtree(_folder(data))
    _refused(data, tmp_path, _folder(data) / "LOCK", "holds no version of it")


def test_a_v3_that_names_no_supersedes(data: Path, tmp_path: Path) -> None:
    folder = _folder(data)
    document = _load(folder / "v2.json")
    document["version"], document["supersedes"] = 3, None
    document["attributes"] = document["attributes"][:1]  # drop viability from the review
    (folder / "v3.json").write_text(json.dumps(document), encoding="utf-8")
    with (folder / "LOCK").open("a", encoding="utf-8") as lock:
        lock.write(f"{PRODUCT}@3 {content_sha256(document)}\n")
    _forge_trail(data, f"{PRODUCT}@3", document)
    _refused(data, tmp_path, folder / "v3.json", "as superseded")


@pytest.mark.parametrize(
    ("field", "text", "words"),
    [
        ("ucl", "NaN", "NaN is not a number"),
        ("lcl", "-Infinity", "-Infinity is not a number"),
        ("ucl", "1e999", "not a finite number"),
        ("n", "NaN", "NaN is not a number"),
    ],
)
def test_a_baseline_with_a_number_that_is_none(
    data: Path, tmp_path: Path, field: str, text: str, words: str
) -> None:
    folder = _folder(data)
    document = _load(folder / "v2.json")
    document["attributes"][0][field] = "@@"
    (folder / "v2.json").write_text(json.dumps(document).replace('"@@"', text), encoding="utf-8")
    _refused(data, tmp_path, folder / "v2.json", words)


def test_an_infinite_n_relocked_is_no_count(data: Path, tmp_path: Path) -> None:
    folder = _folder(data)
    document = _load(folder / "v2.json")
    document["attributes"][0]["n"] = 2.5
    _relock(folder, 2, document)
    _forge_trail(data, f"{PRODUCT}@2", document)
    _refused(data, tmp_path, folder / "v2.json", "is not the baseline's 25 lots")


def test_another_products_baseline_copied_over(data: Path, tmp_path: Path) -> None:
    """The other product's folder copied in, its LOCK lines renamed, its document relabelled
    and relocked: each step is refused."""
    folder = _folder(data)
    other = _load(folder / "v2.json")
    other["product"] = other["id"] = "other-product"
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "v1.json").write_text(json.dumps(other), encoding="utf-8")
    (folder / "LOCK").write_text(f"other-product@1 {content_sha256(other)}\n", encoding="utf-8")
    _refused(data, tmp_path, folder / "LOCK", "not a version of 'cd19-car-t'")
    lines = []
    for version in (1, 2):  # as many versions as the trail records, so none looks removed
        other["version"] = version
        (folder / f"v{version}.json").write_text(json.dumps(other), encoding="utf-8")
        lines.append(f"{PRODUCT}@{version} {content_sha256(other)}\n")
    (folder / "LOCK").write_text("".join(lines), encoding="utf-8")
    _refused(data, tmp_path, folder / "v1.json", "another product's baseline")


def test_one_sites_baseline_copied_over_anothers(data: Path, tmp_path: Path) -> None:
    lot = tmp_path / "lot"
    shutil.copytree(SAMPLE_LOT, lot)
    manifest = lot / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("spec: cd19-car-t@2\n", "spec: cd19-car-t@2\nsite: site-2\n"),
                        encoding="utf-8")  # fmt: skip
    one, two = _folder(data, "site-1"), _folder(data, "site-2")
    shutil.rmtree(two)
    shutil.copytree(one, two)
    _refused(data, tmp_path, two / "v1.json", "copied from elsewhere", lot=lot)
