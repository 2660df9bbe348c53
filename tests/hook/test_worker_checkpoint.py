"""The worker signs audit checkpoints with the service key when due; a failure to checkpoint
is audited and counted, and never stops the worker from processing files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.service_checkpoint import ServiceCheckpoints
from cytorelease.hook.worker import run_worker
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.report.checkpoint_verify import verify_checkpoints
from cytorelease.report.keys import fingerprint, load_private_key, raw_public
from tests.report.conftest import service_key

from .conftest import PASSPHRASE, hook_tubes, ready_service

PASSPHRASE_ENV = "CYTORELEASE_SERVICE_PASSPHRASE"


def _service_fingerprint(data: DataDir) -> str:
    return fingerprint(raw_public(load_private_key(data.keys_dir / "service.pem", PASSPHRASE)))


def _hooked(
    data: DataDir, store: Store, lot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service key in place, the lot's manifest installed and its two tubes hooked."""
    ready_service(data, lot_dir, monkeypatch)
    hook_tubes(data, store, lot_dir, tmp_path)


def _actions(store: Store, action: str) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(store) if e.action == action]


def test_the_worker_checkpoints_with_the_service_key_when_due(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hooked(data, store, small_lots[11], tmp_path, monkeypatch)
    runner = CliRunner()
    result = runner.invoke(app, ["worker", "--once", "--json", "--data-dir", str(data.root)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["processed"], report["done"], len(report["releases"])) == (3, 3, 1)
    # the first item finds no checkpoint (due at once); the next two add fewer rows than the
    # default interval in less than its time: one checkpoint, after the first item
    (written,) = report["checkpoints"]["written"]
    assert report["checkpoints"]["failures"] == 0 and report["checkpoints"]["disabled"] is None
    (row,) = _actions(store, "checkpoint")
    assert row.object == f"checkpoints/{Path(written).name}"
    assert row.actor.startswith("service:cytorelease-worker@")
    assert row.details["signer_fingerprint"] == _service_fingerprint(data)
    first, second = (e.sequence for e in _actions(store, "analyse"))
    assert first < row.details["sequence"] < second  # the head right after the first file
    assert row.sequence == row.details["sequence"] + 1
    verified = runner.invoke(
        app,
        ["audit", "verify", "--json", "--data-dir", str(data.root),
         "--trust-fingerprint", _service_fingerprint(data)],
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert [c["ok"] for c in json.loads(verified.stdout)["checkpoints"]] == [True]


def test_with_every_rows_1_each_item_is_followed_by_a_checkpoint(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hooked(data, store, small_lots[11], tmp_path, monkeypatch)
    report = run_worker(data, store, once=True, checkpoint_every_rows=1)
    assert (report.done, report.failed) == (3, 0)
    assert len(report.checkpoints.written) == 3
    checks = verify_checkpoints(store, data, trusted_fingerprints=[_service_fingerprint(data)])
    assert [c.ok for c in checks] == [True] * 3
    assert checks[-1].sequence == audit.entries(store)[-2].sequence  # the head before its row
    # nothing new since: a worker started again writes none (its own row is not new)
    assert run_worker(data, store, once=True, checkpoint_every_rows=1).checkpoints.written == []


def test_the_worker_command_takes_the_checkpoint_interval(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hooked(data, store, small_lots[11], tmp_path, monkeypatch)
    args = ["worker", "--once", "--json", "--data-dir", str(data.root), "--checkpoint-rows", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["checkpoints"]["written"]) == 3
    bad = CliRunner().invoke(app, [*args[:-1], "0"])
    assert bad.exit_code == 2


def test_a_failing_checkpoint_is_audited_once_and_the_files_are_still_processed(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (data.root / "checkpoints").write_text("in the way", encoding="utf-8")  # not a folder
    _hooked(data, store, small_lots[11], tmp_path, monkeypatch)
    lines: list[str] = []
    report = run_worker(data, store, once=True, checkpoint_every_rows=1, log=lines.append)
    assert (report.processed, report.done, report.failed) == (3, 3, 0)
    assert len(report.releases) == 1 and store.scalar("SELECT COUNT(*) FROM signatures") == 1
    assert report.checkpoints.written == [] and report.checkpoints.failures == 3
    warnings = [line for line in lines if "audit checkpoint not written" in line]
    assert len(warnings) == 3 and "FileExistsError" in warnings[0]
    (failed,) = _actions(store, "checkpoint-failed")  # the same reason, audited once
    assert failed.object == "checkpoints"
    assert failed.details["reason"].startswith("FileExistsError: ")
    assert failed.details["key"] == str(data.keys_dir / "service.pem")
    assert audit.verify_chain(store).ok


def test_without_the_passphrase_checkpoints_fail_audited_and_files_go_on(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service_key(data.keys_dir, PASSPHRASE)
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    hook_tubes(data, store, small_lots[12], tmp_path)  # no manifest: analysed, unrouted
    report = run_worker(data, store, once=True)
    assert (report.done, report.failed) == (2, 0)
    assert report.checkpoints.failures == 2 and not (data.root / "checkpoints").exists()
    (failed,) = _actions(store, "checkpoint-failed")
    assert failed.details["reason"] == (
        f"SignatureError: {data.keys_dir / 'service.pem'}: the service key needs its passphrase"
        f" in {PASSPHRASE_ENV}"
    )


def test_a_checkpoint_failure_is_audited_again_after_a_success(
    data: DataDir, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    service_key(data.keys_dir, PASSPHRASE)
    with store.write():
        audit.append(store, actor="qc", action=audit.Action.INGEST, object="f")
    checkpoints = ServiceCheckpoints(data, store, actor="svc", every_rows=1)
    blocker = data.root / "checkpoints"
    blocker.write_text("in the way", encoding="utf-8")
    assert checkpoints.after_item() is None
    assert checkpoints.after_item() is None
    assert len(_actions(store, "checkpoint-failed")) == 1
    blocker.unlink()
    written = checkpoints.after_item()  # the failure row is new: due, and it works now
    assert written is not None and checkpoints.outcome.written == [written["file"]]
    for path in blocker.iterdir():
        path.unlink()
    blocker.rmdir()
    blocker.write_text("in the way again", encoding="utf-8")
    with store.write():
        audit.append(store, actor="qc", action=audit.Action.INGEST, object="g")
    assert checkpoints.after_item() is None
    assert len(_actions(store, "checkpoint-failed")) == 2  # broken again: audited again
    assert checkpoints.outcome.failures == 3


def test_a_foreign_exception_keeps_only_its_type(
    data: DataDir, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cytorelease.report.checkpoint as checkpoint

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lot-CAR-0011 secret file text")

    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    monkeypatch.setattr(checkpoint, "maybe_checkpoint", broken)
    service_key(data.keys_dir, PASSPHRASE)
    checkpoints = ServiceCheckpoints(data, store, actor="svc")
    assert checkpoints.after_item() is None
    (failed,) = _actions(store, "checkpoint-failed")
    assert failed.details["reason"] == "RuntimeError: internal error"
    assert "secret" not in json.dumps(failed.to_dict())


def test_without_a_service_key_the_worker_says_it_writes_no_checkpoints(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    hook_tubes(data, store, small_lots[12], tmp_path)
    lines: list[str] = []
    report = run_worker(data, store, once=True, log=lines.append)
    assert report.done == 2
    disabled = f"no service key at {data.keys_dir / 'service.pem'}; no audit checkpoints"
    assert report.checkpoints.disabled == disabled
    assert report.to_dict()["checkpoints"]["disabled"] == disabled
    assert f"note: {disabled}" in lines
    assert not (data.root / "checkpoints").exists()
    assert _actions(store, "checkpoint") == _actions(store, "checkpoint-failed") == []
