"""Known-answer tests of gating: a bundled GatingML 2.0 case, and the ISAC suite when present.

The bundled case needs nothing but the package: 10,000 events on a 100 x 100 grid of half-integer
positions (FL1-H = i + 0.5, FL2-H = j + 0.5, so no event lies on any gate's edge) are written as
an FCS 3.1 float file and read back with the project's reader, then gated by a GatingML document
whose counts follow from arithmetic on the grid (stated beside each gate).

With the ISAC Gating-ML 2.0 compliance suite (a folder holding gml/, truth/ and data1.fcs, as
FlowKit ships it), a subset covering each gate kind, compensation, a transform and a parent
hierarchy is also run, event by event against the suite's truth files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from cytorelease.provenance import file_sha256
from cytorelease.selftest.checks import Check, Status

__all__ = ["BUNDLED_COUNTS", "bundled_gating_check", "gating_checks", "suite_gating_check"]

_STAGE = "OQ"
_GML = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
_DT = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"


def _dim(name: str, lo: float | None = None, hi: float | None = None) -> str:
    bounds = (f' gating:min="{lo}"' if lo is not None else "") + (
        f' gating:max="{hi}"' if hi is not None else ""
    )
    return (
        f'<gating:dimension gating:compensation-ref="uncompensated"{bounds}>'
        f'<data-type:fcs-dimension data-type:name="{name}"/></gating:dimension>'
    )


def _vertex(x: float, y: float) -> str:
    return (
        f'<gating:vertex><gating:coordinate data-type:value="{x}"/>'
        f'<gating:coordinate data-type:value="{y}"/></gating:vertex>'
    )


BUNDLED_GATINGML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<gating:Gating-ML xmlns:gating="{_GML}" xmlns:data-type="{_DT}">'
    f'<gating:RectangleGate gating:id="Rect1">{_dim("FL1-H", 10, 30)}{_dim("FL2-H", 20, 50)}'
    "</gating:RectangleGate>"
    f'<gating:RectangleGate gating:id="Rect2">{_dim("FL1-H", 40, 80)}{_dim("FL2-H", 30, 70)}'
    "</gating:RectangleGate>"
    f'<gating:RectangleGate gating:id="Range1">{_dim("FL1-H", 90)}</gating:RectangleGate>'
    f'<gating:PolygonGate gating:id="Tri1">{_dim("FL1-H")}{_dim("FL2-H")}'
    f"{_vertex(0, 0)}{_vertex(100.25, 0)}{_vertex(0, 100.25)}</gating:PolygonGate>"
    f'<gating:EllipsoidGate gating:id="Circle1">{_dim("FL1-H")}{_dim("FL2-H")}'
    '<gating:mean><gating:coordinate data-type:value="50"/>'
    '<gating:coordinate data-type:value="50"/></gating:mean><gating:covarianceMatrix>'
    '<gating:row><gating:entry data-type:value="400"/><gating:entry data-type:value="0"/>'
    '</gating:row><gating:row><gating:entry data-type:value="0"/>'
    '<gating:entry data-type:value="400"/></gating:row></gating:covarianceMatrix>'
    '<gating:distanceSquare data-type:value="1"/></gating:EllipsoidGate>'
    '<gating:BooleanGate gating:id="And1"><gating:and><gating:gateReference gating:ref="Rect2"/>'
    '<gating:gateReference gating:ref="Tri1"/></gating:and></gating:BooleanGate>'
    '<gating:BooleanGate gating:id="Not1"><gating:not><gating:gateReference gating:ref="Rect1"/>'
    "</gating:not></gating:BooleanGate>"
    "</gating:Gating-ML>"
)

# Counts on the grid (i, j in 0..99, event at (i + 0.5, j + 0.5)); min inclusive, max exclusive.
BUNDLED_COUNTS = {
    "Rect1": 600,  # i in 10..29 (20) x j in 20..49 (30)
    "Rect2": 1_600,  # 40 x 40
    "Range1": 1_000,  # i in 90..99 (10) x 100
    "Tri1": 5_050,  # x + y < 100.25 <=> i + j <= 99: sum over i of (100 - i)
    "Circle1": 1_264,  # (x-50)^2 + (y-50)^2 <= 400: half-integer lattice points in the disc
    "And1": 465,  # Rect2 with i + j <= 99: i in 40..69, j in 30..99-i: sum of (70 - i) = 1..30
    "Not1": 9_400,  # 10,000 - 600
}


def _grid_events() -> np.ndarray:
    i, j = np.meshgrid(np.arange(100), np.arange(100), indexing="ij")
    return np.column_stack([i.ravel() + 0.5, j.ravel() + 0.5]).astype(np.float32)


def bundled_gating_check() -> Check:
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
    from cytorelease.flow.gating.gatingml_import import read_gatingml

    with tempfile.TemporaryDirectory(prefix="cytorelease-selftest-") as folder:
        fcs = write_fcs(
            Path(folder) / "grid.fcs",
            _grid_events(),
            [ChannelSpec("FL1-H", range=1024.0), ChannelSpec("FL2-H", range=1024.0)],
        )
        gml = Path(folder) / "grid_gates.xml"
        gml.write_text(BUNDLED_GATINGML, encoding="utf-8")
        result = read_gatingml(gml).apply(read_fcs(fcs))
    observed = {g: int(np.count_nonzero(result.membership[g])) for g in BUNDLED_COUNTS}
    return Check(
        "oq.gating.bundled", _STAGE,
        "GatingML 2.0 rectangle, range, polygon, ellipse, and, not on a 100x100 event grid",
        Status.PASS if observed == BUNDLED_COUNTS else Status.FAIL,
        expected=dict(BUNDLED_COUNTS), observed=observed,
    )  # fmt: skip


# (document, gate id, truth file): one per gate kind of the ISAC suite, plus compensation
# (spectrumMatrix), a logicle transform, a ratio and a parent hierarchy.
SUITE_SUBSET = (
    ("gml_rect1_gate.xml", "Rectangle1", "Results_Rectangle1.txt"),
    ("gml_poly3ns_gate.xml", "Polygon3NS", "Results_Polygon3NS.txt"),
    ("gml_ellipse1_gate.xml", "Ellipse1", "Results_Ellipse1.txt"),
    ("gml_quadrant1_gate.xml", "FL2P-FL4N", "Results_FL2P-FL4N.txt"),
    ("gml_boolean_and3_complement_gate.xml", "And3", "Results_And3.txt"),
    ("gml_ratio_range1_gate.xml", "RatRange1", "Results_RatRange1.txt"),
    ("gml_matrix_rect3_gate.xml", "Rectangle3", "Results_Rectangle3.txt"),
    ("gml_transform_logicle_range4_gate.xml", "ScaleRange4", "Results_ScaleRange4.txt"),
    ("gml_parent_poly1_boolean_and2_gate.xml", "ParAnd2", "Results_ParAnd2.txt"),
)


def suite_gating_check(suite: Path) -> Check:
    """The subset against the suite's truth, event by event; ``suite`` holds gml/, truth/."""
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.gating.gatingml_import import read_gatingml

    sample = read_fcs(suite / "data1.fcs")
    items = []
    for xml, gate_id, truth in SUITE_SUBSET:
        expected = np.loadtxt(suite / "truth" / truth, dtype=np.int8).astype(bool)
        got = read_gatingml(suite / "gml" / xml).apply(sample).membership[gate_id]
        differ = int(np.count_nonzero(got != expected)) if got.shape == expected.shape else -1
        items.append(
            {"gate": gate_id, "document": xml, "events": int(expected.size),
             "expected_in_gate": int(expected.sum()), "observed_in_gate": int(got.sum()),
             "events_differing": differ, "truth_sha256": file_sha256(suite / "truth" / truth)}
        )  # fmt: skip
    bad = [i for i in items if i["events_differing"] != 0]
    return Check(
        "oq.gating.isac_suite", _STAGE,
        f"ISAC Gating-ML 2.0 compliance subset ({len(items)} gates), membership event by event",
        Status.PASS if not bad else Status.FAIL,
        expected={"gates_differing": 0}, observed={"gates": len(items), "gates_differing": len(bad)},
        detail=f"suite {suite} (data1.fcs sha256 {file_sha256(suite / 'data1.fcs')[:16]}…)",
        items=items,
    )  # fmt: skip


def gating_checks(suite: Path | None) -> list[Check]:
    checks = [bundled_gating_check()]
    if suite is not None:
        checks.append(suite_gating_check(suite))
    return checks
