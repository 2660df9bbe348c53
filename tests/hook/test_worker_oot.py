"""The worker's release is judged against the product's frozen trend baseline as a person's is
(issue 17 item 3): an out-of-trend value is a review flag on the stored record, the verdicts
and disposition unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cytorelease.hook.worker import run_worker
from cytorelease.provenance import content_sha256
from cytorelease.records.audit import os_user
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.synth.history import CAR
from cytorelease.trend.freeze import freeze_from_data
from cytorelease.trend.from_store import trend_from_data

from .conftest import hook_tubes, ready_service, trend_history


def test_a_workers_release_carries_the_out_of_trend_flag(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trend_history(store, tmp_path)
    report = trend_from_data(data.root, (CAR,), product="cd19-car-t", baseline=20)
    (frozen,) = freeze_from_data(data.root, report, product="cd19-car-t", actor=os_user())
    ready_service(data, small_lots[11], monkeypatch)
    hook_tubes(data, store, small_lots[11], tmp_path)
    assert len(run_worker(data, store, once=True).releases) == 1
    release = store.one("SELECT record_sha256, result_path, report_path, disposition FROM releases")
    assert release is not None
    record = json.loads(Path(release["result_path"]).read_text(encoding="utf-8"))
    block = record["out_of_trend"]
    assert block["baseline"]["sha256"] == frozen.sha256
    assert [(f["flag"], f["attribute"]) for f in block["flags"]] == [("OUT_OF_TREND", CAR)]
    assert release["disposition"] == record["evaluation"]["disposition"]
    assert content_sha256(record) == release["record_sha256"]  # the stored, signed record
    assert "OUT_OF_TREND" in Path(release["report_path"]).read_text(encoding="utf-8")
