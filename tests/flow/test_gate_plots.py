"""Every placed 2-D gate is drawn on its parent population; none is silently left unplotted."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.template import load_template
from cytorelease.flow.plots import gate_plots
from tests.flow.gating_lots import Lot, simulated_lot

TEMPLATE = """\
schema_version: 1
id: rectangle-plot
version: "1.0.0"
description: one 2-D rectangle, one end open
markers:
  - {key: fsc_a, channels: [FSC-A]}
  - {key: ssc_a, channels: [SSC-A]}
compensation:
  source: none
gates:
  - id: big
    name: big cells
    kind: rectangle
    dimensions:
      - {marker: fsc_a, min: 60000, max: 200000}
      - {marker: ssc_a, min: 20000}
"""


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Lot:
    return simulated_lot(tmp_path_factory.mktemp("plot-lot"), 11)


def test_a_two_dimensional_rectangle_is_drawn(lot: Lot, tmp_path: Path) -> None:
    template = tmp_path / "rectangle.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    result = gate_sample(lot.stained, load_template(template))
    svg = gate_plots(result)["big"]
    assert "big cells on all events" in svg
    (points,) = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#d62728"', svg)
    corners = np.array([[float(v) for v in p.split(",")] for p in points.split()])
    assert len(corners) == 5 and (corners[0] == corners[-1]).all()  # four corners, closed
    xs, ys = sorted(set(corners[:, 0])), sorted(set(corners[:, 1]))
    assert len(xs) == 2 and len(ys) == 2  # an axis-aligned rectangle
    # inside the plot frame (x 62..406 px, y 40..284 px), the open top at the data's edge
    assert all(62 < x < 420 - 14 for x in xs)
    assert all(40 < y < 330 - 46 for y in ys)
