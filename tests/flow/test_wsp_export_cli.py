"""``flow gate --export-wsp``: the workspace is written and listed; gating the tube with it
gives the same counts; a refusal or an unwritable path is one error line and no file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import Dimension, EllipsoidGate, GatingStrategy
from cytorelease.flow.gating.gatingml_export import export_gatingml
from tests.cli_contract import assert_bad_input, invoke, one_json_document

if TYPE_CHECKING:
    from typer.testing import Result

LOT = Path(__file__).resolve().parents[2] / "sample_data" / "lot-CAR-0001"
STAINED = LOT / "tube1_stained.fcs"
FMO = LOT / "tube2_fmo_car.fcs"


def _gate(*args: object) -> Result:
    return invoke(["flow", "gate", *(str(a) for a in args)])


def test_export_wsp_is_written_listed_and_gates_the_tube_again(tmp_path: Path) -> None:
    out = tmp_path / "release tube.wsp"
    result = _gate(
        STAINED, "-t", "cd19-car-t-panel", "--control", FMO, "--export-wsp", out, "--json"
    )
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["written"]["wsp"] == [str(out)]
    root = ET.fromstring(out.read_bytes())
    assert root.get("flowJoVersion", "").startswith("10.")
    again = _gate(STAINED, "-t", out, "--json")
    assert again.exit_code == 0, again.stderr
    theirs = {p["name"]: p["count"] for p in one_json_document(again.stdout)["populations"]}
    for population in document["populations"]:
        assert theirs[population["name"]] == population["count"], population["name"]


def test_a_gate_flowjo_cannot_hold_names_the_workspace_and_writes_nothing(tmp_path: Path) -> None:
    blob = EllipsoidGate(
        "blob",
        dimensions=(Dimension("FSC-A"), Dimension("SSC-A")),
        mean=(80000.0, 30000.0),
        covariance=((4e8, 0.0), (0.0, 1e8)),
    )
    document = tmp_path / "ellipse.xml"
    export_gatingml(GatingStrategy([blob]), document, sample=read_fcs(STAINED))
    out = tmp_path / "ellipse.wsp"
    line = assert_bad_input(_gate(STAINED, "-t", document, "--export-wsp", out), out)
    assert "gate 'blob' (EllipsoidGate): FlowJo stores an ellipse" in line
    assert not out.exists()


def test_a_folder_for_the_workspace_is_one_error_line(tmp_path: Path) -> None:
    line = assert_bad_input(
        _gate(STAINED, "-t", "cd19-car-t-panel", "--control", FMO, "--export-wsp", tmp_path),
        tmp_path,
    )
    assert "is a folder where the FlowJo workspace is to be written" in line


def test_an_existing_workspace_is_never_overwritten(tmp_path: Path) -> None:
    """It may hold an analyst's gates saved in FlowJo since; refused before any gating."""
    out = tmp_path / "reviewed.wsp"
    out.write_text("<Workspace>an analyst's gates</Workspace>\n", encoding="utf-8")
    plots = tmp_path / "plots"
    line = assert_bad_input(
        _gate(STAINED, "-t", "cd19-car-t-panel", "--control", FMO, "--plots", plots,
              "--export-wsp", out),
        out,
    )  # fmt: skip
    assert "never overwritten" in line
    assert out.read_text(encoding="utf-8") == "<Workspace>an analyst's gates</Workspace>\n"
    assert not plots.exists()
