"""GatingML ``compensation-ref="FCS"`` on a file without $SPILLOVER (issue 12 item 1).

The tube is built as a cytometer writes one (FCS 3.1, float data, scatter, three fluorescence
detectors and Time), once with its acquisition $SPILLOVER and once with the keyword left out
(as some export tools and older instruments write it). The strategy is a GatingML 2.0 document
whose fluorescence gate asks for the file's own matrix. GatingML (and FlowKit) then gate the
values as acquired; cytorelease does the same, so counts equal FlowKit's, but names it in a
``no_compensation`` flag (JSON flags, CLI line). Scatter read as acquired is not flagged.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from cytorelease.flow.compensation import Spill
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.gating.run import gate_with_gatingml
from tests.cli_contract import invoke

GML = """<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
 xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
 <gating:RectangleGate gating:id="cells">
  <gating:dimension gating:min="100" gating:max="900" gating:compensation-ref="FCS">
   <data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension>
 </gating:RectangleGate>
 <gating:RectangleGate gating:id="cd3" gating:parent_id="cells">
  <gating:dimension gating:min="300" gating:compensation-ref="FCS">
   <data-type:fcs-dimension data-type:name="FL1-A"/></gating:dimension>
  <gating:dimension gating:max="300" gating:compensation-ref="FCS">
   <data-type:fcs-dimension data-type:name="FL2-A"/></gating:dimension>
 </gating:RectangleGate>
</gating:Gating-ML>
"""

SPEC = [
    ChannelSpec("FSC-A", None, 1024),
    ChannelSpec("SSC-A", None, 1024),
    ChannelSpec("FL1-A", "CD3", 1024),
    ChannelSpec("FL2-A", "CD19", 1024),
    ChannelSpec("FL3-A", "CD8", 1024),
    ChannelSpec("Time", None, 1024),
]


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(12)
    events = rng.uniform(0, 1000, size=(3000, 6)).astype(np.float32)
    events[:, 5] = np.arange(3000) / 10
    spill = Spill(
        ("FL1-A", "FL2-A", "FL3-A"),
        np.array([[1.0, 0.3, 0.05], [0.1, 1.0, 0.2], [0.0, 0.05, 1.0]]),
    )
    with_spill, without = tmp_path / "with_spill.fcs", tmp_path / "no_spill.fcs"
    write_fcs(with_spill, events, SPEC, spill=spill)
    write_fcs(without, events, SPEC)
    gml = tmp_path / "strategy.xml"
    gml.write_text(GML, encoding="utf-8")
    return with_spill, without, gml


def test_no_spill_is_flagged_naming_file_gate_and_dimensions(tmp_path: Path) -> None:
    with_spill, without, gml = _files(tmp_path)
    result = gate_with_gatingml(read_fcs(without), gml)
    flags = [f for f in result.flags if f.code.value == "no_compensation"]
    assert len(flags) == 1
    message = flags[0].message
    assert "no_spill.fcs" in message and "FL1-A" in message and "FL2-A" in message
    assert "cd3" in message and "FSC-A" not in message and "cells" not in message
    # the file with its $SPILLOVER is compensated and raises no flag
    assert gate_with_gatingml(read_fcs(with_spill), gml).flags == ()


def test_counts_equal_flowkit_on_the_same_events(tmp_path: Path) -> None:
    flowkit = pytest.importorskip("flowkit")
    counts = {}
    for path in _files(tmp_path)[:2]:
        ours = gate_with_gatingml(read_fcs(path), tmp_path / "strategy.xml")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            strategy = flowkit.parse_gating_xml(str(tmp_path / "strategy.xml"))
            theirs = strategy.gate_sample(flowkit.Sample(str(path)))
        report = theirs.report.set_index("gate_name")
        for gate in ("cells", "cd3"):
            assert ours.count(gate) == int(report.loc[gate, "count"]), (path.name, gate)
            np.testing.assert_array_equal(ours.membership[gate], theirs.get_gate_membership(gate))
        counts[path.name] = ours.count("cd3")
    # the spill matters here: without it the fluorescence gate counts differently
    assert counts["with_spill.fcs"] != counts["no_spill.fcs"]


def test_the_cli_shows_the_flag_in_json_and_text(tmp_path: Path) -> None:
    _, without, gml = _files(tmp_path)
    result = invoke(["flow", "gate", without, "--template", gml, "--json"])
    assert result.exit_code == 0, result.output
    codes = [f["code"] for f in json.loads(result.stdout)["flags"]]
    assert codes == ["no_compensation"]
    text = invoke(["flow", "gate", without, "--template", gml])
    assert text.exit_code == 0, text.output
    assert "flag [no_compensation]" in text.stdout


def test_a_template_asking_for_the_file_spill_flags_it_on_the_coa(tmp_path: Path) -> None:
    """The release panel (compensation: file) on a stained tube written without $SPILLOVER:
    the no_compensation flag reaches the release record and the CoA."""
    from datetime import UTC, datetime

    from cytorelease.lot.release import release_lot
    from cytorelease.synth import generate_lot

    lot_dir = generate_lot(tmp_path / "lots", seed=3).lot_dir
    tube = lot_dir / "tube1_stained.fcs"
    stained = read_fcs(tube)
    specs = [ChannelSpec(c.name, c.label, c.range) for c in stained.channels]
    tube.unlink()
    write_fcs(tube, stained.events, specs, keywords={"$TIMESTEP": stained.keywords["$TIMESTEP"]})
    moment = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)
    outcome = release_lot(lot_dir, out=tmp_path / "out", created_at=moment)
    flow = next(a for a in outcome.record["analyses"] if a["analysis"] == "flow")
    expected = "tube1_stained.fcs has no spillover matrix; values are uncompensated"
    assert expected in flow["flags"]
    assert expected in outcome.report_path.read_text(encoding="utf-8")
