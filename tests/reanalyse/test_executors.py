"""The serial loop, the local process pool and a real dask.distributed LocalCluster give the same
what-if records; a worker process killed mid-run loses nothing and stores nothing twice."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from cytorelease.reanalyse.change import Change, resolve_change
from cytorelease.reanalyse.executors import (
    TRIM,
    DaskExecutor,
    Executor,
    LocalExecutor,
    SerialExecutor,
)  # fmt: skip
from cytorelease.reanalyse.run import Reanalysis, reanalyse
from cytorelease.records.audit import Action, entries_of
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store
from cytorelease.records.whatif import whatif_records

from .test_reanalyse import LOTS, STRICT, template_copy


def _copy(released: Path, where: Path) -> DataDir:
    shutil.copytree(released, where, symlinks=True)
    return DataDir.open(where)


def _run(data: DataDir, template: Path, on: Executor) -> tuple[dict[str, Any], list[dict]]:
    change = resolve_change(template=str(template))
    store = open_store(data, url="")
    with store:
        try:
            summary = reanalyse(data, store, change, on).to_dict()
        finally:
            on.close()
        return summary, whatif_records(store, change.sha256)


def numba_threads(_: Any) -> dict[str, Any]:
    import numba

    return {"threads": numba.get_num_threads()}


def malloc_trim(_: Any) -> dict[str, Any]:
    import os

    return {"trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}


def test_serial_local_and_dask_agree(
    released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    template = template_copy(tmp_path, STRICT)
    serial = _run(_copy(released_data, tmp_path / "serial"), template, SerialExecutor())
    pool = LocalExecutor(2)
    # two processes on one machine: each one's numba on one thread, not one per core
    assert {r["threads"] for r in pool.map_unordered(numba_threads, [0, 1])} == {1}
    local = _run(_copy(released_data, tmp_path / "local"), template, pool)
    dask = DaskExecutor(workers=2)
    assert dask.dashboard and dask.dashboard.startswith("http")
    assert {r["threads"] for r in dask.map_unordered(numba_threads, [0, 1])} == {1}
    # glibc's own trimming, not the 64 KiB Dask's nanny would set
    assert {r["trim"] for r in dask.map_unordered(malloc_trim, [0, 1])} == {None}
    on_dask = _run(_copy(released_data, tmp_path / "dask"), template, dask)
    assert serial[0]["reanalysed"] == 3 and serial[0]["flips"]
    assert local == serial
    assert on_dask == serial


def test_a_site_cluster_runs_numba_on_its_hosts_share() -> None:
    """--scheduler: a cluster the run did not start, its workers' environment unset. Two
    single-threaded workers on this host each get the host's cores over two."""
    from distributed import LocalCluster

    from cytorelease.reanalyse.executors import _cores

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=40) as cluster:  # fmt: skip
        on = DaskExecutor(scheduler=cluster.scheduler_address)
        try:
            # untouched, numba in a worker would run on every core
            untouched = on._client.gather(on._client.map(numba_threads, [0, 1], pure=False))
            assert {r["threads"] for r in untouched} == {_cores()}
            shared = {r["threads"] for r in on.map_unordered(numba_threads, range(6))}
        finally:
            on.close()
    assert shared == {max(1, _cores() // 2)}


def test_site_workers_given_the_packaged_config_leave_the_trim_threshold_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `dask worker` processes join a scheduler, as on a site's nodes: the one whose Dask
    config directory holds the packaged dask_worker.yaml spawns its worker without glibc's trim
    threshold; the other has Dask's default, and a run on that cluster names it."""
    import subprocess
    import sys

    from distributed import LocalCluster

    from cytorelease.reanalyse.executors import WORKER_CONFIG
    from cytorelease.reanalyse.run import _note_trimming

    monkeypatch.delenv(TRIM, raising=False)
    configured = tmp_path / "dask-config"
    configured.mkdir()
    shutil.copy(WORKER_CONFIG, configured / WORKER_CONFIG.name)
    with LocalCluster(n_workers=0, dashboard_address=":0", silence_logs=40) as cluster:
        started = []
        try:
            for config in (configured, tmp_path / "empty-config"):
                env = {**os.environ, "DASK_CONFIG": str(config)}
                started.append(subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker",
                     cluster.scheduler_address, "--nthreads", "1", "--no-dashboard",
                     "--name", config.name],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))  # fmt: skip
            on = DaskExecutor(scheduler=cluster.scheduler_address)
            try:
                on._client.wait_for_workers(2, timeout=60)
                names = {a: w["name"] for a, w in
                         on._client.scheduler_info(n_workers=-1)["workers"].items()}  # fmt: skip
                trimming = on.trimming_workers()
                lines: list[str] = []
                _note_trimming(on, lines.append)
            finally:
                on.close()
        finally:
            for process in started:
                process.terminate()
                process.wait(timeout=30)
    assert [names[a] for a in trimming] == ["empty-config"]
    assert len(lines) == 1 and "1 Dask worker(s) set MALLOC_TRIM_THRESHOLD_" in lines[0]
    assert WORKER_CONFIG.name in lines[0]


