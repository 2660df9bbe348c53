"""The work queue: exclusive claims across processes, lease expiry, give-up after retries."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import (
    MAX_ATTEMPTS,
    ItemKind,
    ItemState,
    LeaseLost,
    claim,
    counts,
    enqueue,
    finish,
)
from cytorelease.records.store import Store, open_store


def _fill(store: Store, n: int) -> None:
    with store.write():
        for i in range(n):
            enqueue(store, key=f"file:{i:04d}", kind=ItemKind.FILE, payload={"i": i})


def test_enqueue_is_idempotent_by_key(store: Store) -> None:
    with store.write():
        assert enqueue(store, key="file:a", kind=ItemKind.FILE, payload={})
        assert not enqueue(store, key="file:a", kind=ItemKind.FILE, payload={"other": 1})
    assert counts(store) == {"pending": 1, "leased": 0, "done": 0, "failed": 0, "held": 0}


def _drain(root: str, url: str, name: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(DataDir.open(Path(root)), url=url)
    taken = []
    while (item := claim(store, owner=name, actor=name, lease_seconds=60)) is not None:
        with store.write():
            finish(store, item, state=ItemState.DONE, outcome=name)
            audit.append(store, actor=name, action=audit.Action.ANALYSE, object=item.key)
        taken.append(item.key)
    results.put(taken)
    store.close()


def test_two_worker_processes_never_take_the_same_item(
    data: DataDir, store: Store, db_url: str
) -> None:
    _fill(store, 120)
    results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_drain, args=(str(data.root), db_url, f"w{i}", results))
        for i in range(2)
    ]
    for process in workers:
        process.start()
    taken = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=60)
    everything = taken[0] + taken[1]
    assert sorted(everything) == [f"file:{i:04d}" for i in range(120)]  # each exactly once
    assert counts(store)["done"] == 120
    assert audit.verify_chain(store).ok and audit.verify_chain(store).rows == 120


def test_expired_lease_is_recovered_and_the_old_owner_loses(store: Store) -> None:
    _fill(store, 1)
    first = claim(store, owner="killed", actor="w", lease_seconds=5, now=1000.0)
    assert first is not None and first.attempts == 1
    assert claim(store, owner="other", actor="w", lease_seconds=5, now=1004.0) is None
    second = claim(store, owner="other", actor="w", lease_seconds=5, now=1006.0)
    assert second is not None and second.id == first.id and second.attempts == 2
    recovered = audit.entries(store)[-1]
    assert recovered.action == "lease-recovered"
    assert recovered.details == {"item": first.id, "previous_owner": "killed"}
    with pytest.raises(LeaseLost, match="no longer held by killed"), store.write():
        finish(store, first, state=ItemState.DONE, outcome="late")
    with store.write():
        finish(store, second, state=ItemState.DONE, outcome="ok")
    assert counts(store)["done"] == 1


def test_an_item_that_keeps_killing_workers_is_failed(store: Store) -> None:
    _fill(store, 1)
    moment = 0.0
    for _ in range(MAX_ATTEMPTS):
        assert claim(store, owner="w", actor="w", lease_seconds=1, now=moment) is not None
        moment += 2
    assert claim(store, owner="w", actor="w", lease_seconds=1, now=moment) is None
    assert counts(store)["failed"] == 1
    failed = audit.entries(store)[-1]
    assert failed.action == "item-failed"
    assert failed.details["reason"] == f"gave up after {MAX_ATTEMPTS} attempts"
