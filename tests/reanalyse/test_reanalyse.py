"""`reanalyse` on a data folder of released lots: what a proposed version would have said."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cytorelease._resources import resource_dir
from cytorelease.reanalyse.change import resolve_change
from cytorelease.reanalyse.executors import SerialExecutor
from cytorelease.reanalyse.run import reanalyse
from cytorelease.records.archive import archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store

from .conftest import SEEDS

LOTS = sorted(f"lot-CAR-{seed:04d}" for seed in SEEDS)
PANEL = "cd19-car-t-panel"
CAR_GATE = "    marker: car\n    percentile: 99.5\n"
CAR = "flow.car_pct_of_viable_cd3"


def template_copy(tmp_path: Path, replacement: str, name: str = "panel-draft.yaml") -> Path:
    """The bundled panel with its CAR gate edited: a draft the library's LOCK does not hold."""
    text = (resource_dir("gating") / f"{PANEL}.yaml").read_text(encoding="utf-8")
    assert CAR_GATE in text
    path = tmp_path / name
    path.write_text(text.replace(CAR_GATE, replacement), encoding="utf-8")
    return path


# the threshold from this tube's own CD3+ cells instead of the FMO: nearly every CAR+ cell
# falls below it, so CAR expression fails its limit
STRICT = "    marker: car\n    percentile: 99.5\n    reference: cd3\n"


def run(data: DataDir, product: str | None = None, **change: str) -> dict:
    store = open_store(data, url="")
    with store:
        outcome = reanalyse(
            data, store, resolve_change(**change), SerialExecutor(), product=product
        )
        return outcome.to_dict()


def test_the_released_template_changes_nothing(data: DataDir) -> None:
    result = run(data, template=PANEL)
    assert set(result) == {
        "change", "change_sha256", "lots", "reanalysed", "skipped", "failed", "flips", "changes"
    }  # fmt: skip
    assert (result["lots"], result["reanalysed"], result["skipped"]) == (3, 3, 0)
    assert result["failed"] == [] and result["flips"] == []
    car = result["changes"]["flow.car_pct_of_viable_cd3"]
    assert car["n"] == 3 and car["max"] == 0.0


def test_a_stricter_car_gate_flips_every_lot(data: DataDir, tmp_path: Path) -> None:
    result = run(data, template=str(template_copy(tmp_path, STRICT)))
    assert [f["lot"] for f in result["flips"]] == LOTS
    for flip in result["flips"]:
        assert flip["from"] == "INCOMPLETE" and flip["to"] == "FAIL"
        assert "car-expression" in flip["criteria"]
    car = result["changes"]["flow.car_pct_of_viable_cd3"]
    assert car["n"] == 3 and car["mean"] > 10


def test_a_second_run_skips_every_lot(data: DataDir, tmp_path: Path) -> None:
    draft = str(template_copy(tmp_path, STRICT))
    first = run(data, template=draft)
    again = run(data, template=draft)
    assert (again["reanalysed"], again["skipped"]) == (0, 3)
    # the summary is read from the stored records: the same as the run that made them
    assert again["flips"] == first["flips"] and again["changes"] == first["changes"]
    store = open_store(data, url="")
    with store:
        assert store.scalar("SELECT COUNT(*) FROM whatif_results") == 3
        # the released records are untouched
        assert store.scalar("SELECT COUNT(*) FROM releases") == 3
        # each run is one trail row: the change, the lots, what it did and what flipped
        from cytorelease.records.audit import Action, entries_of

        rows = entries_of(store, Action.REANALYSE)
    assert [(r.details["reanalysed"], r.details["skipped"]) for r in rows[-2:]] == [(3, 0), (0, 3)]
    assert rows[-1].details["flips"] == LOTS
    assert rows[-1].details["change"]["template"]["locked"] is False


def test_draft_records_say_they_are_not_for_release(data: DataDir, tmp_path: Path) -> None:
    run(data, template=str(template_copy(tmp_path, STRICT)))
    store = open_store(data, url="")
    with store:
        rows = store.rows("SELECT unlocked, record FROM whatif_results")
    assert rows and all(row["unlocked"] == 1 for row in rows)
    record = json.loads(rows[0]["record"])
    assert record["what_if"] is True and record["change"]["template"]["locked"] is False
    assert any("NOT FOR RELEASE" in line for line in record["not_for_release"])


def test_an_altered_archive_file_fails_that_lot(data: DataDir) -> None:
    store = open_store(data, url="")
    with store:
        row = store.one(
            "SELECT sha256 FROM lot_files WHERE lot = ? AND input_path = 'tube1_stained.fcs'",
            (LOTS[1],),
        )
    assert row is not None
    path = archived_path(data.archive_dir, str(row["sha256"]))
    path.chmod(0o644)
    with open(path, "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x00\x01\x02\x03")
    result = run(data, template=PANEL)
    assert [f["lot"] for f in result["failed"]] == [LOTS[1]]
    assert "altered" in result["failed"][0]["reason"]
    assert result["reanalysed"] == 2


def test_a_spec_change_re_evaluates_only(data: DataDir) -> None:
    result = run(data, spec="cd19-car-t@1")
    assert result["reanalysed"] == 3 and result["failed"] == []
    store = open_store(data, url="")
    with store:
        record = json.loads(str(store.scalar("SELECT record FROM whatif_results LIMIT 1")))
    assert record["reanalysed"] == [] and record["change"]["spec"]["version"] == "1"


