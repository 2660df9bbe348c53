"""GatingML spectrum matrices: how compensated dimensions are resolved, and malformed matrices.

FlowKit's GatingML export of a FlowJo workspace's acquisition-defined matrix writes a
``spectrumMatrix`` whose fluorochromes have empty names; gates then name the detectors. The
strategy here is built and exported by FlowKit itself the same way (a ``Matrix`` without
fluorochrome names, logicle scales, 14 gates on an 8-colour tube), and our counts must equal
the counts FlowKit gets from the same document and the same events.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import SpilloverMatrix, sample_spillover
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating.gatingml_import import read_gatingml
from cytorelease.flow.gating.run import gate_with_gatingml
from tests.conftest import shared_path

fk = pytest.importorskip("flowkit")

# the 8 detectors of the matrix (CD markers of 100715.fcs in brackets)
DETECTORS = ("B515-A", "R780-A", "R710-A", "R660-A", "V800-A", "V655-A", "V585-A", "V450-A")
# KI67, CD3, CD28, CD45RO, CD8, CD4, CD57, VIVID/CD14; G610-A (CCR7) and G660-A (CD27) are
# outside the matrix and pass through compensation unchanged
MATRIX_ID = "Acquisition-defined"


def _flowkit_strategy() -> object:
    """A FlowJo-like 14-gate strategy in FlowKit, compensated by an unnamed 8x8 matrix."""
    # the tube's own $SPILL coefficients for these detectors, as FlowJo's matrix holds them
    full = sample_spillover(read_fcs(shared_path("fcs", "100715.fcs")))
    assert full is not None
    columns = [full.detectors.index(d) for d in DETECTORS]
    matrix = full.matrix[np.ix_(columns, columns)]
    strategy = fk.GatingStrategy()
    strategy.add_comp_matrix(MATRIX_ID, fk.Matrix(matrix, list(DETECTORS)))  # no fluorochromes
    strategy.add_transform("logicle", fk.transforms.LogicleTransform(262144, 0.5, 4.5, 0))

    def dim(name: str, lo: float | None = None, hi: float | None = None) -> object:
        return fk.Dimension(name, MATRIX_ID, "logicle", range_min=lo, range_max=hi)

    def raw(name: str) -> object:
        return fk.Dimension(name, "uncompensated", None)

    def add(gate: object, *path: str) -> None:
        strategy.add_gate(gate, gate_path=("root", *path))

    add(
        fk.gates.PolygonGate(
            "Cells",
            [raw("FSC-A"), raw("SSC-A")],
            [[20000, 0], [150000, 0], [150000, 5000], [20000, 5000]],
        )
    )
    add(
        fk.gates.PolygonGate(
            "Singlets",
            [raw("FSC-A"), raw("FSC-H")],
            [[20000, 12000], [150000, 90000], [150000, 210000], [20000, 28000]],
        ),
        "Cells",
    )
    add(fk.gates.RectangleGate("Live", [dim("V450-A", hi=0.57)]), "Cells", "Singlets")
    live = ("Cells", "Singlets", "Live")
    add(fk.gates.RectangleGate("CD3+", [dim("R780-A", lo=0.15)]), *live)
    t = (*live, "CD3+")
    add(fk.gates.RectangleGate("CD4+", [dim("V655-A", lo=0.5), dim("V800-A", hi=0.52)]), *t)
    add(fk.gates.RectangleGate("CD8+", [dim("V800-A", lo=0.52), dim("V655-A", hi=0.5)]), *t)
    cd4, cd8 = (*t, "CD4+"), (*t, "CD8+")
    add(fk.gates.RectangleGate("CD4 CD45RO+", [dim("R660-A", lo=0.4)]), *cd4)
    add(fk.gates.RectangleGate("CD4 CD28+", [dim("R710-A", lo=0.5)]), *cd4)
    add(fk.gates.RectangleGate("CD4 CCR7+", [dim("G610-A", lo=0.53)]), *cd4)
    add(fk.gates.RectangleGate("CD8 CD57+", [dim("V585-A", lo=0.57)]), *cd8)
    add(fk.gates.RectangleGate("CD8 KI67+", [dim("B515-A", lo=0.56)]), *cd8)
    add(
        fk.gates.PolygonGate(
            "CD8 CD27+ CD28+",
            [dim("G660-A"), dim("R710-A")],
            [[0.56, 0.5], [1.0, 0.5], [1.0, 1.0], [0.56, 1.0]],
        ),
        *cd8,
    )
    add(
        fk.gates.EllipsoidGate(
            "CD4 memory",
            [dim("R660-A"), dim("R710-A")],
            [0.42, 0.5],
            [[0.003, 0.001], [0.001, 0.003]],
            1.0,
        ),
        *cd4,
    )
    add(
        fk.gates.BooleanGate(
            "CD4 CD45RO+ CCR7-",
            "and",
            [
                {"ref": "CD4 CD45RO+", "path": ("root", *cd4), "complement": False},
                {"ref": "CD4 CCR7+", "path": ("root", *cd4), "complement": True},
            ],
        ),
        *cd4,
    )
    return strategy


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The FlowKit-exported document and FlowKit's own counts on 100715.fcs."""
    fcs = shared_path("fcs", "100715.fcs")
    sample = fk.Sample(str(fcs))
    strategy = _flowkit_strategy()
    buffer = io.BytesIO()
    fk.export_gatingml(strategy, buffer)
    path = tmp_path_factory.mktemp("gml") / "flowjo_8colour.xml"
    path.write_bytes(buffer.getvalue())
    results = strategy.gate_sample(sample)
    counts = {str(row.gate_name): int(row.count) for row in results.report.itertuples(index=False)}
    return path, counts


