"""``worker``: files routed to lots, the release of a complete lot signed only as a service."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cytorelease.hook.hook import hook_file
from cytorelease.hook.worker import run_worker
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import counts
from cytorelease.records.store import Store, open_store
from cytorelease.signature_policy import Role

from .conftest import hook_tubes, install_manifest, ready_service


def _enter_manual_results(data: DataDir, records: Path, lot_dir: Path) -> None:
    """The lot's bench sheet entered and verified by two analysts registered in the data
    folder's registry, beside the manifest the worker reads (DATA/lots/<lot>/manual/)."""
    from cytorelease.manual import enter_value, verify_value
    from tests.double_entry import bench_values, identity_of
    from tests.report.conftest import PASSPHRASE as KEY_PASSPHRASE
    from tests.report.conftest import Signer

    first = Signer(data.keys_dir, "Fay First", "ffirst", Role.ANALYST)
    second = Signer(data.keys_dir, "Sid Second", "ssecond", Role.ANALYST)
    identity = identity_of(records)
    for attribute, (value, unit) in bench_values(lot_dir).items():
        for act, person in ((enter_value, first), (verify_value, second)):
            act(records, identity, attribute=attribute, value=value, unit=unit,
                key_path=person.key_path, passphrase=KEY_PASSPHRASE, registry=data.keys_dir)  # fmt: skip


