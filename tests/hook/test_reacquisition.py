"""Re-acquisition of a tube (issue 13 item 6): a new version of that input, never a release on
its own.

The attack as found: re-acquiring the stained and FMO tubes of a released lot gave two more
service-signed PASS releases, one combining the new stained tube with the old FMO. Here the
instrument sends a second acquisition of a tube (a valid FCS file with the same routing
keywords and other events, as a re-acquisition is); the worker records it, releases nothing,
holds a release item that says ``re-acquired: release needs review`` and names which
acquisition of each tube it would use; only a person's retry releases, on exactly those files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease.hook.hook import hook_file
from cytorelease.hook.worker import run_worker
from cytorelease.provenance import file_sha256
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import retry
from cytorelease.records.store import Store

from .conftest import ready_service

TUBES = ("tube1_stained.fcs", "tube2_fmo_car.fcs")


def _send(data: DataDir, store: Store, source: Path, folder: Path, name: str) -> str:
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    hook_file(data, store, target, instrument="FACS-01", stable_seconds=0.01)
    return file_sha256(source)


def _reacquired(tube: Path, out: Path) -> Path:
    """The tube acquired again: the same TEXT (so the same lot and input), other event bytes."""
    raw = bytearray(tube.read_bytes())
    data_start, data_end = int(raw[26:34]), int(raw[34:42])
    middle = (data_start + data_end) // 2
    raw[middle] ^= 0x01  # one low mantissa bit of one event value: a valid, different tube
    out.write_bytes(bytes(raw))
    return out


def _release_items(store: Store) -> list[dict[str, object]]:
    import json

    return [
        {**dict(row), "payload": json.loads(row["payload"])}
        for row in store.rows("SELECT * FROM queue WHERE kind = 'release' ORDER BY id")
    ]


def _first_acquisitions(
    data: DataDir, store: Store, lot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The service key in place, the lot's manifest installed, both tubes hooked once."""
    ready_service(data, lot_dir, monkeypatch)
    return {
        tube: _send(data, store, lot_dir / tube, tmp_path / "acq1", f"a-{tube}") for tube in TUBES
    }


