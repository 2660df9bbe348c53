"""``audit export`` of a lot released against a frozen trend baseline copies that baseline and its
LOCK line, so the bundle checks out offline; an altered copy fails ``sha256sum -c``, and an
altered baseline in the data folder refuses the export."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.export import export_lot_from_store
from cytorelease.hook.worker import run_worker
from cytorelease.provenance import content_sha256
from cytorelease.records.audit import os_user
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.synth.history import CAR
from cytorelease.trend.freeze import freeze_from_data
from cytorelease.trend.from_store import trend_from_data

from .conftest import hook_tubes, ready_service, trend_history


def _released(data: DataDir, store: Store, lot: Path, tmp_path: Path) -> str:
    hook_tubes(data, store, lot, tmp_path)
    (release,) = run_worker(data, store, once=True).releases
    return str(release["lot"])


def _sums_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=folder,
                          capture_output=True, text=True)  # fmt: skip


def test_the_export_carries_the_baseline_the_release_names(
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
    lot = _released(data, store, small_lots[11], tmp_path)

    out = tmp_path / "bundle"
    export_lot_from_store(data, store, lot, out)
    check = _sums_check(out)
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))
    (entry,) = manifest["trend_baselines"]
    assert entry["path"] == "baselines/cd19-car-t/v1.json" and entry["site"] is None
    copied = out / entry["path"]
    assert copied.read_bytes() == frozen.path.read_bytes()
    # offline: the copy's content hash is its LOCK line's and the one the record names
    sha = content_sha256(json.loads(copied.read_text(encoding="utf-8")))
    assert (out / entry["lock"]).read_text(encoding="utf-8") == f"cd19-car-t@1 {sha}\n"
    record = json.loads((out / "releases/1/result.json").read_text(encoding="utf-8"))
    assert record["out_of_trend"]["baseline"]["sha256"] == sha == frozen.sha256
    assert {f["path"] for f in manifest["files"]} >= {entry["path"], entry["lock"]}

    # a copy altered after export: the bundle's own check fails, naming the file
    document = json.loads(copied.read_text(encoding="utf-8"))
    document["attributes"][0]["ucl"] += 10.0
    copied.write_text(json.dumps(document), encoding="utf-8")
    check = _sums_check(out)
    assert check.returncode != 0 and f"{entry['path']}: FAILED" in check.stdout

    # the data folder's baseline altered: nothing is exported
    frozen.path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError, match="was altered") as raised:
        export_lot_from_store(data, store, lot, tmp_path / "again")
    assert str(raised.value.path) == str(frozen.path)
    assert not (tmp_path / "again").exists()
