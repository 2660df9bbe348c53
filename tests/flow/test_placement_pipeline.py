"""The template pipeline on a simulated lot: placed gates are engine gates that FlowKit
reproduces exactly, flags instead of silent numbers, errors for the wrong inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import TemplateError
from cytorelease.flow.gating.gatingml_export import export_gatingml
from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.result import FlagCode
from cytorelease.flow.gating.template import load_template, parse_template
from cytorelease.flow.sample import Channel
from tests.flow.gating_lots import Lot, simulated_lot


@pytest.fixture(scope="module")
def panel():  # type: ignore[no-untyped-def]
    return load_template("cd19-car-t-panel")


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Lot:
    return simulated_lot(tmp_path_factory.mktemp("lot"), 3)


@pytest.fixture(scope="module")
def result(lot: Lot, panel):  # type: ignore[no-untyped-def]
    return gate_sample(lot.stained, panel, control=lot.fmo)


def test_flowkit_reproduces_the_placed_gates_exactly(result, lot: Lot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flowkit = pytest.importorskip("flowkit")
    out = tmp_path / "placed.xml"
    export_gatingml(result.strategy, out, sample=lot.stained)
    strategy = flowkit.parse_gating_xml(str(out))
    report = strategy.gate_sample(flowkit.Sample(str(lot.stained.path))).report
    theirs = dict(zip(report["gate_name"], report["count"], strict=True))
    ours = {row.gate_id: int(row.count) for row in result.populations.itertuples()}
    assert {g: theirs[g] for g in ours} == ours
    assert ours["cd3"] > 10_000  # a real hierarchy, not an empty one


def test_every_population_sits_inside_its_parent(result) -> None:  # type: ignore[no-untyped-def]
    for row in result.populations.itertuples():
        member = result.membership[row.gate_id]
        if row.parent is not None:
            assert not (member & ~result.membership[row.parent]).any()
            assert row.count <= row.parent_count
    rows = {r.gate_id: r for r in result.populations.itertuples()}
    assert rows["cd19"].path == ("qc", "cells", "singlets", "cd45", "viable", "cd3_neg", "cd19")
    assert rows["cd3"].count + rows["cd3_neg"].count == rows["viable"].count


def test_measurements_carry_counts_and_provenance(result, lot: Lot, panel) -> None:  # type: ignore[no-untyped-def]
    car = result.measurement("flow.car_pct_of_viable_cd3")
    rows = {r.gate_id: r for r in result.populations.itertuples()}
    assert car.value == pytest.approx(100 * rows["car"].count / rows["cd3"].count)
    assert car.unit == "%"
    assert car.details["numerator"] == {"population": "car", "count": rows["car"].count}
    assert car.method.id == "cd19-car-t-panel" and car.method.sha256 == panel.sha256
    assert car.inputs == (lot.stained.sha256, lot.fmo.sha256)
    ratio = result.measurement("flow.cd4_cd8_ratio")
    assert ratio.unit == "ratio"
    assert ratio.value == pytest.approx(rows["cd4"].count / rows["cd8"].count)
    qc = result.measurement("flow.acquisition_qc_removed_pct")
    assert qc.value == pytest.approx(100 * (1 - rows["qc"].count / lot.stained.event_count))


def test_car_threshold_is_the_fmo_percentile(result, lot: Lot) -> None:  # type: ignore[no-untyped-def]
    car = next(p for p in result.placed if p.id == "car")
    assert car.details["control"] == "control tube"
    assert car.details["control_events"] > 5_000
    gate = car.gates[-1]
    assert gate.ranges == ((car.details["threshold"], None),)
    assert gate.dimensions[0].channel == "PE-A"
    assert gate.dimensions[0].compensation == "FCS"


def test_result_dict_has_the_cli_keys(result) -> None:  # type: ignore[no-untyped-def]
    out = result.to_dict()
    assert set(out) >= {"template", "populations", "gates", "flags", "measurements"}
    assert set(out["template"]) == {"id", "version", "sha256"}
    assert set(out["populations"][0]) >= {
        "path",
        "name",
        "count",
        "parent_count",
        "percent_of_parent",
        "percent_of_total",
    }
    assert out["gates"][0]["kind"] == "time_qc"
    assert result.membership_frame().shape == (result.sample.event_count, 11)


def test_no_control_tube_flags_car_instead_of_guessing(lot: Lot, panel) -> None:  # type: ignore[no-untyped-def]
    result = gate_sample(lot.stained, panel)
    flags = [f for f in result.flags if f.gate == "car"]
    assert flags[0].code is FlagCode.NOT_PLACED
    assert "no control tube was given" in flags[0].message
    car = result.measurement("flow.car_pct_of_viable_cd3")
    assert car.value is None and "not placed" in car.details["reason"]
    assert result.measurement("flow.cd3_pct_of_viable_cd45").value is not None


def test_population_under_minimum_is_flagged(lot: Lot, panel) -> None:  # type: ignore[no-untyped-def]
    strict = panel.model_copy(update={"min_events": 50_000})
    result = gate_sample(lot.stained, strict, control=lot.fmo)
    low = {f.gate for f in result.flags if f.code is FlagCode.LOW_COUNT}
    assert {"cells", "cd3", "car"} <= low and "cd19" not in low  # cd19 sets its own minimum
    car = result.measurement("flow.car_pct_of_viable_cd3")
    assert car.value is not None
    assert any(f.startswith("low_count: CAR+ holds") for f in car.details["flags"])


def test_control_from_another_panel_is_an_error(lot: Lot, panel) -> None:  # type: ignore[no-untyped-def]
    channels = list(lot.fmo.channels)
    pe, apc = (next(i for i, c in enumerate(channels) if c.name == n) for n in ("PE-A", "APC-A"))
    channels[pe] = replace(channels[pe], label="CD19")
    channels[apc] = replace(channels[apc], label="CAR")
    other = replace(lot.fmo, channels=tuple(channels), _lookup={})
    with pytest.raises(TemplateError) as caught:
        gate_sample(lot.stained, panel, control=other)
    message = str(caught.value)
    assert message.startswith(f"{lot.fmo.path}: the control tube is from another panel")
    assert "car: PE-A vs APC-A" in message and "cd19: APC-A vs PE-A" in message


def test_control_lacking_a_marker_lists_its_channels(lot: Lot, panel) -> None:  # type: ignore[no-untyped-def]
    channels = tuple(replace(c, label=None) if c.label == "CD45" else c for c in lot.fmo.channels)
    other = replace(lot.fmo, channels=channels, _lookup={})
    with pytest.raises(
        TemplateError,
        match=r"needs markers this file lacks: cd45 \(CD45\).*"
        r"the file's channels are: FSC-A, FSC-H",
    ):
        gate_sample(lot.stained, panel, control=other)


def test_unimodal_gate_is_flagged_and_empty(lot: Lot) -> None:
    template = parse_template(
        """
