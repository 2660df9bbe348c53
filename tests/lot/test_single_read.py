"""The interactive release hashes what it analysed (issue 13 item 3).

Each raw file is changed on disk right after the analysis has read it, as a copy still being
written or an insider's edit would. The record must name the SHA-256 of the bytes analysed;
a second read of the path (to hash it, or to parse it again) would name the changed file's
hash, and the record would vouch for bytes nobody analysed.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cytorelease.flow.fcs as fcs
from cytorelease.lot.release import release_lot
from cytorelease.synth import generate_lot


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_lot(tmp_path_factory.mktemp("lots"), seed=5).lot_dir


def _raw_files(lot_dir: Path) -> dict[str, str]:
    return {
        p.relative_to(lot_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in lot_dir.rglob("*")
        if p.is_file() and p.name not in {"lot.yaml", "truth.json"}
    }


def test_every_input_is_hashed_from_the_bytes_analysed(
    lot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot_dir = tmp_path / lot.name
    shutil.copytree(lot, lot_dir)
    before = _raw_files(lot_dir)
    changed: set[Path] = set()

    def change_after_reading(path: Path) -> None:
        path = Path(path).resolve()
        inside = path.is_relative_to(lot_dir.resolve()) and path.name != "lot.yaml"
        if inside and path not in changed:
            changed.add(path)
            with open(path, "ab") as handle:
                handle.write(b"\n# appended after the analysis read the file\n")

    real_read_bytes = Path.read_bytes
    real_read_file = fcs.read_file

    def read_bytes(self: Path) -> bytes:
        data = real_read_bytes(self)
        change_after_reading(self)
        return data

    def read_file(path: Path, aligned_offset: int = 0) -> np.ndarray[Any, Any]:
        buffer = real_read_file(path, aligned_offset)
        change_after_reading(path)
        return buffer

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(fcs, "read_file", read_file)
    outcome = release_lot(lot_dir, out=tmp_path / "out")

    inputs = {i["path"]: i["sha256"] for i in outcome.record["inputs"] if i["path"] in before}
    assert len(inputs) >= 6, outcome.record["inputs"]  # 2 tubes, qPCR, ELISA, 2 killing tubes
    assert {p.relative_to(lot_dir.resolve()).as_posix() for p in changed} >= set(inputs)
    assert inputs == {path: before[path] for path in inputs}
    for measurement in outcome.record["measurements"]:
        for sha in measurement.get("inputs", []):
            assert sha in before.values(), (measurement["attribute"], sha)
