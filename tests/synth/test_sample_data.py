"""The committed sample_data/ is exactly the generator's output for seed 1, and stays small."""

from __future__ import annotations

from pathlib import Path

from cytorelease.provenance import file_sha256
from cytorelease.synth import generate_lot, lot_id_for_seed

MAX_BYTES = 20 * 1024 * 1024


def _files(lot_dir: Path) -> list[Path]:
    return sorted(p for p in lot_dir.rglob("*") if p.is_file())


def test_committed_sample_lot_matches_a_fresh_generation(
    project_root: Path, tmp_path: Path
) -> None:
    committed = project_root / "sample_data" / lot_id_for_seed(1)
    fresh = generate_lot(tmp_path, seed=1).lot_dir
    expected = {p.relative_to(fresh).as_posix(): file_sha256(p) for p in _files(fresh)}
    actual = {p.relative_to(committed).as_posix(): file_sha256(p) for p in _files(committed)}
    assert actual == expected, (
        "sample_data/ is stale: regenerate it with "
        "`cytorelease sample-data generate sample_data --seed 1 --force`"
    )


def test_sample_data_stays_under_20_mb(project_root: Path) -> None:
    total = sum(p.stat().st_size for p in (project_root / "sample_data").rglob("*") if p.is_file())
    assert 0 < total < MAX_BYTES