def test_the_export_has_unnamed_fluorochromes(exported: tuple[Path, dict[str, int]]) -> None:
    path, counts = exported
    matrix = read_gatingml(path).spillovers[MATRIX_ID]
    assert matrix.fluorochromes == ("",) * 8 and matrix.detectors == DETECTORS
    assert len(counts) == 14


def test_counts_equal_flowkits_on_the_same_events(exported: tuple[Path, dict[str, int]]) -> None:
    path, expected = exported
    result = gate_with_gatingml(read_fcs(shared_path("fcs", "100715.fcs")), path)
    ours = {str(r["name"]): int(r["count"]) for r in result.population_records()}
    assert ours == expected
    # populations neither empty nor everything, so a wrong column would show
    assert all(0 < expected[g] < expected["Singlets"] for g in expected if "CD" in g)


def test_reading_the_detectors_raw_would_change_most_counts(
    exported: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    """What the unresolved names used to do (raw detector values): the counts differ, so the
    equality above is a real check of the compensated columns."""
    path, expected = exported
    raw = tmp_path / "raw.xml"
    raw.write_text(
        path.read_text().replace(
            f'compensation-ref="{MATRIX_ID}"', 'compensation-ref="uncompensated"'
        )
    )
    result = gate_with_gatingml(read_fcs(shared_path("fcs", "100715.fcs")), raw)
    wrong = [r["name"] for r in result.population_records() if r["count"] != expected[r["name"]]]
    assert len(wrong) >= 10  # 11 of the 14 on this tube


def _matrix_xml(
    fluorochromes: list[str],
    detectors: list[str],
    rows: list[list[str]],
    *,
    dimension: str = "FL1-H",
    inverted: bool = False,
) -> str:
    flag = ' transforms:matrix-inverted-already="true"' if inverted else ""
    names = "".join(f'<data-type:fcs-dimension data-type:name="{n}"/>' for n in fluorochromes)
    dets = "".join(f'<data-type:fcs-dimension data-type:name="{n}"/>' for n in detectors)
    spectra = "".join(
        "<transforms:spectrum>"
        + "".join(f'<transforms:coefficient transforms:value="{v}"/>' for v in row)
        + "</transforms:spectrum>"
        for row in rows
    )
    return (
        '<?xml version="1.0"?><gating:Gating-ML '
        'xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
        'xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations" '
        'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
        f'<transforms:spectrumMatrix transforms:id="Spill1"{flag}>'
        f"<transforms:fluorochromes>{names}</transforms:fluorochromes>"
        f"<transforms:detectors>{dets}</transforms:detectors>{spectra}"
        "</transforms:spectrumMatrix>"
        '<gating:RectangleGate gating:id="G1">'
        '<gating:dimension gating:compensation-ref="Spill1" gating:min="10">'
        f'<data-type:fcs-dimension data-type:name="{dimension}"/></gating:dimension>'
        "</gating:RectangleGate></gating:Gating-ML>"
    )


TWO = ["FL1-H", "FL2-H"]


@pytest.mark.parametrize(
    ("fluorochromes", "detectors", "rows", "inverted", "message"),
    [
        (["A", "B"], TWO, [["1", "0.5"], ["2", "1"]], False, "'Spill1' is singular"),
        (["A", "B"], TWO, [["1", "0.5"], ["2", "1"]], True, "'Spill1' is marked matrix-inv"),
        (["A", "B"], TWO, [["1", "NaN"], ["0", "1"]], False, "'Spill1' holds a NaN"),
        (["A", "B"], TWO, [["1", "inf"], ["0", "1"]], True, "'Spill1' is marked matrix-inv"),
        (["A", "B"], TWO, [["1", "0.1"]], False, "'Spill1' has 1 spectra for 2 fluoro"),
        (["A"], TWO, [["1", "0.1"], ["0", "1"]], False, "'Spill1' has 2 spectra for 1 fluoro"),
        (["A", "B"], TWO, [["1", "0.1"], ["0"]], False, "spectrum 2 has 1 coefficients for 2"),
        (["A", "B", "C"], TWO, [["1", "0"]] * 3, False, "more fluorochromes"),
        ([], [], [], False, "'Spill1' names no detectors"),
        (["A", "A"], TWO, [["1", "0"], ["0", "1"]], False, "names fluorochrome 'A' twice"),
        (["A", "B"], ["FL1-H", "FL1-H"], [["1", "0"], ["0", "1"]], False, "detector 'FL1-H' tw"),
        (["A", "B"], ["FL1-H", ""], [["1", "0"], ["0", "1"]], False, "detector without a name"),
        (
            ["", "B"],
            ["FL1-H", "FL2-H", "FL3-H"],
            [["1", "0", "0"], ["0", "1", "0"]],
            False,
            "fluorochrome 1 has no name",
        ),
    ],
)
def test_malformed_matrices_are_one_line_errors_naming_the_matrix(
    tmp_path: Path,
    fluorochromes: list[str],
    detectors: list[str],
    rows: list[list[str]],
    inverted: bool,
    message: str,
) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(_matrix_xml(fluorochromes, detectors, rows, inverted=inverted))
    with pytest.raises(TemplateError, match=message) as caught:
        read_gatingml(path)
    assert "Spill1" in str(caught.value) and str(path) in str(caught.value)


def test_flow_gate_with_a_singular_matrix_is_one_line_and_exit_2(tmp_path: Path) -> None:
    gml = tmp_path / "singular.xml"
    gml.write_text(_matrix_xml(["A", "B"], TWO, [["1", "0.5"], ["2", "1"]]))
    fcs = shared_path("gatingml", "data1.fcs")
    run = CliRunner().invoke(app, ["flow", "gate", str(fcs), "--template", str(gml)])
    assert run.exit_code == 2, run.output
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert lines == [f"error: {gml}: spillover matrix 'Spill1' is singular"]
    assert "Traceback" not in run.output


def _gate_data1(tmp_path: Path, xml: str) -> int:
    path = tmp_path / "g.xml"
    path.write_text(xml)
    result = gate_with_gatingml(read_fcs(shared_path("gatingml", "data1.fcs")), path)
    return result.count("G1")


SPILL_ROWS = [["1", "0.5"], ["0.3", "1"]]


def test_a_detector_name_reads_that_detectors_compensated_column(tmp_path: Path) -> None:
    """Named or unnamed fluorochromes, a dimension naming the detector (as FlowKit resolves
    it) reads the same compensated column as one naming the fluorochrome."""
    by_fluorochrome = _gate_data1(
        tmp_path, _matrix_xml(["FITC", "PE"], TWO, SPILL_ROWS, dimension="FITC")
    )
    by_detector = _gate_data1(tmp_path, _matrix_xml(["FITC", "PE"], TWO, SPILL_ROWS))
    unnamed = _gate_data1(tmp_path, _matrix_xml(["", ""], TWO, SPILL_ROWS))
    raw = _gate_data1(tmp_path, _matrix_xml(["FITC", "PE"], TWO, [["1", "0"], ["0", "1"]]))
    assert by_fluorochrome == by_detector == unnamed != raw


def test_a_name_outside_matrix_and_file_is_refused_naming_both(tmp_path: Path) -> None:
    xml = _matrix_xml(["FITC", "PE"], TWO, SPILL_ROWS, dimension="APC")
    with pytest.raises(TemplateError, match=r"dimension 'APC' \(compensation-ref 'Spill1'\)"):
        _gate_data1(tmp_path, xml)


def test_a_channel_the_matrix_does_not_touch_passes_through(tmp_path: Path) -> None:
    compensated = _gate_data1(
        tmp_path, _matrix_xml(["FITC", "PE"], TWO, SPILL_ROWS, dimension="FSC-H")
    )
    as_acquired = _gate_data1(
        tmp_path, _matrix_xml(["FITC", "PE"], TWO, [["1", "0"], ["0", "1"]], dimension="FSC-H")
    )
    assert compensated == as_acquired > 0


def test_unmixed_detectors_and_ambiguous_names_are_refused() -> None:
    wide = SpilloverMatrix("W", ("A", "B"), ("d1", "d2", "d3"), np.eye(2, 3))
    assert wide.output_index("B") == 1 and wide.output_index("FSC-A") is None
    with pytest.raises(TemplateError, match="'d3' is a detector of spillover matrix 'W'"):
        wide.output_index("d3")
    crossed = SpilloverMatrix("X", ("d2", "d1"), ("d1", "d2"), np.eye(2))
    with pytest.raises(TemplateError, match="'d1' is ambiguous in spillover matrix 'X'"):
        crossed.output_index("d1")
    same = SpilloverMatrix("S", ("d1", ""), ("d1", "d2"), np.eye(2))
    assert (same.output_index("d1"), same.output_index("d2"), same.output_index("")) == (0, 1, None)
