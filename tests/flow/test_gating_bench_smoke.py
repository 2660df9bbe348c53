"""The gating benchmark runs end to end at a small size (slow: it imports flowkit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_gating_bench_runs_and_agrees_with_flowkit(project_root: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(project_root / "bench" / "bench_gating.py"),
            "--events",
            "30000",
            "--fmo-events",
            "10000",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert "counts equal to FlowKit's: True" in run.stdout
    assert "memberships equal: True" in run.stdout
    assert "speed-up vs FlowKit" in run.stdout