schema_version: 1
id: one-mode
version: "1"
markers: [{key: fsc, channels: [FSC-A]}, {key: cd45, channels: [CD45]}]
transforms: {cd45: {kind: logicle}}
gates:
  - {id: big, kind: rectangle, dimensions: [{marker: cd45, min: 0.6}]}
  - {id: pos, parent: big, kind: density_valley, marker: cd45}
  - {id: child, parent: pos, kind: density_valley, marker: cd45}
measurements:
  - {attribute: flow.cd3_pct_of_viable_cd45, numerator: pos, denominator: big}
"""
    )
    result = gate_sample(lot.stained, template)
    flags = {f.gate: f for f in result.flags if f.code is FlagCode.NOT_PLACED}
    assert "unimodal" in flags["pos"].message or "not separated" in flags["pos"].message
    assert "gate 'pos' it depends on was not placed" in flags["child"].message
    assert result.count("pos") == 0 and result.count("child") == 0
    assert result.measurement("flow.cd3_pct_of_viable_cd45").value is None


def test_fixed_gates_and_template_matrix(lot: Lot) -> None:
    template = parse_template(
        """
schema_version: 1
id: fixed
version: "1"
markers:
  - {key: fsc, channels: [FSC-A]}
  - {key: ssc, channels: [SSC-A]}
  - {key: cd3, channels: [CD3]}
transforms: {cd3: {kind: logicle}}
compensation: {source: matrix, channels: [cd3, FITC-A], matrix: [[1, 0], [0, 1]]}
gates:
  - {id: box, kind: rectangle, dimensions: [{marker: fsc, min: 50000, max: 120000}]}
  - {id: tri, parent: box, kind: polygon, x: fsc, y: ssc,
     vertices: [[40000, 0], [130000, 0], [130000, 60000]]}
  - id: ell
    kind: ellipse
    x: fsc
    y: ssc
    mean: [86000, 28000]
    covariance: [[4.0e8, 0], [0, 1.0e8]]
    distance_square: 4
  - {id: both, kind: boolean, op: and, of: [tri, ell]}
  - {id: t, parent: box, kind: rectangle, dimensions: [{marker: cd3, min: 0.45}]}
