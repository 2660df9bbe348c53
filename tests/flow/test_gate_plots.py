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


def test_each_gate_kind_gives_its_own_outline() -> None:
    from cytorelease.flow.gating import (
        BooleanGate,
        Dimension,
        EllipsoidGate,
        GateRef,
        PolygonGate,
        Quadrant,
        QuadrantDivider,
        QuadrantGate,
        RectangleGate,
    )

    x, y, z = Dimension("x"), Dimension("y"), Dimension("z")
    one = RectangleGate("one", dimensions=(x,), ranges=((2.0, None),)).outline()
    assert one is not None and one.tolist() == [[2.0], [np.inf]]
    two = RectangleGate("two", dimensions=(x, y), ranges=((None, 1.0), (3.0, 4.0))).outline()
    assert two is not None and two.tolist() == [
        [-np.inf, 3.0],
        [1.0, 3.0],
        [1.0, 4.0],
        [-np.inf, 4.0],
    ]
    triangle = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    polygon = PolygonGate("p", dimensions=(x, y), vertices=triangle).outline()
    assert polygon is not None and polygon.tolist() == [list(v) for v in triangle]
    circle = EllipsoidGate(
        "e",
        dimensions=(x, y),
        mean=(1.0, 2.0),
        covariance=((1.0, 0.0), (0.0, 1.0)),
        distance_square=4.0,
    ).outline()
    assert circle is not None and np.allclose(np.hypot(circle[:, 0] - 1, circle[:, 1] - 2), 2.0)
    # not drawn: a 3-D ellipsoid, a 3-D rectangle, a quadrant gate (its quadrants are), booleans
    ball = EllipsoidGate(
        "b",
        dimensions=(x, y, z),
        mean=(0.0, 0.0, 0.0),
        covariance=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    )
    box = RectangleGate("box", dimensions=(x, y, z), ranges=((0.0, 1.0),) * 3)
    quadrants = QuadrantGate(
        "q", dividers=(QuadrantDivider("d", x, (1.0,)),), quadrants=(Quadrant("lo", (("d", 0.0),)),)
    )
    union = BooleanGate("u", operands=(GateRef("one"), GateRef("two")))
    assert [g.outline() for g in (ball, box, quadrants, union)] == [None] * 4


def test_a_three_dimensional_ellipsoid_is_not_plotted(tmp_path: Path) -> None:
    """GatingML allows n-D ellipsoids; a plot of two axes cannot show one, so it is left out
    (it used to stop every plot of the document with an unpacking error)."""
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.gating import Dimension, EllipsoidGate, GatingStrategy, RectangleGate
    from cytorelease.flow.gating.gatingml_export import export_gatingml
    from cytorelease.flow.gating.run import gate_with_gatingml
    from tests.conftest import shared_path

    sample = read_fcs(shared_path("fcs", "100715.fcs"))
    dims = (Dimension("FSC-A"), Dimension("SSC-A"), Dimension("FSC-H"))
    strategy = GatingStrategy(
        [
            RectangleGate("cells", dimensions=dims[:2], ranges=((30000.0, 90000.0), (None, 5e4))),
            EllipsoidGate(
                "ball",
                parent="cells",
                dimensions=dims,
                mean=(60000.0, 20000.0, 50000.0),
                covariance=((1e8, 0.0, 0.0), (0.0, 1e8, 0.0), (0.0, 0.0, 1e8)),
            ),
        ]
    )
    document = tmp_path / "ball.xml"
    export_gatingml(strategy, document, sample=sample)
    plots = gate_plots(gate_with_gatingml(sample, document))
    assert list(plots) == ["cells"]
