"""The read benchmark runs end to end (tiny size; slow: it imports flowkit)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_runs_at_tiny_size(project_root: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_fcs_read", project_root / "bench" / "bench_fcs_read.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    times = bench.run(n_events=2_000, n_channels=4, repeat=1)
    assert {"np.fromfile (anchor)", "cytorelease read_fcs", "read_fcs + sample.sha256"} <= set(
        times
    )
    assert all(seconds > 0 for seconds in times.values())
    text = bench.report(times, 2_000, 4)
    assert "read_fcs / np.fromfile" in text
