"""Attacks on the workspace writer: every workspace it writes is well-formed XML that FlowKit's
Workspace reads back with our counts, or it is refused by name with nothing written."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.flow.gating import BooleanGate, BooleanOp, GateRef, PolygonGate, RectangleGate
from cytorelease.flow.gating.dimensions import Dimension
from cytorelease.flow.sample import Sample
from cytorelease.flow.wsp.write import export_wsp
from tests.flow.test_wsp_export import (
    CD4,
    CD8,
    _applied,
    _assert_flowkit_agrees,
    _flowkit_results,
    stained,
)

__all__ = ["stained"]  # the fixture, shared with test_wsp_export

SCATTER = (Dimension("FSC-A"), Dimension("SSC-A"))


def _round_trip(result: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.wsp"
    export_wsp(result, out)
    ET.parse(out)  # well-formed
    theirs = _flowkit_results(out)
    assert len(theirs) == 1
    _assert_flowkit_agrees(result, next(iter(theirs.values())))


@pytest.mark.parametrize(
    "name",
    [
        "CD4+ & <CD8> \"double\" 'single'",
        "CD4\u207a \u00e9\u00e8 \u03b1\u03b2 T cells \u2013 \u00b5",
        "N" * 5_000,
        "  leading and trailing  ",
    ],
)
def test_a_population_name_is_written_and_read_back(
    stained: Sample, tmp_path: Path, name: str
) -> None:
    gates = [
        RectangleGate(name, dimensions=SCATTER, ranges=((2e4, 2.5e5), (0.0, 2e5))),
    ]
    _round_trip(_applied(stained, gates), tmp_path)


@pytest.mark.parametrize("name", ["bell\x07", "a/b", "tab\x0bvt"])
def test_a_name_flowjo_or_xml_cannot_hold_is_refused_and_nothing_written(
    stained: Sample, tmp_path: Path, name: str
) -> None:
    gates = [RectangleGate(name, dimensions=SCATTER, ranges=((2e4, None), (0.0, 2e5)))]
    out = tmp_path / "out.wsp"
    with pytest.raises(CytoreleaseError):
        export_wsp(_applied(stained, gates), out)
    assert not out.exists()


def test_a_rectangle_open_on_one_side_is_read_back(stained: Sample, tmp_path: Path) -> None:
    gates = [RectangleGate("cells", dimensions=SCATTER, ranges=((2e4, None), (None, 2e5)))]
    _round_trip(_applied(stained, gates), tmp_path)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_vertex_that_is_no_finite_number_is_refused(
    stained: Sample, tmp_path: Path, bad: float
) -> None:
    out = tmp_path / "out.wsp"
    with pytest.raises(CytoreleaseError):
        gates = [
            PolygonGate(
                "poly",
                dimensions=SCATTER,
                vertices=((2e4, 0.0), (2.5e5, bad), (2.5e5, 2e5), (2e4, 2e5)),
            )
        ]
        export_wsp(_applied(stained, gates), out)
    assert not out.exists()


def test_a_boolean_of_gates_under_other_parents_is_refused_or_read_back(
    stained: Sample, tmp_path: Path
) -> None:
    gates = [
        RectangleGate("cells", dimensions=SCATTER, ranges=((2e4, 2.5e5), (0.0, 2e5))),
        RectangleGate("CD4", parent="cells", dimensions=(CD4,), ranges=((0.5, None),)),
        RectangleGate("CD8", dimensions=(CD8,), ranges=((0.5, None),)),
        BooleanGate(
            "both", parent="cells", op=BooleanOp.AND, operands=(GateRef("CD4"), GateRef("CD8"))
        ),
    ]
    result = _applied(stained, gates)
    out = tmp_path / "out.wsp"
    try:
        export_wsp(result, out)
    except CytoreleaseError as error:
        assert "'both'" in str(error)
        assert not out.exists()
        return
    again = tmp_path / "again"
    again.mkdir()
    _round_trip(result, again)


def test_a_target_that_exists_is_a_folder_or_in_no_folder_is_refused(
    stained: Sample, tmp_path: Path
) -> None:
    result = _applied(
        stained, [RectangleGate("cells", dimensions=SCATTER, ranges=((2e4, None), (0.0, 2e5)))]
    )
    existing = tmp_path / "old.wsp"
    existing.write_bytes(b"analyst's work")
    for target in (existing, tmp_path, tmp_path / "missing" / "out.wsp"):
        with pytest.raises(InputError) as info:
            export_wsp(result, target)
        assert str(target) in str(info.value)
    assert existing.read_bytes() == b"analyst's work"


def test_flow_gate_refuses_an_export_into_a_missing_folder_with_exit_2(tmp_path: Path) -> None:
    from tests.cli_contract import assert_bad_input, invoke

    data = Path(__file__).resolve().parents[1] / "data" / "flowjo"
    target = tmp_path / "missing" / "out.wsp"
    result = invoke(
        [
            "flow", "gate", str(data / "test_data_diamond_01.fcs"),
            "--template", str(data / "test_data_diamond_biex_rect.wsp"),
            "--export-wsp", str(target),
        ]
    )  # fmt: skip
    assert "does not exist" in assert_bad_input(result, target)
    assert not target.parent.exists()


@pytest.mark.parametrize("names", [("FSC A", "SSC A"), ("FSC,A", "SSC,A"), ('FSC & "A"', "S&S<C>")])
def test_channels_named_with_spaces_commas_or_xml_characters(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    """Every written workspace is read back with our counts, or refused by name."""
    import numpy as np

    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    rng = np.random.default_rng(7)
    events = rng.uniform(0, 2.6e5, size=(5_000, 2))
    fcs = tmp_path / "odd.fcs"
    write_fcs(fcs, events, [ChannelSpec(n) for n in names], keywords={"$FIL": "odd.fcs"})
    sample = read_fcs(fcs)
    dims = tuple(Dimension(n) for n in names)
    gates = [RectangleGate("box", dimensions=dims, ranges=((5e4, 2e5), (None, 1.5e5)))]
    result = _applied(sample, gates)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    try:
        export_wsp(result, out_dir / "x.wsp")
    except CytoreleaseError as error:
        assert not (out_dir / "x.wsp").exists()
        assert any(n in str(error) for n in names), str(error)
        return
    (out_dir / "x.wsp").unlink()
    _round_trip(result, out_dir)
