"""``cytorelease worker``: drain the queue, route files to lots, release complete lots.

A file item reads the archived copy, records its analysis and its lot assignment; when that
completes a lot's inputs, a release item is queued. A release item gathers the archived files
into a work folder (hard links to the read-only archive), runs the release pipeline, signs the
draft CoA with the service key under the one meaning a service may apply, "computer-generated
evaluation", checks the signature, and records the result. Every effect of an item is committed
in one transaction together with closing its lease, so a killed worker's item is redone from
scratch by the next one and nothing is recorded twice.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytorelease._resources import library_line, use_data_library
from cytorelease.errors import CytoreleaseError
from cytorelease.hook.acquisitions import (
    Reacquired,
    acquisitions_of,
    check_unchanged,
    describe,
    hold_reacquired,
)
from cytorelease.hook.identify import FileKind
from cytorelease.hook.integrity import analysed_file, check_analysed_inputs, hold_for_archive
from cytorelease.hook.release_record import audit_release, record_worker_release
from cytorelease.hook.routing import LotPlan, load_lot_plans, route_file
from cytorelease.hook.service_checkpoint import DEFAULT_CHECKPOINT_ROWS as _ROWS
from cytorelease.hook.service_checkpoint import DEFAULT_CHECKPOINT_SECONDS as _SECONDS
from cytorelease.hook.service_checkpoint import CheckpointOutcome, ServiceCheckpoints
from cytorelease.provenance import content_sha256
from cytorelease.records import audit
from cytorelease.records.archive import ArchiveMismatch, archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.ingest import raw_file
from cytorelease.records.lots import (
    RELEASED_MANIFEST,
    assign_file,
    lot_files,
    record_analysis,
    unassigned_analyses,
)
from cytorelease.records.queue import (
    MAX_ATTEMPTS,
    ItemKind,
    ItemState,
    LeaseLost,
    QueueItem,
    claim,
    enqueue,
    finish,
)
from cytorelease.records.store import Store
from cytorelease.records.trail import PendingRows

__all__ = ["SERVICE_PASSPHRASE_ENV", "WorkerReport", "run_worker", "start_worker"]

SERVICE_PASSPHRASE_ENV = "CYTORELEASE_SERVICE_PASSPHRASE"
WORKER_NAME = "cytorelease-worker"
DEFAULT_LEASE_SECONDS = 300.0


@dataclass
class WorkerReport:
    processed: int = 0
    done: int = 0
    failed: int = 0
    releases: list[dict[str, Any]] = field(default_factory=list)
    lost_leases: int = 0
    held: int = 0  # stopped for a person (archive disagrees with its record)
    swept: int = 0  # leftovers of killed processes removed at start
    checkpoints: CheckpointOutcome = field(default_factory=CheckpointOutcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "swept": self.swept,
            "processed": self.processed,
            "done": self.done,
            "failed": self.failed,
            "held": self.held,
            "lost_leases": self.lost_leases,
            "releases": self.releases,
            "checkpoints": self.checkpoints.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class _Context:
    data: DataDir
    store: Store
    owner: str
    actor: str
    plans: dict[str, LotPlan]


def run_worker(
    data: DataDir,
    store: Store,
    *,
    once: bool = False,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    poll: float = 1.0,
    max_attempts: int = MAX_ATTEMPTS,
    log: Callable[[str], None] | None = None,
    checkpoint_every_rows: int | None = _ROWS,
    checkpoint_every_seconds: float | None = _SECONDS,
) -> WorkerReport:
    """Process items until the queue is empty (``once``) or forever.

    An item whose lease expired ``max_attempts`` times (its worker died each time) is failed
    rather than retried forever. After each item the service key signs an audit checkpoint
    when one is due (hook/service_checkpoint.py); a failure is audited, never fatal.
    """
    from cytorelease.hook.sweep import sweep_leftovers

    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    actor = audit.service_actor(WORKER_NAME)
    report = WorkerReport()
    # library.yaml of the data folder names the site library (unless --library is given)
    if use_data_library(data.configured_library()) is not None and log:
        log(library_line() or "")
    # What workers and hooks killed mid-way left behind; live ones finish within two leases.
    report.swept = len(sweep_leftovers(data, older_than=2 * lease_seconds))
    checkpoints = ServiceCheckpoints(
        data, store, actor=actor, log=log, every_rows=checkpoint_every_rows,
        every_seconds=checkpoint_every_seconds,
    )  # fmt: skip
    report.checkpoints = checkpoints.outcome
    manifests_seen: object = None
    while True:
        item = claim(
            store, owner=owner, actor=actor, lease_seconds=lease_seconds, max_attempts=max_attempts
        )
        plans, problems = load_lot_plans(data.lots_dir)
        ctx = _Context(data, store, owner, actor, plans)
        if item is None:
            # Idle: when the manifests changed, files that arrived before their lot's
            # manifest may have a lot now.
            manifests_now = sorted(
                (p.lot_id, p.manifest_path.stat().st_mtime_ns) for p in plans.values()
            )
            if manifests_now != manifests_seen:
                manifests_seen = manifests_now
                if _route_waiting_files(ctx):
                    continue
            if once:
                return report
            time.sleep(poll)
            continue
        for problem in problems:
            if log:
                log(f"warning: {problem.one_line()}")
        report.processed += 1
        try:
            state = _process(ctx, item, report)
        except LeaseLost as exc:
            report.lost_leases += 1
            if log:
                log(f"warning: {exc}")
            continue
        finally:
            checkpoints.after_item()
        if state is ItemState.DONE:
            report.done += 1
        elif state is ItemState.FAILED:
            report.failed += 1
        if log:
            log(f"{item.key}: {state}")


def _process(ctx: _Context, item: QueueItem, report: WorkerReport) -> ItemState:
    try:
        if item.kind is ItemKind.FILE:
            _process_file(ctx, item)
        else:
            report.releases.append(_process_release(ctx, item))
        return ItemState.DONE
    except LeaseLost:
        raise
    except ArchiveMismatch as exc:
        hold_for_archive(ctx.store, ctx.actor, item, exc)
        report.held += 1
        return ItemState.HELD
    except Reacquired as exc:
        hold_reacquired(ctx.store, ctx.actor, item, exc)
        report.held += 1
        return ItemState.HELD
    except CytoreleaseError as exc:
        # the project's errors name file, line and field, never a line's text
        reason = f"{type(exc).__name__}: {exc.one_line()}"
    except Exception as exc:  # an item must never take the worker down with it
        # a foreign exception's text may quote file contents: the queue and the append-only
        # trail keep only its type
        reason = f"{type(exc).__name__}: internal error"
    with ctx.store.write():
        finish(ctx.store, item, state=ItemState.FAILED, outcome=reason)
        audit.append(
            ctx.store,
            actor=ctx.actor,
            action=audit.Action.ITEM_FAILED,
            object=item.key,
            lot=item.payload.get("lot"),
            details={"item": item.id, "reason": reason, "attempt": item.attempts},
        )
    return ItemState.FAILED


def _process_file(ctx: _Context, item: QueueItem) -> None:
    store, sha = ctx.store, str(item.payload["sha256"])
    row = raw_file(store, sha)
    if row is None:
        raise CytoreleaseError(f"queue item names {sha} but no such raw file is recorded")
    kind, meta = FileKind(row["kind"]), json.loads(row["meta"])
    summary = analysed_file(kind, archived_path(ctx.data.archive_dir, sha), sha, meta)
    route = route_file(kind, meta, str(row["original_name"]), ctx.plans)
    with store.write():
        finish(store, item, state=ItemState.DONE, outcome=route.reason)
        record_analysis(
            store, sha, kind=str(kind), lot=route.lot, input_path=route.input_path,
            summary=summary, analysed_at=_utc(), worker=ctx.owner,
        )  # fmt: skip
        audit.append(
            store,
            actor=ctx.actor,
            action=audit.Action.ANALYSE,
            object=sha,
            lot=route.lot,
            details={"kind": str(kind), "summary": summary},
        )
        if route.lot is None or route.input_path is None:
            audit.append(
                store,
                actor=ctx.actor,
                action=audit.Action.UNROUTED,
                object=sha,
                lot=route.lot,
                details={"reason": route.reason},
            )
            return
        _assign(ctx, sha, route.lot, route.input_path, route.reason)


def _route_waiting_files(ctx: _Context) -> int:
    """Route analysed files that no lot had claimed yet; returns how many found their lot."""
    if not ctx.plans:
        return 0
    routed = 0
    with ctx.store.write():
        for row in unassigned_analyses(ctx.store):
            kind = FileKind(row["kind"])
            route = route_file(kind, json.loads(row["meta"]), str(row["original_name"]), ctx.plans)
            if route.lot is None or route.input_path is None:
                continue
            _assign(ctx, str(row["sha256"]), route.lot, route.input_path, route.reason)
            routed += 1
    return routed


def _assign(ctx: _Context, sha: str, lot: str, input_path: str, reason: str) -> None:
    assign_file(ctx.store, lot, input_path, sha, _utc())
    audit.append(
        ctx.store,
        actor=ctx.actor,
        action=audit.Action.ROUTE,
        object=sha,
        lot=lot,
        details={"input": input_path, "because": reason},
    )
    _queue_release_if_complete(ctx, ctx.plans[lot])


def _queue_release_if_complete(ctx: _Context, plan: LotPlan) -> None:
    latest = dict(lot_files(ctx.store, plan.lot_id))  # the newest file of each input
    wanted = [p for _, p in plan.inputs()]
    if any(p not in latest for p in wanted):
        return
    inputs = {p: latest[p] for p in wanted}
    inputs_sha = content_sha256(inputs)
    # A re-acquired tube (a second, different file for one input: a new acquisition under the
    # same name, or a changed copy) is a new version of that input: the worker never releases
    # on it by itself and never picks a mix of old and new. The release is queued held, naming
    # which acquisition of each input it would use; a person's retry releases on exactly those.
    acquisitions = acquisitions_of(ctx.store, plan.lot_id, inputs)
    held = None
    if any(a["of"] > 1 for a in acquisitions.values()):
        held = (
            f"re-acquired: release needs review ({describe(acquisitions)}); a retry releases on "
            "exactly these files"
        )
    key = f"release:{plan.lot_id}:{inputs_sha}"
    queued = enqueue(
        ctx.store,
        key=key,
        kind=ItemKind.RELEASE,
        payload={
            "lot": plan.lot_id,
            "inputs": inputs,
            "inputs_sha256": inputs_sha,
            "acquisitions": acquisitions,
        },
        held=held,
    )
    if queued and held:
        audit.append(
            ctx.store,
            actor=ctx.actor,
            action=audit.Action.ITEM_HELD,
            object=key,
            lot=plan.lot_id,
            details={"reason": held, "acquisitions": acquisitions},
        )


def _materialise(ctx: _Context, plan: LotPlan, inputs: dict[str, str], folder: Path) -> None:
    """A lot folder of hard links to the read-only archived files (copies across devices)."""
    folder.mkdir(parents=True)
    shutil.copyfile(plan.manifest_path, folder / "lot.yaml")
    for relative, sha in inputs.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        source = archived_path(ctx.data.archive_dir, sha)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def _process_release(ctx: _Context, item: QueueItem) -> dict[str, Any]:
    from cytorelease.hook.service_sign import sign_as_service
    from cytorelease.lot.release import release_lot
    from cytorelease.trend.oot import out_of_trend

    lot, inputs = str(item.payload["lot"]), dict(item.payload["inputs"])
    inputs_sha = str(item.payload["inputs_sha256"])
    plan = ctx.plans.get(lot)
    if plan is None:
        raise CytoreleaseError(f"the manifest of lot {lot} is gone", path=ctx.data.lots_dir / lot)
    check_unchanged(ctx.store, item, inputs)
    token = secrets.token_hex(4)
    work = ctx.data.work_dir / f"{lot}-{inputs_sha[:12]}-{token}"
    partial = ctx.data.releases_dir / lot / f".{inputs_sha[:16]}.partial-{token}"
    final = ctx.data.releases_dir / lot / inputs_sha[:16]
    try:
        _materialise(ctx, plan, inputs, work)
        # the pipeline's own audit rows (spec load, each analysis, evaluation, rendering), the
        # same a person's release records, written below with the release row they describe
        steps = PendingRows()
        # manual results are entered beside the lot's manifest (DATA/lots/<lot>/manual/) and
        # checked against the site registry the service key is registered in
        registry = ctx.data.keys_dir / "registry.yaml"
        outcome = release_lot(
            work, out=partial, trail=steps, checkpoints_of=ctx.data.root,
            registry=registry if registry.is_file() else None,
            manual_dir=plan.manifest_path.parent, trend_review=out_of_trend,
        )  # fmt: skip
        check_analysed_inputs(ctx.data.archive_dir, work, inputs, outcome.record)
        # the manifest it was released under, kept with the record: a re-analysis reads this
        # one, not the lot's manifest as edited since (reanalyse/selection.py)
        shutil.copyfile(work / "lot.yaml", partial / RELEASED_MANIFEST)
        signed = sign_as_service(ctx.data, outcome.report_path)
        with ctx.store.write():
            finish(ctx.store, item, state=ItemState.DONE, outcome=outcome.disposition)
            if final.exists():  # left by a worker killed before it committed: not a record
                shutil.rmtree(final)
            os.rename(partial, final)
            result_path = final / outcome.result_path.name
            report_path = final / outcome.report_path.name
            release_id = record_worker_release(
                ctx.store, lot, inputs_sha, outcome, result_path, report_path, created_at=_utc()
            )
            audit_release(
                ctx.store, ctx.actor, lot, steps, inputs, item.payload.get("acquisitions"),
                outcome, report_path, signed, release_id,
            )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(partial, ignore_errors=True)
    return {
        "lot": lot,
        "disposition": outcome.disposition,
        "report": str(report_path),
        # which acquisition of each input this release used (queued before re-acquisitions
        # were recorded: none)
        "acquisitions": item.payload.get("acquisitions"),
    }


def _utc() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="microseconds")


def start_worker(
    data_dir: str | Path | None,
    *,
    once: bool = False,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    poll: float = 1.0,
    max_attempts: int = MAX_ATTEMPTS,
    log: Callable[[str], None] | None = None,
    checkpoint_every_rows: int | None = _ROWS,
    checkpoint_every_seconds: float | None = _SECONDS,
) -> WorkerReport:
    """Open the data folder's store and run a worker (the ``worker`` command)."""
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir)
    with store:
        data.check_private()
        return run_worker(
            data,
            store,
            once=once,
            lease_seconds=lease_seconds,
            poll=poll,
            max_attempts=max_attempts,
            log=log,
            checkpoint_every_rows=checkpoint_every_rows,
            checkpoint_every_seconds=checkpoint_every_seconds,
        )
