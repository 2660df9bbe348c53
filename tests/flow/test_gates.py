"""Gate kinds, gate trees and their invariants; bad trees and bad GatingML documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.errors import TemplateError
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import (
    BooleanGate,
    BooleanOp,
    Dimension,
    EllipsoidGate,
    GateRef,
    GatingStrategy,
    PolygonGate,
    Quadrant,
    QuadrantDivider,
    QuadrantGate,
    RectangleGate,
    read_gatingml,
)
from cytorelease.flow.gating.dimensions import ArrayEvents
from cytorelease.flow.sample import Sample
from cytorelease.flow.transforms import LogicleTransform
from tests.conftest import shared_path

X, Y = Dimension("x"), Dimension("y")


def _grid() -> dict[str, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(0.0, 10.5, 0.5), np.arange(0.0, 10.5, 0.5))
    return {"x": xs.ravel(), "y": ys.ravel()}


def test_rectangle_is_half_open_and_may_be_open_ended() -> None:
    events = {"x": np.array([1.0, 2.0, 3.0, 4.0]), "y": np.array([0.0, 0.0, 100.0, -5.0])}
    closed = RectangleGate("r", dimensions=(X,), ranges=((2.0, 4.0),))
    assert closed.apply(events).tolist() == [False, True, True, False]
    open_top = RectangleGate("r", dimensions=(X, Y), ranges=((2.0, None), (None, 50.0)))
    assert open_top.apply(events).tolist() == [False, True, False, True]


def test_polygon_of_a_square_and_a_self_intersecting_bow_tie() -> None:
    square = PolygonGate("sq", dimensions=(X, Y), vertices=((1, 1), (5, 1), (5, 5), (1, 5)))
    grid = _grid()
    inside = square.apply(grid)
    # half-open like the crossing rule: left and bottom edges in, right and top edges out
    assert inside.sum() == 8 * 8
    bow_tie = PolygonGate("bt", dimensions=(X, Y), vertices=((0, 0), (4, 4), (4, 0), (0, 4)))
    probe = {"x": np.array([1.0, 3.0, 2.0, 2.0]), "y": np.array([2.0, 2.0, 0.5, 3.5])}
    assert bow_tie.apply(probe).tolist() == [True, True, False, False]


def test_overlapping_loop_is_a_hole_under_the_odd_winding_rule() -> None:
    # the outline goes round the inner square twice: winding number 2 there, so outside
    twice = ((0, 0), (6, 0), (6, 6), (0, 6), (0, 1), (5, 1), (5, 5), (1, 5), (1, 0.5))
    gate = PolygonGate("loop", dimensions=(X, Y), vertices=twice)
    probe = {"x": np.array([3.0, 0.5, 5.5]), "y": np.array([3.0, 3.0, 3.0])}
    assert gate.apply(probe).tolist() == [False, True, True]


def test_ellipse_boundary_is_inclusive() -> None:
    gate = EllipsoidGate(
        "e", dimensions=(X, Y), mean=(5.0, 5.0), covariance=((4.0, 0.0), (0.0, 1.0))
    )
    probe = {"x": np.array([7.0, 7.1, 5.0, 5.0]), "y": np.array([5.0, 5.0, 6.0, 6.01])}
    assert gate.apply(probe).tolist() == [True, False, True, False]


def test_quadrants_partition_the_plane_and_are_populations() -> None:
    gate = QuadrantGate(
        "q",
        dividers=(QuadrantDivider("dx", X, (5.0,)), QuadrantDivider("dy", Y, (2.0, 7.0))),
        quadrants=tuple(
            Quadrant(f"q{i}{j}", (("dx", lx), ("dy", ly)))
            for i, lx in enumerate((0.0, 9.0))
            for j, ly in enumerate((0.0, 5.0, 9.0))
        ),
    )
    strategy = GatingStrategy([gate])
    assert strategy.population_ids == ("q00", "q01", "q02", "q10", "q11", "q12")
    grid = _grid()
    masks = [p.apply(grid) for p in gate.populations()]
    assert np.array_equal(np.sum(masks, axis=0), np.ones(len(grid["x"])))
    assert masks[4].sum() == 11 * 10  # x in [5, 10], y in [2, 7)


def _sample_like(columns: dict[str, np.ndarray]) -> Sample:
    from cytorelease.flow.sample import Channel

    names = list(columns)
    events = np.column_stack([columns[n] for n in names]).astype(np.float32)
    channels = tuple(Channel(i, n, None, 1024.0, 32) for i, n in enumerate(names))
    return Sample(Path("synthetic.fcs"), "0" * 64, "3.1", events, channels, {})


coordinates = st.lists(st.floats(0, 10), min_size=2, max_size=2)


@settings(max_examples=60, deadline=None)
@given(
    rect=st.tuples(st.floats(0, 10), st.floats(0, 10), st.floats(0, 10), st.floats(0, 10)),
    vertices=st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10)), min_size=3, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_a_child_never_holds_more_events_than_its_parent(
    rect: tuple[float, ...], vertices: list[tuple[float, float]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    sample = _sample_like({"x": rng.uniform(0, 10, 300), "y": rng.uniform(0, 10, 300)})
    strategy = GatingStrategy(
        [
            RectangleGate(
                "outer",
                dimensions=(X, Y),
                ranges=((min(rect[0], rect[1]), max(rect[0], rect[1])), (min(rect[2:]), None)),
            ),
            PolygonGate("poly", parent="outer", dimensions=(X, Y), vertices=tuple(vertices)),
            RectangleGate("leaf", parent="poly", dimensions=(Y,), ranges=((None, rect[3]),)),
            BooleanGate(
                "either",
                parent="poly",
                op=BooleanOp.OR,
                operands=(GateRef("leaf"), GateRef("outer", complement=True)),
            ),
        ]
    )
    result = strategy.apply(sample)
    for row in result.populations.itertuples():
        assert row.count <= row.parent_count
        if row.parent is not None:
            child, parent = result.membership[row.gate_id], result.membership[row.parent]
            assert not np.any(child & ~parent)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), lo=st.floats(0, 10), hi=st.floats(0, 10))
def test_boolean_identities(seed: int, lo: float, hi: float) -> None:
    rng = np.random.default_rng(seed)
    sample = _sample_like({"x": rng.uniform(0, 10, 200), "y": rng.uniform(0, 10, 200)})
    g = RectangleGate("g", dimensions=(X,), ranges=((min(lo, hi), max(lo, hi)),))
    h = RectangleGate("h", dimensions=(Y,), ranges=((lo, None),))
    strategy = GatingStrategy(
        [
            g,
            h,
            BooleanGate("not_g", op=BooleanOp.NOT, operands=(GateRef("g"),)),
            BooleanGate("not_not_g", op=BooleanOp.NOT, operands=(GateRef("not_g"),)),
            BooleanGate("and_c", operands=(GateRef("g"), GateRef("h", complement=True))),
            BooleanGate("and_not", operands=(GateRef("g"), GateRef("not_h"))),
            BooleanGate("not_h", op=BooleanOp.NOT, operands=(GateRef("h"),)),
            BooleanGate("g_or_not_g", op=BooleanOp.OR, operands=(GateRef("g"), GateRef("not_g"))),
            BooleanGate("g_and_not_g", operands=(GateRef("g"), GateRef("g", complement=True))),
        ]
    )
    m = strategy.apply(sample).membership
    assert np.array_equal(m["not_not_g"], m["g"])
    assert np.array_equal(m["and_c"], m["and_not"])
    assert np.array_equal(m["and_c"], m["g"] & ~m["h"])
    assert m["g_or_not_g"].all() and not m["g_and_not_g"].any()


def test_result_table_names_paths_and_parents() -> None:
    sample = _sample_like({"x": np.arange(100.0), "y": np.arange(100.0)[::-1]})
    strategy = GatingStrategy(
        [
            RectangleGate("low", dimensions=(X,), ranges=((None, 50.0),)),
            RectangleGate("lower", parent="low", dimensions=(X,), ranges=((None, 10.0),)),
        ]
    )
    result = strategy.apply(sample)
    assert list(result.populations["path"]) == [("low",), ("low", "lower")]
    assert result.count("lower") == 10 and result.percent_of_parent("lower") == pytest.approx(20.0)
    assert result.populations["parent"][1] == "low"
    assert result.population_records()[1] == {
        "path": "low/lower",
        "name": "lower",
        "gate_id": "lower",
        "count": 10,
        "parent_count": 50,
        "percent_of_parent": 20.0,
        "percent_of_total": 10.0,
    }
    assert result.membership_frame()["lower"].sum() == 10


def test_array_events_accept_already_compensated_columns() -> None:
    logicle = LogicleTransform(T=262144, W=0.5, M=4.5, A=0)
    gate = RectangleGate(
        "bright", dimensions=(Dimension("CD3", logicle, "FCS"),), ranges=((0.6, None),)
    )
    values = np.array([-100.0, 100.0, 5000.0, 100000.0])
    assert (
        gate.apply(ArrayEvents({"CD3": values})).tolist() == (logicle.apply(values) >= 0.6).tolist()
    )
    boolean = BooleanGate("b", op=BooleanOp.NOT, operands=(GateRef("bright"),))
    with pytest.raises(TemplateError, match="membership was not supplied"):
        boolean.apply({"CD3": values})


# bad trees -----------------------------------------------------------------------------------


def test_unknown_parent_names_the_gate() -> None:
    with pytest.raises(
        TemplateError, match=r"gate 'cd3' names parent 'lymphs', which is not defined"
    ):
        GatingStrategy([RectangleGate("cd3", parent="lymphs", dimensions=(X,), ranges=((1, 2),))])


def test_cycle_is_reported_with_its_members() -> None:
    gates = [
        RectangleGate("a", parent="c", dimensions=(X,), ranges=((1, 2),)),
        RectangleGate("b", parent="a", dimensions=(X,), ranges=((1, 2),)),
        RectangleGate("c", parent="b", dimensions=(X,), ranges=((1, 2),)),
    ]
    with pytest.raises(TemplateError, match=r"gates form a cycle: a -> c -> b -> a"):
        GatingStrategy(gates)


def test_duplicate_ids_and_bad_shapes_are_refused() -> None:
    with pytest.raises(TemplateError, match="'a' is used twice"):
        GatingStrategy([RectangleGate("a", dimensions=(X,), ranges=((1, 2),))] * 2)
    with pytest.raises(TemplateError, match="'p': a polygon needs at least three vertices"):
        PolygonGate("p", dimensions=(X, Y), vertices=((0, 0), (1, 1)))
    with pytest.raises(TemplateError, match="'n': 'not' takes exactly one gate"):
        BooleanGate("n", op=BooleanOp.NOT, operands=(GateRef("a"), GateRef("b")))
    with pytest.raises(TemplateError, match=r"'r': min 5 > max 1"):
        RectangleGate("r", dimensions=(X,), ranges=((5, 1),))


def test_missing_channel_lists_the_files_channels() -> None:
    sample = read_fcs(shared_path("gatingml", "data1.fcs"))
    strategy = GatingStrategy(
        [RectangleGate("cd3", dimensions=(Dimension("CD3-A"),), ranges=((1, None),))]
    )
    with pytest.raises(TemplateError) as caught:
        strategy.apply(sample)
    message = str(caught.value)
    assert message.startswith(
        f"{sample.path}: the gates use channel 'CD3-A', which data1.fcs lacks"
    )
    assert (
        "channels in the file: FSC-H (FSC-Height), SSC-H (SSC-Height), FL1-H (CD4 FITC)" in message
    )


def test_unknown_compensation_reference_is_named() -> None:
    sample = read_fcs(shared_path("gatingml", "data1.fcs"))
    strategy = GatingStrategy(
        [
            RectangleGate(
                "r", dimensions=(Dimension("FL1-H", compensation="Acq"),), ranges=((1, None),)
            )
        ]
    )
    with pytest.raises(
        TemplateError, match=r"unknown compensation reference 'Acq' \(known: uncompensated, FCS\)"
    ):
        strategy.apply(sample)


# bad GatingML -------------------------------------------------------------------------------

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
    'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">\n'
)
RANGE = (
    '<gating:RectangleGate gating:id="{id}"{parent}><gating:dimension gating:min="1">'
    '<data-type:fcs-dimension data-type:name="FL1-H"/></gating:dimension></gating:RectangleGate>'
)


def _write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    path = tmp_path / "gates.xml"
    path.write_text(head + body + "</gating:Gating-ML>\n", encoding="utf-8")
    return path


def test_gatingml_unknown_gate_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, '<gating:SplineGate gating:id="S1"/>')
    with pytest.raises(
        TemplateError,
        match=r"gates.xml: gate 'S1': unknown gate kind gating:SplineGate \(supported: gating:RectangleGate",
    ):
        read_gatingml(path)


def test_gatingml_missing_parent_names_gate_and_file(tmp_path: Path) -> None:
    path = _write(tmp_path, RANGE.format(id="R2", parent=' gating:parent_id="Nowhere"'))
    with pytest.raises(
        TemplateError, match=r"gates.xml: gate 'R2' names parent 'Nowhere', which is not defined"
    ):
        read_gatingml(path)


def test_gatingml_cycle(tmp_path: Path) -> None:
    body = RANGE.format(id="A", parent=' gating:parent_id="B"') + RANGE.format(
        id="B", parent=' gating:parent_id="A"'
    )
    with pytest.raises(TemplateError, match=r"gates form a cycle: A -> B -> A"):
        read_gatingml(_write(tmp_path, body))


def test_gatingml_unknown_transformation_ref(tmp_path: Path) -> None:
    body = RANGE.format(id="A", parent="").replace(
        'gating:min="1"', 'gating:min="1" gating:transformation-ref="Nope"'
    )
    with pytest.raises(
        TemplateError, match=r"gate 'A': unknown transformation-ref 'Nope' \(defined: none\)"
    ):
        read_gatingml(_write(tmp_path, body))


def test_gatingml_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
        '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating">&lol2;'
    )
    path = _write(tmp_path, "", head=bomb)
    with pytest.raises(TemplateError, match=r"gates\.xml: refused unsafe XML"):
        read_gatingml(path)


def test_gatingml_malformed_and_foreign_documents(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<gating:Gating-ML", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"broken\.xml: malformed XML"):
        read_gatingml(path)
    path.write_text("<workspace/>", encoding="utf-8")
    with pytest.raises(
        TemplateError, match="not a GatingML document: the root element is <workspace>"
    ):
        read_gatingml(path)
    with pytest.raises(TemplateError, match=r"missing\.xml: cannot read GatingML"):
        read_gatingml(tmp_path / "missing.xml")


def test_gatingml_without_top_level_gates_says_where_they_are() -> None:
    path = shared_path("gatingml", "gml", "gml_range_gate_attr_testing.xml")
    with pytest.raises(
        TemplateError,
        match=r"holds no gates \(found gating:RectangleGate nested inside another element",
    ):
        read_gatingml(path)