"""
    )
    result = gate_sample(lot.stained, template)
    events = lot.stained.events.astype(np.float64)
    fsc, ssc = events[:, 0], events[:, 2]
    box = (fsc >= 50_000) & (fsc < 120_000)
    assert result.count("box") == int(box.sum())
    ell = ((fsc - 86_000) ** 2 / 4e8 + (ssc - 28_000) ** 2 / 1e8) <= 4
    assert result.count("ell") == int(ell.sum())
    assert (result.membership["both"] == (result.membership["tri"] & ell)).all()
    # identity matrix: CD3 is read uncompensated, on the logicle scale
    from cytorelease.flow.transforms import LogicleTransform

    cd3 = LogicleTransform().apply(events[:, 3])
    assert result.count("t") == int((box & (cd3 >= 0.45)).sum())
    assert result.placed[-1].gates[0].dimensions[0].compensation == "template"


def test_template_missing_a_channel_names_the_file(lot: Lot, panel) -> None:  # type: ignore[no-untyped-def]
    channels = tuple(
        Channel(c.index, c.name, None if c.label == "CD8" else c.label, c.range, c.bits)
        for c in lot.stained.channels
    )
    sample = replace(lot.stained, channels=channels, _lookup={})
    with pytest.raises(TemplateError) as caught:
        gate_sample(sample, panel)
    assert str(caught.value).startswith(
        f"{lot.stained.path}: template 'cd19-car-t-panel' needs markers this file lacks: cd8 (CD8)"
    )
    assert "PE-Cy7-A, APC-A (CD19)" in str(caught.value)


def test_invalid_transform_parameters_name_the_template(lot: Lot, tmp_path: Path) -> None:
    from cytorelease.flow.gating.template import load_template

    path = tmp_path / "wide.yaml"
    path.write_text(
        "schema_version: 1\nid: w\nversion: '1'\nmarkers: [{key: a, channels: [CD3]}]\n"
        "transforms: {a: {kind: logicle, w: 3, m: 4.5}}\n"
        "gates:\n  - {id: x, kind: density_valley, marker: a}\n"
    )
    with pytest.raises(TemplateError, match=rf"^{path}: transforms.a: invalid logicle.*W <= M/2"):
        gate_sample(lot.stained, load_template(path))


def test_labels_that_also_name_the_fluorochrome_are_matched_by_word(tmp_path: Path) -> None:
    """Real panels label channels "CD3 BV421" or "Zombie NIR"; the panel still finds them, and
    gives the same counts as with bare marker labels."""
    from cytorelease.demo import find_sample_lot
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
    from cytorelease.flow.gating.pipeline import gate_sample
    from cytorelease.flow.gating.template import load_template

    renamed = {"CD3": "CD3 BV421", "CD45": "CD45 FITC", "Viability": "7-AAD", "CAR": "CAR (FMC63) PE",
               "CD4": "CD4 APC-H7", "CD8": "CD8 PE-Cy7", "CD19": "CD19 APC"}  # fmt: skip
    lot = find_sample_lot()
    template = load_template("cd19-car-t-panel")

    def relabel(name: str) -> Path:
        sample = read_fcs(lot / name)
        specs = [
            ChannelSpec(c.name, renamed.get(c.label or "", c.label), c.range)
            for c in sample.channels
        ]
        out = tmp_path / name
        write_fcs(out, np.asarray(sample.events), specs, spill=sample.spill,
                  keywords={"$TIMESTEP": sample.keywords.get("$TIMESTEP", "1")})  # fmt: skip
        return out

    original = gate_sample(
        read_fcs(lot / "tube1_stained.fcs"), template, control=read_fcs(lot / "tube2_fmo_car.fcs")
    )
    relabelled = gate_sample(
        read_fcs(relabel("tube1_stained.fcs")),
        template,
        control=read_fcs(relabel("tube2_fmo_car.fcs")),
    )
    assert relabelled.details["markers"] == original.details["markers"]
    assert [m.value for m in relabelled.measurements] == [m.value for m in original.measurements]


def test_label_words_keep_hyphenated_reagents_whole() -> None:
    from cytorelease.flow.gating.pipeline import _label_tokens

    assert _label_tokens("CD19-Fc PE") == {"cd19-fc", "pe"}  # a reagent is not the marker CD19
    assert _label_tokens("CAR (FMC63) PE") == {"car", "fmc63", "pe"}


def test_saturated_channels_are_counted_and_flagged(lot: Lot, panel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Clip 3 % of the stained tube's SSC-A and 0.5 % of its CD3 channel at their ceiling:
    SSC-A is flagged (over the template's 1 %), CD3 only counted; Time is never checked."""
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    stained = lot.stained
    events = np.array(stained.events)
    ssc = stained.channel_index("SSC-A")
    cd3 = stained.channel_index("CD3")
    n = stained.event_count
    events[: n * 3 // 100, ssc] = stained.channels[ssc].range - 1
    events[n - n // 200 :, cd3] = stained.channels[cd3].range  # beyond the top counts too
    specs = [ChannelSpec(c.name, c.label, c.range) for c in stained.channels]
    path = write_fcs(tmp_path / "clipped.fcs", events, specs, spill=stained.spill,
                     keywords={"$TIMESTEP": stained.keywords["$TIMESTEP"]})  # fmt: skip
    result = gate_sample(read_fcs(path), panel, control=lot.fmo)
    found = {s["channel"]: s for s in result.details["saturation"]}
    assert found["SSC-A"]["events"] == n * 3 // 100
    assert found[stained.channels[cd3].name]["events"] == n // 200
    assert "Time" not in found
    flags = [f for f in result.flags if f.code is FlagCode.SATURATION]
    assert [f.message.split(":")[0] for f in flags] == ["SSC-A"]
    assert "3.00 % of events at the top of its range" in flags[0].message
    assert result.to_dict()["saturation"] == result.details["saturation"]
    unclipped = gate_sample(lot.stained, panel, control=lot.fmo)
    assert not [f for f in unclipped.flags if f.code is FlagCode.SATURATION]
