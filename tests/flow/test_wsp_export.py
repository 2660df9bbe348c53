"""FlowJo workspace export: FlowKit's Workspace loads what we write, opens the FCS file by its
URI and counts every population exactly as we did; what FlowJo cannot hold is refused."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease.errors import CytoreleaseError, TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import (
    BooleanGate,
    BooleanOp,
    Dimension,
    EllipsoidGate,
    GateRef,
    GatingResult,
    GatingStrategy,
    PolygonGate,
    Quadrant,
    QuadrantDivider,
    QuadrantGate,
    RatioDimension,
    RectangleGate,
    gate_sample,
    load_template,
)
from cytorelease.flow.gating.preprocess import preprocessed_events
from cytorelease.flow.gating.result import PopulationRow
from cytorelease.flow.sample import Sample
from cytorelease.flow.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
)
from cytorelease.flow.wsp.write import export_wsp, wsp_bytes
from tests.flow.gating_lots import simulated_lot

SAMPLE_LOT = Path(__file__).resolve().parents[2] / "sample_data" / "lot-CAR-0001"
LOGICLE = LogicleTransform(T=262144, W=0.5, M=4.5, A=0)
TEMPLATE = resource_dir(ResourceKind.GATING) / "cd19-car-t-panel.yaml"


def _flowkit_results(wsp: Path) -> dict[str, Any]:
    """FlowKit's gating of every sample of the workspace, files found by their URIs."""
    fk = pytest.importorskip("flowkit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FlowKit warns about its own internals
        workspace = fk.Workspace(str(wsp), find_fcs_files_from_wsp=True)
        out = {}
        for sample_id in workspace.get_sample_ids():
            workspace.analyze_samples(sample_id=sample_id, use_mp=False)
            out[sample_id] = workspace.get_gating_results(sample_id)
    return out


def _name_paths(result: GatingResult) -> dict[str, tuple[str, ...]]:
    names = dict(zip(result.populations["gate_id"], result.populations["name"], strict=True))
    return {
        gate_id: tuple(names.get(g) or g for g in result.strategy.path(gate_id))
        for gate_id in result.strategy.population_ids
    }


def _assert_flowkit_agrees(result: GatingResult, theirs: Any) -> None:
    """Every population of the result, and every gate the strategy adds (helpers of a placed
    gate), has FlowKit's count and per-event membership."""
    report = theirs.report
    fk_counts = {
        (*path[1:], name): int(count)
        for path, name, count in zip(
            report["gate_path"], report["gate_name"], report["count"], strict=True
        )
    }
    paths = _name_paths(result)
    assert set(fk_counts) == set(paths.values())
    table = result.populations.set_index("gate_id")
    applied = result.strategy.apply(result.sample, events=preprocessed_events(result.sample))
    for gate_id, path in paths.items():
        ours = result.membership.get(gate_id, applied.membership[gate_id])
        if gate_id in table.index:
            assert int(table.loc[gate_id, "count"]) == fk_counts[path], path
        assert int(np.count_nonzero(ours)) == fk_counts[path], path
        membership = theirs.get_gate_membership(path[-1], gate_path=("root", *path[:-1]))
        assert np.array_equal(np.asarray(membership), ours), path


@pytest.fixture(scope="module")
def sample_lot_result() -> GatingResult:
    return gate_sample(
        read_fcs(SAMPLE_LOT / "tube1_stained.fcs"),
        load_template(TEMPLATE),
        control=read_fcs(SAMPLE_LOT / "tube2_fmo_car.fcs"),
    )


def test_flowkit_reproduces_the_sample_lot(sample_lot_result: GatingResult, tmp_path: Path) -> None:
    out = tmp_path / "lot.wsp"
    export_wsp(sample_lot_result, out)
    (theirs,) = _flowkit_results(out).values()
    _assert_flowkit_agrees(sample_lot_result, theirs)
    # the placed tree is all there: a boolean OR of time segments, polygons, compensated
    # logicle thresholds and a NOT gate
    xml = out.read_text(encoding="utf-8")
    assert "<OrNode" in xml and "<NotNode" in xml and "<gating:PolygonGate" in xml
    assert 'data-type:name="Comp-FITC-A"' in xml
    assert 'name="Acquisition-defined"' in xml
    # every node opens a plot on its gate's parameters (a boolean on its first operand's)
    root = ET.fromstring(out.read_bytes())
    (not_cd3,) = root.iter("NotNode")
    assert [a.get("name") for a in not_cd3.findall("Graph/Axis")] == ["Comp-BV421-A", ""]


def test_flowkit_reproduces_another_seed_and_both_samples_share_a_workspace(
    sample_lot_result: GatingResult, tmp_path: Path
) -> None:
    lot = simulated_lot(tmp_path / "seed11", 11)
    # another file name (FlowJo names a sample by its file), with a space and a '#' that its
    # URI must percent-encode for FlowKit to find the file
    renamed = tmp_path / "seed 11 #stained.fcs"
    renamed.write_bytes(lot.stained.path.read_bytes())
    other = gate_sample(read_fcs(renamed), load_template(TEMPLATE), control=lot.fmo)
    out = tmp_path / "two.wsp"
    export_wsp([sample_lot_result, other], out)
    theirs = _flowkit_results(out)
    assert set(theirs) == {"tube1_stained.fcs", "seed 11 #stained.fcs"}
    _assert_flowkit_agrees(sample_lot_result, theirs["tube1_stained.fcs"])
    _assert_flowkit_agrees(other, theirs["seed 11 #stained.fcs"])
    assert "seed%2011%20%23stained.fcs" in out.read_text(encoding="utf-8")
    counts = other.populations.set_index("gate_id")["count"]
    assert 0 < counts["car"] < counts["cd3"] < counts["viable"]


# hand-built trees on the sample lot's stained tube -------------------------------------------
def _applied(
    sample: Sample, gates: list[Any], spillovers: tuple[SpilloverMatrix, ...] = ()
) -> GatingResult:
    strategy = GatingStrategy(gates, spillovers)
    return strategy.apply(sample, events=preprocessed_events(sample))


def _renamed(result: GatingResult, *names: str) -> tuple[PopulationRow, ...]:
    """The result's rows with these names, in row order."""
    return tuple(replace(row, name=n) for row, n in zip(result.rows, names, strict=True))


@pytest.fixture(scope="module")
def stained() -> Sample:
    return read_fcs(SAMPLE_LOT / "tube1_stained.fcs")


CD4 = Dimension("APC-H7-A", LOGICLE, "FCS")
CD8 = Dimension("PE-Cy7-A", LOGICLE, "FCS")
# ids with every character XML escapes: they become FlowJo population names
ODD = "CD4+ & <CD8> \"double\" 'single'"


def _every_kind() -> list[Any]:
    return [
        PolygonGate(
            "cells",
            dimensions=(Dimension("FSC-A"), Dimension("SSC-A")),
            vertices=(
                (20000.0, 5000.0),
                (200000.0, 8000.0),
                (220000.0, 150000.0),
                (30000.0, 90000.0),
            ),
        ),
        RectangleGate(
            "singlets",
            parent="cells",
            dimensions=(Dimension("FSC-A"), Dimension("FSC-H", LinearTransform(T=262144, A=50))),
            ranges=((None, 150000.0), (0.1, 0.9)),
        ),
        RectangleGate(
            "cd3",
            parent="singlets",
            dimensions=(Dimension("CD3", LOGICLE, "FCS"),),  # a label: written as its $PnN
            ranges=((0.45, None),),
        ),
        # compensated, transformed, self-intersecting: the overlap is a hole in both readers
        PolygonGate(
            "cd4_cd8_poly",
            parent="cd3",
            dimensions=(CD4, CD8),
            vertices=((0.2, 0.2), (0.8, 0.25), (0.7, 0.9), (0.5, 0.3), (0.3, 0.85)),
        ),
        QuadrantGate(
            "quad",
            parent="cd3",
            dividers=(QuadrantDivider("d4", CD4, (0.45,)), QuadrantDivider("d8", CD8, (0.5,))),
            quadrants=(
                Quadrant(ODD, (("d4", 1.0), ("d8", 0.0))),
                Quadrant("cd4_neg_cd8_pos", (("d4", 0.0), ("d8", 1.0))),
                Quadrant("double_neg", (("d4", 0.0), ("d8", 0.0))),
            ),
        ),
        RectangleGate(
            "car",
            parent="cd3",
            dimensions=(Dimension("PE-A", AsinhTransform(T=262144, M=4.5, A=0.5), "FCS"),),
            ranges=((0.45, 0.99),),
        ),
        RectangleGate(
            "cd19_log",
            parent="singlets",
            dimensions=(Dimension("APC-A", LogTransform(T=262144, M=5), "FCS"),),
            ranges=((0.5, None),),
        ),
        BooleanGate(
            "car_and_cd4", parent="cd3", op=BooleanOp.AND, operands=(GateRef(ODD), GateRef("car"))
        ),
        BooleanGate(
            "car_or_cd8",
            parent="cd3",
            op=BooleanOp.OR,
            operands=(GateRef("car"), GateRef("cd4_neg_cd8_pos")),
        ),
        BooleanGate("not_cd3", parent="singlets", op=BooleanOp.NOT, operands=(GateRef("cd3"),)),
        RectangleGate(
            "b_cells",
            parent="not_cd3",
            dimensions=(Dimension("APC-A", LogTransform(T=262144, M=5), "FCS"),),
            ranges=((0.6, None),),
        ),
    ]


def test_every_kind_flowjo_holds_gives_flowkits_counts(stained: Sample, tmp_path: Path) -> None:
    result = _applied(stained, _every_kind())
    out = tmp_path / "kinds.wsp"
    export_wsp(result, out)
    (theirs,) = _flowkit_results(out).values()
    _assert_flowkit_agrees(result, theirs)
    counts = result.populations.set_index("gate_id")["count"]
    for gate_id, parent in [
        ("singlets", "cells"),
        ("cd3", "singlets"),
        ("cd4_cd8_poly", "cd3"),
        (ODD, "cd3"),
        ("car", "cd3"),
        ("car_and_cd4", "car"),
        ("car_or_cd8", "cd3"),
        ("not_cd3", "singlets"),
        ("b_cells", "not_cd3"),
        ("cd19_log", "singlets"),
    ]:
        assert 0 < counts[gate_id] < counts[parent], gate_id
    root = ET.fromstring(out.read_bytes())  # well-formed, the odd name escaped
    names = [p.get("name") for p in root.iter("Population")]
    assert ODD in names
    dependents = [d.get("name") for d in root.iter("Dependent")]
    assert f"cells/singlets/cd3/{ODD}" in dependents
    uri = root.find("SampleList/Sample/DataSet").get("uri")  # type: ignore[union-attr]
    assert uri == "file:" + str((SAMPLE_LOT / "tube1_stained.fcs").resolve())


def test_a_named_matrix_is_the_samples_matrix(stained: Sample, tmp_path: Path) -> None:
    panel = SpilloverMatrix(
        "two_colour",
        ("CD3 dye", "CD45 dye"),
        ("BV421-A", "FITC-A"),
        np.array([[1.0, 0.08], [0.03, 1.0]]),
    )
    gates = [
        RectangleGate(
            "cd3_cd45",
            dimensions=(
                Dimension("CD3 dye", LOGICLE, "two_colour"),
                Dimension("FITC-A", LOGICLE, "two_colour"),
            ),
            ranges=((0.45, None), (0.4, 0.95)),
        )
    ]
    result = _applied(stained, gates, (panel,))
    out = tmp_path / "named.wsp"
    export_wsp(result, out)
    (theirs,) = _flowkit_results(out).values()
    _assert_flowkit_agrees(result, theirs)
    xml = out.read_text(encoding="utf-8")
    assert 'name="two_colour"' in xml and 'data-type:name="Comp-BV421-A"' in xml
    assert 0 < result.populations["count"].iloc[0] < stained.event_count


def test_our_reader_reads_the_written_workspace(
    sample_lot_result: GatingResult, stained: Sample, tmp_path: Path
) -> None:
    run = pytest.importorskip("cytorelease.flow.wsp.run")
    for name, result in (
        ("lot.wsp", sample_lot_result),
        ("kinds.wsp", _applied(stained, _every_kind())),
    ):
        out = tmp_path / name
        export_wsp(result, out)
        again = run.gate_with_workspace(result.sample, out)
        theirs = dict(zip(again.populations["path"], again.populations["count"], strict=True))
        paths = _name_paths(result)
        applied = result.strategy.apply(result.sample, events=preprocessed_events(result.sample))
        assert set(theirs) == set(paths.values())
        for gate_id, path in paths.items():
            assert theirs[path] == int(
                applied.populations.set_index("gate_id").loc[gate_id, "count"]
            )


# refusals --------------------------------------------------------------------------------
SCATTER = (Dimension("FSC-A"), Dimension("SSC-A"))
REFUSED = [
    (
        [
            EllipsoidGate(
                "blob",
                dimensions=SCATTER,
                mean=(1e5, 5e4),
                covariance=((1e8, 0.0), (0.0, 1e8)),
            )
        ],
        r"gate 'blob' \(EllipsoidGate\): FlowJo stores an ellipse by four points",
    ),
    (
        [
            RectangleGate("a", dimensions=(Dimension("FSC-A"),), ranges=((1e4, None),)),
            RectangleGate("b", dimensions=(Dimension("SSC-A"),), ranges=((1e4, None),)),
            BooleanGate(
                "a_not_b", op=BooleanOp.AND, operands=(GateRef("a"), GateRef("b", complement=True))
            ),
        ],
        r"gate 'a_not_b' \(and\) takes the complement of 'b'",
    ),
    (
        [
            RectangleGate(
                "ratio",
                dimensions=(RatioDimension("fsc_ratio", "FSC-H", "FSC-A"),),
                ranges=((0.8, 1.2),),
            )
        ],
        r"gate 'ratio' reads the ratio 'fsc_ratio'",
    ),
    (
        [
            RectangleGate(
                "cube",
                dimensions=(*SCATTER, Dimension("FSC-H")),
                ranges=((1.0, 2.0), (1.0, 2.0), (1.0, 2.0)),
            )
        ],
        r"gate 'cube' is a rectangle of 3 dimensions",
    ),
    (
        [
            RectangleGate(
                "x", dimensions=(Dimension("FITC-A", LOGICLE, "FCS"),), ranges=((0.4, None),)
            ),
            RectangleGate(
                "y",
                dimensions=(
                    Dimension("FITC-A", LogicleTransform(T=262144, W=1, M=4.5, A=0), "FCS"),
                ),
                ranges=((0.4, None),),
            ),
        ],
        r"gates 'x' and 'y' read 'Comp-FITC-A' on different scales",
    ),
    (
        [
            RectangleGate(
                "hyper",
                dimensions=(Dimension("FITC-A", HyperlogTransform(T=262144, W=0.5, M=4.5, A=0)),),
                ranges=((0.4, None),),
            )
        ],
        r"gate 'hyper' reads hyperlog\(.*\): FlowJo workspaces hold linear, log, arcsinh",
    ),
    (
        [RectangleGate("live", dimensions=(Dimension("FSC-A"),), ranges=((1e4, None),))],
        None,  # named below: 'Live/Dead' as the population's name
    ),
    (
        [
            RectangleGate(
                "low_log",
                dimensions=(Dimension("APC-A", LogTransform(T=262144, M=5), "FCS"),),
                ranges=((None, 0.5),),
            )
        ],
        r"gate 'low_log' reads flog\(.*\) with no lower bound above 0",
    ),
    (
        [
            PolygonGate(
                "log_poly",
                dimensions=(
                    Dimension("APC-A", LogTransform(T=262144, M=5), "FCS"),
                    Dimension("SSC-A"),
                ),
                vertices=((0.5, 1e3), (0.9, 1e3), (0.9, 1e5)),
            )
        ],
        r"gate 'log_poly' is a polygon on flog",
    ),
]


@pytest.mark.parametrize(("gates", "message"), REFUSED)
def test_what_flowjo_cannot_hold_is_refused_by_name(
    stained: Sample, tmp_path: Path, gates: list[Any], message: str | None
) -> None:
    result = _applied(stained, gates)
    if message is None:  # a name FlowJo's paths cannot carry
        rows = _renamed(result, "Live/Dead")
        result = GatingResult(rows, result.membership, result.sample, result.strategy)
        message = r"gate 'live' is called 'Live/Dead': FlowJo separates the names"
    out = tmp_path / "refused.wsp"
    with pytest.raises(TemplateError, match=message):
        export_wsp(result, out)
    assert not out.exists()


def test_two_matrices_in_one_sample_are_refused(stained: Sample) -> None:
    panel = SpilloverMatrix("panel", ("FITC-A",), ("FITC-A",), np.array([[1.0]]))
    gates = [
        RectangleGate(
            "a", dimensions=(Dimension("BV421-A", LOGICLE, "FCS"),), ranges=((0.4, None),)
        ),
        RectangleGate(
            "b", dimensions=(Dimension("FITC-A", LOGICLE, "panel"),), ranges=((0.4, None),)
        ),
    ]
    with pytest.raises(TemplateError, match=r"gate 'b' is compensated with 'panel' but gate 'a'"):
        wsp_bytes(_applied(stained, gates, (panel,)))


def test_siblings_of_one_name_are_refused(stained: Sample) -> None:
    gates = [
        RectangleGate("a", dimensions=(Dimension("FSC-A"),), ranges=((1e4, None),)),
        RectangleGate("b", dimensions=(Dimension("SSC-A"),), ranges=((1e4, None),)),
    ]
    result = _applied(stained, gates)
    rows = _renamed(result, "same", "same")
    renamed = GatingResult(rows, result.membership, result.sample, result.strategy)
    with pytest.raises(TemplateError, match=r"gates 'a' and 'b' are both called 'same'"):
        wsp_bytes(renamed)


def test_a_name_xml_cannot_carry_is_refused(stained: Sample) -> None:
    result = _applied(
        stained,
        [RectangleGate("bell\x07", dimensions=(Dimension("FSC-A"),), ranges=((1e4, None),))],
    )
    with pytest.raises(CytoreleaseError, match="a character XML cannot carry"):
        wsp_bytes(result)


def test_flowjos_own_scales_are_written_as_flowjo_writes_them(
    stained: Sample, tmp_path: Path
) -> None:
    flowjo = pytest.importorskip("cytorelease.flow.transforms_flowjo")
    biex = flowjo.FlowJoBiexTransform(negative=0.0, width=-10.0, positive=4.418539922)
    log = flowjo.FlowJoLogTransform(offset=1.0, decades=5.4)
    gates = [
        PolygonGate(
            "cd3_cd45",
            dimensions=(Dimension("BV421-A", biex, "FCS"), Dimension("FITC-A", log, "FCS")),
            vertices=((0.45, 0.3), (0.95, 0.3), (0.95, 0.95), (0.45, 0.9)),
        ),
        RectangleGate(
            "car",
            parent="cd3_cd45",
            dimensions=(Dimension("PE-A", biex, "FCS"),),
            ranges=((0.5, None),),
        ),
    ]
    result = _applied(stained, gates)
    out = tmp_path / "flowjo_scales.wsp"
    export_wsp(result, out)
    (theirs,) = _flowkit_results(out).values()
    _assert_flowkit_agrees(result, theirs)
    counts = result.populations.set_index("gate_id")["count"]
    assert 0 < counts["car"] < counts["cd3_cd45"] < stained.event_count
    xml = out.read_text(encoding="utf-8")
    assert 'transforms:biex transforms:neg="0.0"' in xml and 'transforms:length="256"' in xml
    assert "<transforms:log " in xml


FLOWJO_DATA = Path(__file__).resolve().parents[1] / "data" / "flowjo"


@pytest.mark.parametrize(
    "workspace",
    [
        "simple_diamond_example_quad_gate.wsp",
        "test_data_diamond_asinh_rect.wsp",
        "test_data_diamond_biex_rect.wsp",
    ],
)
def test_a_workspace_flowjo_wrote_read_and_written_again_keeps_its_counts(
    workspace: str, tmp_path: Path
) -> None:
    """FlowJo's own quadrants, arcsinh and biex, through our reader and this writer: FlowKit
    counts the written file as we counted FlowJo's."""
    if not (FLOWJO_DATA / workspace).exists():
        pytest.skip(f"FlowJo example not available: {FLOWJO_DATA / workspace}")
    run = pytest.importorskip("cytorelease.flow.wsp.run")
    tube = tmp_path / "test_data_diamond_01.fcs"
    tube.write_bytes((FLOWJO_DATA / "test_data_diamond_01.fcs").read_bytes())
    result = run.gate_with_workspace(read_fcs(tube), FLOWJO_DATA / workspace)
    out = tmp_path / workspace
    export_wsp(result, out)
    (theirs,) = _flowkit_results(out).values()
    _assert_flowkit_agrees(result, theirs)
    assert (result.populations["count"] > 0).all()


def test_instrument_files_log_amplified_and_compensated(tmp_path: Path) -> None:
    """Real files: 100715.fcs (its own $SPILLOVER, logicle polygon, NOT) and 3FITC_4PE_004.fcs
    ($PnE log-amplified channels, whose data values FlowJo and FlowKit decode)."""
    from tests.conftest import shared_path

    cases = {
        "100715.fcs": [
            RectangleGate("fsc", dimensions=(Dimension("FSC-A"),), ranges=((30000.0, None),)),
            PolygonGate(
                "cd4_cd8",
                parent="fsc",
                dimensions=(
                    Dimension("V655-A", LOGICLE, "FCS"),
                    Dimension("V800-A", LOGICLE, "FCS"),
                ),
                vertices=((0.2, 0.2), (0.8, 0.25), (0.7, 0.9), (0.3, 0.85)),
            ),
            BooleanGate("rest", parent="fsc", op=BooleanOp.NOT, operands=(GateRef("cd4_cd8"),)),
        ],
        "3FITC_4PE_004.fcs": [
            PolygonGate(
                "fl1_fl2",
                dimensions=(Dimension("FL1-H", LOGICLE), Dimension("FL2-H", LOGICLE)),
                vertices=((0.3, 0.3), (0.7, 0.3), (0.7, 0.8), (0.3, 0.7)),
            ),
            RectangleGate(
                "fsc", parent="fl1_fl2", dimensions=(Dimension("FSC-H"),), ranges=((200.0, None),)
            ),
        ],
    }
    for name, gates in cases.items():
        tube = tmp_path / name
        tube.write_bytes(shared_path("fcs", name).read_bytes())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the files' own quirks, reported elsewhere
            sample = read_fcs(tube)
        result = _applied(sample, gates)
        out = tmp_path / f"{name}.wsp"
        export_wsp(result, out)
        (theirs,) = _flowkit_results(out).values()
        _assert_flowkit_agrees(result, theirs)
        counts = result.populations["count"]
        assert ((counts > 0) & (counts < sample.event_count)).all(), name


def test_a_result_flowjo_would_count_otherwise_is_refused(stained: Sample) -> None:
    """Events left out for NaN/inf values, or one data set of several, name the file."""
    result = _applied(
        stained, [RectangleGate("fsc", dimensions=(Dimension("FSC-A"),), ranges=((1e4, None),))]
    )
    screened = replace(result, details={"nonfinite": {"excluded": 3}})
    with pytest.raises(CytoreleaseError, match="3 events hold NaN or infinite values"):
        wsp_bytes(screened)
    second = replace(result, sample=replace(stained, dataset_index=1, dataset_count=2))
    with pytest.raises(CytoreleaseError, match="data set 2 of 2: a FlowJo sample names its file"):
        wsp_bytes(second)
