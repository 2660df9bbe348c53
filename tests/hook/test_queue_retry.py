"""``queue list`` / ``queue retry``: failed items are visible and can be queued again, audited."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.hook import hook_file
from cytorelease.hook.worker import run_worker
from cytorelease.records import audit
from cytorelease.records.archive import archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import counts
from cytorelease.records.store import Store

runner = CliRunner()


def _queue(data: DataDir, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["queue", *args, "--data-dir", str(data.root), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_item_failed_by_an_unavailable_archive_is_retried_once_it_is_back(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = tmp_path / "instrument" / "acq-1.fcs"
    source.parent.mkdir()
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.01)
    archived = archived_path(data.archive_dir, outcome.sha256)
    away = tmp_path / "unmounted"
    archived.rename(away)  # the archive's storage is briefly unavailable
    report = run_worker(data, store, once=True)
    assert (report.done, report.failed) == (0, 1)

    (failed,) = _queue(data, "list", "--state", "failed")["items"]
    assert failed["kind"] == "file" and failed["attempts"] == 1
    assert "is missing" in failed["outcome"]

    away.rename(archived)
    retried = _queue(data, "retry", str(failed["id"]), "--reason", "archive volume remounted")
    assert [(i["id"], i["state"], i["attempts"]) for i in retried["retried"]] == [
        (failed["id"], "pending", 0)
    ]
    row = audit.entries(store)[-1]
    assert row.action == "item-retried"
    assert row.details["reason"] == "archive volume remounted"
    assert row.details["previous_outcome"] == failed["outcome"]
    assert row.details["previous_attempts"] == 1

    report = run_worker(data, store, once=True)
    assert (report.done, report.failed) == (1, 0)
    assert counts(store) == {"pending": 0, "leased": 0, "done": 1, "failed": 0, "held": 0}
    assert [i["state"] for i in _queue(data, "list")["items"]] == ["done"]


def test_only_failed_items_can_be_retried_and_a_bad_id_changes_nothing(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = tmp_path / "acq-2.fcs"
    shutil.copyfile(small_lots[11] / "tube2_fmo_car.fcs", source)
    hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.01)
    (pending,) = _queue(data, "list")["items"]
    base = ["queue", "retry", "--data-dir", str(data.root), "--reason", "why not"]
    result = runner.invoke(app, [*base, str(pending["id"])])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert (
        f"queue item {pending['id']}" in result.stderr and "is pending, not failed" in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, [*base, "999"])
    assert result.exit_code == 2 and "no queue item 999" in result.stderr
    result = runner.invoke(app, [*base[:-2], "--reason", "  ", str(pending["id"])])
    assert result.exit_code == 2 and "a retry needs a reason" in result.stderr
    result = runner.invoke(app, ["queue", "list", "--data-dir", str(data.root), "--state", "odd"])
    assert result.exit_code == 2 and "unknown queue state 'odd'" in result.stderr
    assert counts(store)["pending"] == 1
    assert all(e.action != "item-retried" for e in audit.entries(store))


def test_queue_commands_refuse_a_folder_without_a_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["queue", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no cytorelease record store here" in result.stderr