@pytest.fixture
def released(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    first = _first_acquisitions(data, store, small_lots[11], tmp_path, monkeypatch)
    report = run_worker(data, store, once=True)
    assert len(report.releases) == 1
    return first


def test_a_reacquired_tube_is_recorded_and_holds_a_release_for_review(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    released: dict[str, str],
) -> None:
    new = _reacquired(small_lots[11] / TUBES[0], tmp_path / "again.fcs")
    new_sha = _send(data, store, new, tmp_path / "acq2", "b-tube1_stained.fcs")
    report = run_worker(data, store, once=True)

    assert report.releases == []  # nothing released on its own
    assert store.scalar("SELECT COUNT(*) FROM releases") == 1
    held = [i for i in _release_items(store) if i["state"] == "held"]
    assert len(held) == 1
    item = held[0]
    outcome = str(item["outcome"])
    assert outcome.startswith("re-acquired: release needs review"), outcome
    assert f"{TUBES[0]}: acquisition 2 of 2" in outcome
    assert f"{TUBES[1]}: acquisition 1 of 1" in outcome
    payload = item["payload"]
    assert isinstance(payload, dict)
    assert payload["inputs"] == {TUBES[0]: new_sha, TUBES[1]: released[TUBES[1]]}
    assert payload["acquisitions"] == {
        TUBES[0]: {"sha256": new_sha, "acquisition": 2, "of": 2, "previous": [released[TUBES[0]]]},
        TUBES[1]: {"sha256": released[TUBES[1]], "acquisition": 1, "of": 1, "previous": []},
    }
    rows = audit.entries(store, lot="lot-CAR-0011")
    held_rows = [e for e in rows if e.action == "item-held"]
    assert len(held_rows) == 1 and held_rows[0].details["reason"] == outcome
    # the worker run again does not release either
    assert run_worker(data, store, once=True).releases == []


def test_both_tubes_reacquired_never_release_a_mix_on_their_own(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    released: dict[str, str],
) -> None:
    new_stained = _reacquired(small_lots[11] / TUBES[0], tmp_path / "s.fcs")
    new_fmo = _reacquired(small_lots[11] / TUBES[1], tmp_path / "f.fcs")
    s_sha = _send(data, store, new_stained, tmp_path / "acq2", "b-tube1_stained.fcs")
    run_worker(data, store, once=True)
    f_sha = _send(data, store, new_fmo, tmp_path / "acq3", "b-tube2_fmo_car.fcs")
    run_worker(data, store, once=True)

    assert store.scalar("SELECT COUNT(*) FROM releases") == 1
    held = [i for i in _release_items(store) if i["state"] == "held"]
    # one held item per combination seen, each saying which acquisition of each tube it uses
    assert [i["payload"]["inputs"] for i in held] == [  # type: ignore[index]
        {TUBES[0]: s_sha, TUBES[1]: released[TUBES[1]]},
        {TUBES[0]: s_sha, TUBES[1]: f_sha},
    ]
    assert f"{TUBES[1]}: acquisition 2 of 2" in str(held[1]["outcome"])


def test_a_persons_retry_releases_on_exactly_the_named_acquisitions(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    released: dict[str, str],
) -> None:
    new = _reacquired(small_lots[11] / TUBES[0], tmp_path / "again.fcs")
    new_sha = _send(data, store, new, tmp_path / "acq2", "b-tube1_stained.fcs")
    run_worker(data, store, once=True)
    (item,) = [i for i in _release_items(store) if i["state"] == "held"]

    retry(store, [int(item["id"])], actor="qa-person", reason="re-acquisition reviewed: CAPA-12")
    report = run_worker(data, store, once=True)
    (release,) = report.releases
    assert release["acquisitions"][TUBES[0]]["acquisition"] == 2
    assert store.scalar("SELECT COUNT(*) FROM releases") == 2
    from cytorelease.report.record import extract_record

    record = extract_record(Path(release["report"]).read_bytes())
    by_path = {i["path"]: i["sha256"] for i in record["inputs"]}
    assert by_path[TUBES[0]] == new_sha and by_path[TUBES[1]] == released[TUBES[1]]
    retried = [e for e in audit.entries(store) if e.action == "item-retried"]
    assert retried[-1].actor == "qa-person"
    assert audit.verify_chain(store).ok


def test_a_tube_reacquired_before_the_worker_ran_holds_the_queued_release(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by attack: both tubes and a second stained tube hooked before any worker run; the
    release queued for acquisition 1 was released and service-signed, saying '1 of 1'."""
    first = _first_acquisitions(data, store, small_lots[11], tmp_path, monkeypatch)
    new = _reacquired(small_lots[11] / TUBES[0], tmp_path / "again.fcs")
    new_sha = _send(data, store, new, tmp_path / "acq2", "b-tube1_stained.fcs")
    report = run_worker(data, store, once=True)
    assert report.releases == [] and store.scalar("SELECT COUNT(*) FROM releases") == 0
    held = [i for i in _release_items(store) if i["state"] == "held"]
    assert [i["payload"]["inputs"][TUBES[0]] for i in held] == [  # type: ignore[index]
        first[TUBES[0]],
        new_sha,
    ]
    for item in held:
        assert str(item["outcome"]).startswith("re-acquired: release needs review")
    # a person who reviewed the first (acquisition 1 of 2) releases exactly that one
    retry(store, [int(held[0]["id"])], actor="qa-person", reason="acquisition 1 is the valid one")
    (release,) = run_worker(data, store, once=True).releases
    from cytorelease.report.record import extract_record

    record = extract_record(Path(release["report"]).read_bytes())
    assert {i["path"]: i["sha256"] for i in record["inputs"]}[TUBES[0]] == first[TUBES[0]]
