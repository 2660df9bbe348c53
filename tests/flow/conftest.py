"""Fixtures of the flow tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cytorelease.flow.fcs_write import write_fcs
from cytorelease.synth import random_params, simulate_tube


@pytest.fixture
def small_tubes(tmp_path: Path) -> tuple[Path, Path]:
    """A seeded stained tube of 20,000 events and its CAR FMO of 5,000, written as FCS in
    tmp_path: enough for the release panel to gate, small enough for a subprocess test."""
    params = replace(random_params(3), n_events=20000, fmo_events=5000)
    paths = []
    for name, n, fmo in (("s.fcs", 20000, False), ("f.fcs", 5000, True)):
        tube = simulate_tube(n, seed=(3, int(fmo) + 1), params=params, fmo=fmo)
        keywords = {"$TIMESTEP": f"{tube.timestep_s:g}"}
        paths.append(
            write_fcs(
                tmp_path / name, tube.events, tube.channels, keywords=keywords, spill=tube.spill
            )
        )
    return paths[0], paths[1]