def test_nothing_to_reanalyse_under_is_refused(data: DataDir) -> None:
    from cytorelease.errors import InputError

    with pytest.raises(InputError, match="nothing to re-analyse"):
        run(data)


def _kept_manifest(data: DataDir, lot: str) -> Path:
    from cytorelease.records.lots import RELEASED_MANIFEST

    store = open_store(data, url="")
    with store:
        path = store.scalar("SELECT result_path FROM releases WHERE lot = ?", (lot,))
    return Path(str(path)).parent / RELEASED_MANIFEST


def _edit_identity(manifest: Path) -> None:
    text = manifest.read_text(encoding="utf-8")
    edited = re.sub(r"chain_of_identity: \S+", "chain_of_identity: COI-EDITED", text)
    assert edited != text
    manifest.write_text(edited, encoding="utf-8")


def _stored(data: DataDir) -> dict[str, dict]:
    store = open_store(data, url="")
    with store:
        rows = store.rows("SELECT lot, record FROM whatif_results")
    return {str(r["lot"]): json.loads(str(r["record"])) for r in rows}


def test_the_manifest_kept_with_the_release_is_used(data: DataDir) -> None:
    for lot in LOTS:
        assert _kept_manifest(data, lot).is_file()
        _edit_identity(data.lots_dir / lot / "lot.yaml")  # the lot's manifest, edited since
    result = run(data, template=PANEL)
    assert (result["reanalysed"], result["failed"]) == (3, [])
    assert {r["manifest"]["source"] for r in _stored(data).values()} == {"archived"}


def test_a_release_without_a_kept_manifest_is_held_to_its_lot(data: DataDir) -> None:
    for lot in LOTS[:2]:
        _kept_manifest(data, lot).unlink()  # released before manifests were kept
    _edit_identity(data.lots_dir / LOTS[0] / "lot.yaml")
    result = run(data, template=PANEL)
    assert [f["lot"] for f in result["failed"]] == [LOTS[0]]
    assert (
        "the current manifest names chain_of_identity 'COI-EDITED'" in result["failed"][0]["reason"]
    )
    stored = _stored(data)
    assert stored[LOTS[1]]["manifest"]["source"] == "current"
    assert stored[LOTS[2]]["manifest"]["source"] == "archived"


def _record_path(data: DataDir, lot: str) -> Path:
    store = open_store(data, url="")
    with store:
        return Path(str(store.scalar("SELECT result_path FROM releases WHERE lot = ?", (lot,))))


def test_an_edited_released_record_fails_that_lot(data: DataDir) -> None:
    """The record a lot is compared against is read by its task and held to the release row's
    hash: one whose released value was edited is failed, never used as the 'before'."""
    path = _record_path(data, LOTS[0])
    record = json.loads(path.read_text(encoding="utf-8"))
    car = next(m for m in record["measurements"] if m["attribute"] == CAR)
    car["value"] = float(car["value"]) + 1.0
    path.write_text(json.dumps(record, sort_keys=True, indent=2), encoding="utf-8")
    result = run(data, template=PANEL)
    assert [f["lot"] for f in result["failed"]] == [LOTS[0]]
    assert "edited or replaced" in result["failed"][0]["reason"]
    assert result["reanalysed"] == 2 and set(_stored(data)) == set(LOTS[1:])


def test_a_product_is_chosen_by_the_lots_dataset_and_held_to_the_record(data: DataDir) -> None:
    store = open_store(data, url="")
    with store:
        product = str(store.scalar("SELECT product FROM lot_results LIMIT 1"))
    assert run(data, template=PANEL, product="another-product")["lots"] == 0
    # a lots dataset that names the wrong product for a record: the record has the last word
    record = json.loads(_record_path(data, LOTS[2]).read_text(encoding="utf-8"))
    store = open_store(data, url="")
    with store, store.write():  # an insider who can write the database
        store.execute("DROP TRIGGER IF EXISTS lot_results_no_UPDATE")
        store.execute(
            "UPDATE lot_results SET product = 'another-product' WHERE lot = ?", (LOTS[2],)
        )
    assert record["lot"]["product"] == product
    result = run(data, template=PANEL, product="another-product")
    assert result["lots"] == 1 and [f["lot"] for f in result["failed"]] == [LOTS[2]]
    assert "names product 'another-product' for this record" in result["failed"][0]["reason"]
    kept = run(data, template=PANEL, product=product)
    assert (kept["lots"], kept["reanalysed"]) == (2, 2)


def test_a_release_the_lots_dataset_lacks_is_chosen_by_its_record(data: DataDir) -> None:
    record = json.loads(_record_path(data, LOTS[0]).read_text(encoding="utf-8"))
    store = open_store(data, url="")
    with store, store.write():  # a release stored before the lots dataset was kept
        store.execute("DROP TRIGGER IF EXISTS lot_results_no_DELETE")
        store.execute("DELETE FROM lot_results WHERE lot = ?", (LOTS[0],))
    result = run(data, template=PANEL, product=record["lot"]["product"])
    assert (result["lots"], result["reanalysed"], result["failed"]) == (3, 3, [])