KILLED = "lot-CAR-0022"


def wait_to_be_killed_once(task: Any) -> dict[str, Any]:
    """The real task, except that the first attempt at KILLED names its worker process in
    ``running`` beside the data folder and waits there to be killed. Every attempt is logged
    as ``lot pid`` in ``attempts``."""
    import os
    import time

    beside = Path(task.work_dir).parent.parent
    with (beside / "attempts").open("a", encoding="utf-8") as log:
        log.write(f"{task.lot} {os.getpid()}\n")
    running = beside / "running"
    if task.lot == KILLED and not running.exists():
        named = beside / "running.tmp"
        named.write_text(str(os.getpid()), encoding="utf-8")
        named.replace(running)  # whole, never half-written, when the test reads it
        time.sleep(60)
        return {"lot": task.lot, "status": "failed", "reason": "its worker was not killed"}
    # imported after the wait: a worker that is to die does not first load the analyses
    from cytorelease.reanalyse.task import reanalyse_lot

    return reanalyse_lot(task)


def _kill_when_running(running: Path, killed: list[int], done: threading.Event) -> None:
    """SIGKILL the worker process that ``running`` names, as soon as it names one."""
    while not done.is_set():
        if running.is_file():
            pid = int(running.read_text(encoding="utf-8"))
            killed.append(pid)
            if pid != os.getpid():  # a worker process, never the coordinator (the test says)
                os.kill(pid, signal.SIGKILL)
            return
        done.wait(0.01)


def _run_killing_once(
    data: DataDir, store: Store, change: Change, on: Executor, running: Path
) -> tuple[Reanalysis, list[int]]:
    """reanalyse with wait_to_be_killed_once on ``on`` while a thread SIGKILLs the worker process
    that ``running`` names; (the outcome, the pids killed). ``on`` is closed."""
    killed: list[int] = []
    done = threading.Event()
    killer = threading.Thread(target=_kill_when_running, args=(running, killed, done), daemon=True)
    killer.start()
    try:
        outcome = reanalyse(data, store, change, on, task_fn=wait_to_be_killed_once)
    finally:
        done.set()
        on.close()
    killer.join()
    return outcome, killed


def test_a_dask_worker_killed_mid_run(
    released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process SIGKILLed while it runs a lot: the scheduler re-runs that lot on a live
    worker, the run completes, every lot is stored once."""
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    data = _copy(released_data, tmp_path / "data")
    change = resolve_change(template=str(template_copy(tmp_path, STRICT)))
    dask = DaskExecutor(workers=2)
    store = open_store(data, url="")
    with store:
        outcome, killed = _run_killing_once(data, store, change, dask, tmp_path / "running")
        attempts = [line.split() for line in (tmp_path / "attempts").read_text().splitlines()]
        tries = [int(pid) for lot, pid in attempts if lot == KILLED]
        # killed while it ran the lot, which then ran again in another process
        assert len(killed) == 1 and killed[0] != os.getpid() and tries[0] == killed[0]
        assert len(tries) == 2 and tries[1] != killed[0]
        assert outcome.failed == [] and outcome.reanalysed.count(KILLED) == 1
        assert sorted(outcome.reanalysed) == outcome.lots == LOTS
        rows = store.tuples("SELECT lot, COUNT(*) FROM whatif_results GROUP BY lot ORDER BY lot")
        assert rows == [(lot, 1) for lot in LOTS]
        trail = entries_of(store, Action.REANALYSE)[-1].details
        assert (trail["reanalysed"], trail["failed"]) == (3, [])


def test_a_local_worker_killed_mid_run_fails_its_lots_and_a_rerun_resumes(
    released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool process SIGKILLed while it runs a lot: the pool is lost with the lots it held,
    those are failed with the reason, the rest stored; a second run does only the failed ones."""
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    data = _copy(released_data, tmp_path / "data")
    change = resolve_change(template=str(template_copy(tmp_path, STRICT)))
    store = open_store(data, url="")
    with store:
        pool = LocalExecutor(2)
        first, killed = _run_killing_once(data, store, change, pool, tmp_path / "running")
        assert len(killed) == 1 and killed[0] != os.getpid()
        lost = sorted(f["lot"] for f in first.failed)
        assert KILLED in lost and KILLED not in first.reanalysed
        assert all("worker process died" in f["reason"] for f in first.failed)
        stored = store.scalar("SELECT COUNT(*) FROM whatif_results")
        assert stored == len(first.reanalysed) == len(LOTS) - len(lost)
        again = reanalyse(data, store, change, SerialExecutor())
        assert sorted(again.reanalysed) == lost and sorted(again.skipped + lost) == again.lots
        rows = store.tuples("SELECT lot, COUNT(*) FROM whatif_results GROUP BY lot ORDER BY lot")
        assert rows == [(lot, 1) for lot in LOTS]
