"""The coordinator: select lots, skip what is done, run the rest, store each outcome, summarise.

Only this process writes to the store: the what-if records in transactions of a few dozen lots
as they arrive, so a killed run keeps what it committed and the next run of the same change
skips it (the key is the lot, its inputs' hash and the change's hash). A failed lot is
reported, not stored, so a later run tries it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cytorelease.reanalyse.change import Change
from cytorelease.reanalyse.executors import Executor
from cytorelease.reanalyse.selection import LotTask, select_lots
from cytorelease.reanalyse.task import reanalyse_lot
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.records.whatif import done_keys, record_whatif, whatif_records

__all__ = ["Reanalysis", "reanalyse", "start_reanalysis"]

WHATIF_SCHEMA = "cytorelease.reanalysis/1"
# Called as progress(lots finished, lots to run) after each lot.
ProgressFn = Callable[[int, int], None]


@dataclass
class Reanalysis:
    change: Change
    lots: list[str] = field(default_factory=list)
    reanalysed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # every selected lot's, stored
    dashboard: str | None = None

    def outcomes(self) -> list[dict[str, Any]]:
        """Each stored lot's part of the impact assessment (:func:`~.impact.lot_outcome`)."""
        from cytorelease.reanalyse.impact import lot_outcome

        return [lot_outcome(record) for record in self.records]

    def to_dict(self) -> dict[str, Any]:
        """The run and its impact: the change, the counts, flips and per-attribute changes."""
        from cytorelease.reanalyse.impact import summary

        found = summary(self.outcomes())
        return {
            "change": self.change.to_dict(),
            "change_sha256": self.change.sha256,
            "lots": len(self.lots),
            "reanalysed": len(self.reanalysed),
            "skipped": len(self.skipped),
            "failed": sorted(self.failed, key=lambda f: f["lot"]),
            "flips": found["flips"],
            "changes": found["changes"],
        }

    def impact_record(self, selection: dict[str, Any]) -> dict[str, Any]:
        """The record of the signed impact report (:func:`~.impact.impact_record`)."""
        from cytorelease.reanalyse.impact import impact_record

        return impact_record(
            change=self.change.to_dict(), change_sha256=self.change.sha256,
            outcomes=self.outcomes(), failed=self.failed, selection=selection,
            counts={"lots": len(self.lots), "reanalysed": len(self.reanalysed),
                    "skipped": len(self.skipped), "failed": len(self.failed)},
        )  # fmt: skip


# Outcomes are committed in batches: a transaction per lot would cost more than the bookkeeping
# budget (a few ms per lot) on a 100,000-lot run; a kill loses at most one batch, redone next run.
BATCH_LOTS = 64
BATCH_SECONDS = 2.0


def _record(change: Change, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": WHATIF_SCHEMA,
        "what_if": True,
        "change": change.to_dict(),
        "change_sha256": change.sha256,
        **{k: v for k, v in result.items() if k != "status"},
    }


def _store(store: Store, change: Change, results: Sequence[dict[str, Any]]) -> None:
    stored_at = datetime.now(UTC).isoformat(timespec="microseconds")
    with store.write():
        for result in results:
            # a result delivered twice (a retried task) is stored once
            record_whatif(
                store,
                lot=str(result["lot"]),
                inputs_sha256=str(result["inputs_sha256"]),
                change_sha256=change.sha256,
                release_id=int(result["release_id"]),
                disposition=str(result["disposition"]),
                unlocked=bool(result["not_for_release"]),
                record=_record(change, result),
                stored_at=stored_at,
            )