def test_complete_lot_is_released_and_signed_as_computer_generated(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cytorelease.report.verify import verify_report

    ready_service(data, small_lots[11], monkeypatch)
    hook_tubes(data, store, small_lots[11], tmp_path)
    report = run_worker(data, store, once=True)
    last = audit.entries(store)[-1].details
    assert (report.processed, report.done, report.failed) == (3, 3, 0), last
    (release,) = report.releases
    assert release["lot"] == "lot-CAR-0011"
    assert release["disposition"] == "INCOMPLETE"  # no qPCR or potency data in this lot
    coa = Path(release["report"])
    assert coa.parent.parent == data.releases_dir / "lot-CAR-0011"
    checked = verify_report(coa, trust=data.keys_dir / "registry.yaml")
    assert checked.ok, checked.failures()
    (signature,) = checked.signatures
    assert signature.entry is not None
    assert signature.entry.meaning == "computer-generated-evaluation"
    assert signature.entry.user_id == "service"
    row = store.one("SELECT * FROM signatures")
    assert row is not None and row["meaning"] == "computer-generated-evaluation"
    lot_rows = audit.entries(store, lot="lot-CAR-0011")
    assert [e.action for e in lot_rows] == [
        "ingest",
        "ingest",
        "analyse",
        "route",
        "analyse",
        "route",
        "spec-load",
        # the release pipeline's own rows, as a person's release records them
        "lot-analysis",
        "lot-analysis",
        "lot-analysis",
        "lot-analysis",
        "evaluate",
        "render",
        "sign",
    ]
    steps = {e.object: e.details["status"] for e in lot_rows if e.action == "lot-analysis"}
    assert steps == {
        "flow": "done",
        "qpcr": "not in manifest",
        "potency.elisa": "not in manifest",
        "potency.cytotox": "not in manifest",
    }
    (render,) = [e for e in lot_rows if e.action == "render"]
    assert render.object == str(coa) and render.details["release"] == 1
    routes = {e.details["input"]: e.details["because"] for e in lot_rows if e.action == "route"}
    assert routes == {
        "tube1_stained.fcs": "file name 'tube1_stained.fcs'",
        "tube2_fmo_car.fcs": "file name 'tube2_fmo_car.fcs'",
    }
    assert audit.verify_chain(store).ok
    assert list(data.work_dir.iterdir()) == []  # the materialised lot folder is cleaned up
    assert counts(store) == {"pending": 0, "leased": 0, "done": 3, "failed": 0, "held": 0}
    # running again finds nothing to do: nothing is processed twice
    assert run_worker(data, store, once=True).processed == 0


def test_a_human_key_in_the_service_slot_is_refused(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready_service(data, small_lots[11], monkeypatch, role=Role.QA_APPROVER)
    hook_tubes(data, store, small_lots[11], tmp_path)
    report = run_worker(data, store, once=True)
    assert (report.done, report.failed, report.releases) == (2, 1, [])
    failed = audit.entries(store)[-1]
    assert failed.action == "item-failed"
    assert (
        "lets only service apply 'computer-generated-evaluation'; service holds qa-approver"
        in (failed.details["reason"])
    )
    assert store.scalar("SELECT COUNT(*) FROM releases") == 0


def test_without_a_service_key_the_draft_is_recorded_unsigned(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    install_manifest(data, small_lots[12])
    hook_tubes(data, store, small_lots[12], tmp_path)
    report = run_worker(data, store, once=True)
    assert len(report.releases) == 1
    last = audit.entries(store)[-1]
    assert last.action == "sign-skipped"
    assert last.details["reason"].startswith("no service key at ")


def test_a_file_for_an_unknown_lot_is_analysed_and_left_unrouted(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    hook_tubes(data, store, small_lots[12], tmp_path)  # no manifest installed for lot 12
    report = run_worker(data, store, once=True)
    assert (report.done, report.releases) == (2, [])
    unrouted = [e for e in audit.entries(store) if e.action == "unrouted"]
    assert [e.details["reason"] for e in unrouted] == [
        "no lot manifest matches the file's lot (lot-CAR-0012)"
    ] * 2
    assert store.scalar("SELECT COUNT(*) FROM analyses WHERE lot IS NULL") == 2


def _work(root: str, url: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    data = DataDir.open(Path(root))
    store = open_store(data, url=url)
    results.put(run_worker(data, store, once=True).to_dict())
    store.close()


def test_two_workers_share_the_queue_without_doing_anything_twice(
    data: DataDir, store: Store, db_url: str, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    for lot_dir in small_lots.values():
        install_manifest(data, lot_dir)
        hook_tubes(data, store, lot_dir, tmp_path)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [
        context.Process(target=_work, args=(str(data.root), db_url, results)) for _ in range(2)
    ]
    for process in workers:
        process.start()
    reports = [results.get(timeout=300) for _ in workers]
    for process in workers:
        process.join(timeout=60)
    # 4 files + 2 releases, each processed by exactly one of the two workers
    assert sum(r["processed"] for r in reports) == 6
    assert sum(len(r["releases"]) for r in reports) == 2
    assert store.scalar("SELECT COUNT(*) FROM analyses") == 4
    assert store.scalar("SELECT COUNT(*) FROM releases") == 2
    assert counts(store)["done"] == 6
    analysed = [e.object for e in audit.entries(store) if e.action == "analyse"]
    assert len(analysed) == len(set(analysed)) == 4
    assert audit.verify_chain(store).ok
    assert all(
        json.loads(r["summary"])["events"] in (4000, 2000)
        for r in store.rows("SELECT summary FROM analyses")
    )


def test_a_worker_killed_mid_release_is_taken_over_after_its_lease(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    install_manifest(data, small_lots[11])
    hook_tubes(data, store, small_lots[11], tmp_path)
    command = [sys.executable, "-m", "cytorelease", "worker", "--lease-seconds", "2"]
    process = subprocess.Popen(
        [*command, "--poll", "0.1", "--data-dir", str(data.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        data.work_dir.is_dir() and any(data.work_dir.iterdir())
    ):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)  # in the middle of the release
    process.wait()
    killed_at = time.monotonic()
    assert store.scalar("SELECT COUNT(*) FROM releases") == 0
    assert counts(store) == {"pending": 0, "leased": 1, "done": 2, "failed": 0, "held": 0}
    assert run_worker(data, store, once=True).processed == 0  # its lease still holds
    time.sleep(max(0.0, 2.1 - (time.monotonic() - killed_at)))
    report = run_worker(data, store, once=True)
    assert (report.processed, len(report.releases)) == (1, 1)
    recovered = [e for e in audit.entries(store) if e.action == "lease-recovered"]
    assert len(recovered) == 1 and recovered[0].object.startswith("release:lot-CAR-0011:")
    assert store.scalar("SELECT COUNT(*) FROM releases") == 1
    finals = [
        p for p in (data.releases_dir / "lot-CAR-0011").iterdir() if not p.name.startswith(".")
    ]
    assert len(finals) == 1
    assert counts(store) == {"pending": 0, "leased": 0, "done": 3, "failed": 0, "held": 0}
    assert audit.verify_chain(store).ok


def test_files_that_arrived_before_their_manifest_are_routed_once_it_appears(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    hook_tubes(data, store, small_lots[12], tmp_path)
    assert run_worker(data, store, once=True).releases == []
    install_manifest(data, small_lots[12])
    report = run_worker(data, store, once=True)
    assert [r["lot"] for r in report.releases] == ["lot-CAR-0012"]
    actions = [e.action for e in audit.entries(store, lot="lot-CAR-0012")]
    assert actions.count("route") == 2 and actions.count("evaluate") == 1
    assert store.scalar("SELECT COUNT(*) FROM analyses") == 2  # analysed once, routed later
    assert run_worker(data, store, once=True).processed == 0


def test_leftovers_of_killed_processes_are_swept_once_stale(data: DataDir, store: Store) -> None:
    import os

    stale_work = data.work_dir / "lot-X-abc-1234"
    stale_work.mkdir(parents=True)
    (stale_work / "lot.yaml").write_text("x")
    stale_partial = data.releases_dir / "lot-X" / ".abcdef.partial-1234"
    stale_partial.mkdir(parents=True)
    stale_copy = data.archive_tmp / "incoming-zz"
    stale_copy.write_bytes(b"half a file")
    fresh_work = data.work_dir / "lot-Y-def-5678"
    fresh_work.mkdir()
    old = time.time() - 3600
    for path in (stale_work, stale_partial, stale_copy):
        os.utime(path, (old, old))
    report = run_worker(data, store, once=True, lease_seconds=60)
    assert report.swept == 3
    assert not stale_work.exists() and not stale_partial.exists() and not stale_copy.exists()
    assert fresh_work.is_dir()  # may belong to a live worker


def test_a_whole_lot_of_every_kind_is_routed_and_released(
    data: DataDir, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled sample lot: flow, killing-assay tubes, a ddPCR export and an ELISA plate, each
    from its own instrument under its own file name, reach their lot by their own content."""
    from cytorelease.demo import find_sample_lot

    lot_dir = find_sample_lot()
    manifest = ready_service(data, lot_dir, monkeypatch)
    _enter_manual_results(data, manifest.parent, lot_dir)
    sources = {
        "tube1_stained.fcs": "FACS-01",
        "tube2_fmo_car.fcs": "FACS-01",
        "killing_with_effectors.fcs": "FACS-01",
        "killing_targets_alone.fcs": "FACS-01",
        "qpcr/qx_manager_results.csv": "QS-01",
        "elisa_ifng.csv": "PR-01",
    }
    for relative, instrument in sources.items():
        target = tmp_path / instrument / Path(relative).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lot_dir / relative, target)
        assert (
            hook_file(data, store, target, instrument=instrument, stable_seconds=0.01).exit_code
            == 0
        )
    report = run_worker(data, store, once=True)
    assert report.failed == 0 and report.processed >= len(sources)
    (release,) = report.releases
    assert release["lot"] == "lot-CAR-0001"
    assert release["disposition"] == "PASS"
    routed = {
        e.details["input"] for e in audit.entries(store, lot="lot-CAR-0001") if e.action == "route"
    }
    assert routed == set(sources)
