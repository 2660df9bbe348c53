"""The serial loop, the local process pool and a real dask.distributed LocalCluster give the same
what-if records; a worker process killed mid-run loses nothing and stores nothing twice."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cytorelease.reanalyse.change import resolve_change
from cytorelease.reanalyse.executors import DaskExecutor, Executor, LocalExecutor, SerialExecutor
from cytorelease.reanalyse.run import reanalyse
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store
from cytorelease.records.whatif import whatif_records

from .test_reanalyse import STRICT, template_copy


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


def test_serial_local_and_dask_agree(
    released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    template = template_copy(tmp_path, STRICT)
    serial = _run(_copy(released_data, tmp_path / "serial"), template, SerialExecutor())
    local = _run(_copy(released_data, tmp_path / "local"), template, LocalExecutor(2))
    dask = DaskExecutor(workers=2)
    assert dask.dashboard and dask.dashboard.startswith("http")
    on_dask = _run(_copy(released_data, tmp_path / "dask"), template, dask)
    assert serial[0]["reanalysed"] == 3 and serial[0]["flips"]
    assert local == serial
    assert on_dask == serial


def die_once_then_reanalyse(task: Any) -> dict[str, Any]:
    """The real task, except that the first attempt at the second lot kills its worker process
    (a marker file beside the data folder remembers the attempt across processes)."""
    import os

    from cytorelease.reanalyse.task import reanalyse_lot

    marker = Path(task.work_dir).parent.parent / f"killed-{task.lot}"
    if task.lot.endswith("22") and not marker.exists():
        marker.write_text("killed\n", encoding="utf-8")
        os._exit(1)
    return reanalyse_lot(task)


@pytest.mark.slow  # ~45 s: the nanny restarts the worker and the scheduler reassigns its lot
def test_a_dask_worker_killed_mid_run(
    released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler re-runs the dead worker's lot elsewhere: the run completes, every lot once."""
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    data = _copy(released_data, tmp_path / "data")
    change = resolve_change(template=str(template_copy(tmp_path, STRICT)))
    dask = DaskExecutor(workers=2)
    store = open_store(data, url="")
    with store:
        try:
            outcome = reanalyse(data, store, change, dask, task_fn=die_once_then_reanalyse)
        finally:
            dask.close()
        assert (tmp_path / "killed-lot-CAR-0022").is_file()  # the worker did die
        assert outcome.failed == [] and sorted(outcome.reanalysed) == sorted(outcome.lots)
        assert store.scalar("SELECT COUNT(*) FROM whatif_results") == len(outcome.lots) == 3


def test_a_local_worker_killed_mid_run_fails_its_lots_and_a_rerun_resumes(
    released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    data = _copy(released_data, tmp_path / "data")
    change = resolve_change(template=str(template_copy(tmp_path, STRICT)))
    store = open_store(data, url="")
    with store:
        pool = LocalExecutor(2)
        try:
            first = reanalyse(data, store, change, pool, task_fn=die_once_then_reanalyse)
        finally:
            pool.close()
        assert (tmp_path / "killed-lot-CAR-0022").is_file()
        lost = sorted(f["lot"] for f in first.failed)
        assert "lot-CAR-0022" in lost
        assert all("worker process died" in f["reason"] for f in first.failed)
        again = reanalyse(data, store, change, SerialExecutor())
        assert sorted(again.reanalysed) == lost and sorted(again.skipped + lost) == again.lots
        assert store.scalar("SELECT COUNT(*) FROM whatif_results") == 3
