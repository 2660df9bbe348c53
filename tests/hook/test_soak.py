"""Crash safety: watch and worker SIGKILLed at random moments while files keep arriving.

At the end every good file is archived and analysed exactly once, every bad one quarantined
with a reason, every file from an unknown instrument refused once, every duplicate caught, no
queue item lost or stuck, the complete lot released once, and the audit chain verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .soak import run_soak


def test_soak_small(tmp_path: Path, small_lots: dict[int, Path]) -> None:
    figures = run_soak(tmp_path, small_lots[11], n_files=40, kills=6, seed=3)
    print("soak figures:", json.dumps(figures.to_dict()))
    assert figures.files == 40 and sum(figures.kills.values()) == 6
    assert figures.duplicates_caught == figures.duplicates


@pytest.mark.slow
def test_soak_full(tmp_path: Path, small_lots: dict[int, Path]) -> None:
    figures = run_soak(tmp_path, small_lots[11], n_files=300, kills=24, seed=8)
    print("soak figures:", json.dumps(figures.to_dict()))
    assert figures.files == 300 and sum(figures.kills.values()) == 24
    assert figures.duplicates_caught == figures.duplicates