def reanalyse(
    data: DataDir,
    store: Store,
    change: Change,
    run_on: Executor,
    *,
    product: str | None = None,
    since: date | None = None,
    lots: Sequence[str] | None = None,
    library: Path | None = None,
    progress: ProgressFn | None = None,
    task_fn: Callable[[LotTask], dict[str, Any]] = reanalyse_lot,
) -> Reanalysis:
    """Re-analyse every selected lot not yet done under ``change`` on ``run_on``."""
    selection = select_lots(
        data, store, change, product=product, since=since, lots=lots, library=library
    )
    outcome = Reanalysis(change, dashboard=run_on.dashboard)
    outcome.lots = sorted([t.lot for t in selection.tasks] + [f["lot"] for f in selection.failed])
    outcome.failed.extend(selection.failed)
    done = done_keys(store, change.sha256)
    todo = []
    for task in selection.tasks:
        if (task.lot, task.inputs_sha256) in done:
            outcome.skipped.append(task.lot)
        else:
            todo.append(task)
    finished = 0
    if progress:
        progress(finished, len(todo))
    pending: list[dict[str, Any]] = []
    flushed = time.monotonic()
    try:
        for result in run_on.map_unordered(task_fn, todo):
            finished += 1
            if result.get("status") == "reanalysed":
                pending.append(result)
                outcome.reanalysed.append(str(result["lot"]))
            else:
                outcome.failed.append({"lot": str(result["lot"]), "reason": str(result["reason"])})
            if len(pending) >= BATCH_LOTS or time.monotonic() - flushed > BATCH_SECONDS:
                _store(store, change, pending)
                pending, flushed = [], time.monotonic()
            if progress:
                progress(finished, len(todo))
    finally:
        # what finished is kept even when the run is interrupted
        if pending:
            _store(store, change, pending)
    outcome.records = whatif_records(store, change.sha256, [t.lot for t in selection.tasks])
    _audit(store, outcome)
    return outcome


def _audit(store: Store, outcome: Reanalysis) -> None:
    """One trail row per run: who assessed which change, over which lots, with what result."""
    from cytorelease.records.audit import Action, append, os_user

    shown = outcome.to_dict()
    with store.write():
        append(store, actor=os_user(), action=Action.REANALYSE, object=outcome.change.sha256,
               details={"change": outcome.change.to_dict(), "lots": shown["lots"],
                        "reanalysed": shown["reanalysed"], "skipped": shown["skipped"],
                        "failed": [f["lot"] for f in shown["failed"]],
                        "flips": [f["lot"] for f in shown["flips"]]})  # fmt: skip


def _note_trimming(run_on: Executor, log: Callable[[str], None]) -> None:
    from cytorelease.reanalyse.executors import TRIM, WORKER_CONFIG, DaskExecutor

    if isinstance(run_on, DaskExecutor) and (trimming := run_on.trimming_workers()):
        log(f"note: {len(trimming)} Dask worker(s) set {TRIM} (Dask's default), which costs "
            f"system time on every lot; install {WORKER_CONFIG.name} from the cytorelease "
            "package in their Dask config directory (README, 'On a cluster')")  # fmt: skip


def start_reanalysis(
    data_dir: str | Path | None,
    *,
    template: str | None = None,
    assay: str | None = None,
    spec: str | None = None,
    executor_name: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    product: str | None = None,
    since: date | None = None,
    lots: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    on_dashboard: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Reanalysis:
    """Open the data folder's existing store and run :func:`reanalyse` (the command)."""
    from cytorelease._resources import site_library
    from cytorelease.reanalyse.change import resolve_change
    from cytorelease.reanalyse.executors import executor
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir, existing=True)
    with store:
        # the data folder's library.yaml names the library bare names and LOCKs come from
        line = data.use_configured_library()
        if line and log:
            log(line)
        change = resolve_change(template=template, assay=assay, spec=spec)
        run_on = executor(executor_name, scheduler=scheduler, workers=workers)
        try:
            if run_on.dashboard and on_dashboard:
                on_dashboard(run_on.dashboard)
            if scheduler is not None and log:
                _note_trimming(run_on, log)
            return reanalyse(
                data, store, change, run_on, product=product, since=since, lots=lots,
                library=site_library(), progress=progress,
            )  # fmt: skip
        finally:
            run_on.close()
