"""Gating templates: the bundled panel loads, markers resolve by label/alias/name, errors point
at the file, the field path and the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import TemplateError
from cytorelease.flow.gating.pipeline import resolve_markers
from cytorelease.flow.gating.template import GateKind, load_template, parse_template
from cytorelease.flow.sample import Channel, Sample

MINIMAL = """\
schema_version: 1
id: mini
version: "2.1"
markers:
  - key: cd3
    channels: [CD3, Leu-4]
  - key: fsc
    channels: [FSC-A]
gates:
  - id: t
    kind: density_valley
    marker: cd3
"""


def _sample(channels: list[tuple[str, str | None]], path: str = "tube.fcs") -> Sample:
    chans = tuple(Channel(i, n, label, 262144.0, 32) for i, (n, label) in enumerate(channels))
    events = np.zeros((3, len(chans)), dtype=np.float32)
    return Sample(Path(path), "0" * 64, "3.1", events, chans, {})


def test_bundled_panel_loads_by_name() -> None:
    template = load_template("cd19-car-t-panel")
    assert template.id == "cd19-car-t-panel"
    assert template.version == "1.0.0"
    assert [g.id for g in template.gates][:6] == [
        "qc",
        "cells",
        "singlets",
        "cd45",
        "viable",
        "cd3",
    ]
    assert template.gate("car").kind is GateKind.CONTROL_PERCENTILE
    assert template.gate("car").percentile == 99.5
    assert {m.attribute for m in template.measurements} >= {
        "flow.viability_pct_of_cd45",
        "flow.cd3_pct_of_viable_cd45",
        "flow.car_pct_of_viable_cd3",
        "flow.cd4_cd8_ratio",
        "flow.cd19_pct_of_viable",
    }
    assert len(template.sha256) == 64


def test_content_hash_ignores_formatting() -> None:
    reformatted = MINIMAL.replace("[CD3, Leu-4]", "\n      - CD3\n      - Leu-4") + "# note\n"
    assert parse_template(MINIMAL).sha256 == parse_template(reformatted).sha256
    assert parse_template(MINIMAL).sha256 != parse_template(MINIMAL.replace("2.1", "2.2")).sha256


def test_ordered_gates_put_parents_first() -> None:
    text = MINIMAL + "  - {id: a, parent: b, kind: density_valley, marker: cd3}\n"
    text += "  - {id: b, parent: t, kind: density_valley, marker: cd3}\n"
    assert [g.id for g in parse_template(text).ordered_gates()] == ["t", "b", "a"]


def test_markers_resolve_by_label_alias_then_name_case_insensitively() -> None:
    template = parse_template(MINIMAL)
    sample = _sample([("fsc-a", None), ("BV421-A", "leu-4")])
    assert resolve_markers(template, sample) == {"cd3": "BV421-A", "fsc": "fsc-a"}


def test_missing_marker_lists_the_file_channels() -> None:
    template = parse_template(MINIMAL)
    sample = _sample([("FSC-A", None), ("FITC-A", "CD45")], path="lot/tube1.fcs")
    with pytest.raises(TemplateError) as caught:
        resolve_markers(template, sample)
    text = str(caught.value)
    assert text.startswith("lot/tube1.fcs: template 'mini' needs markers this file lacks:")
    assert "cd3 (CD3 / Leu-4)" in text
    assert "the file's channels are: FSC-A, FITC-A (CD45)" in text


def test_marker_matching_two_channels_is_an_error() -> None:
    sample = _sample([("FSC-A", None), ("A", "CD3"), ("B", "cd3")])
    with pytest.raises(TemplateError, match=r"marker 'cd3' matches several channels: A \(CD3\), B"):
        resolve_markers(parse_template(MINIMAL), sample)


def _error(text: str) -> str:
    with pytest.raises(TemplateError) as caught:
        parse_template(text, path="gating/bad.yaml")
    return str(caught.value)


def test_unknown_field_names_path_and_line() -> None:
    message = _error(MINIMAL.replace("    marker: cd3\n", "    marker: cd3\n    sidee: above\n"))
    assert message == (
        "gating/bad.yaml: gates[0] (line 13): unknown field (check its spelling against "
        "the template schema)"
    )


def test_unknown_gate_kind_lists_the_kinds() -> None:
    message = _error(MINIMAL.replace("kind: density_valley", "kind: density_valey"))
    assert "gates[0].kind (line 11): unknown gate kind (kinds: rectangle," in message


def test_missing_required_field_and_bad_value() -> None:
    message = _error(MINIMAL.replace("    marker: cd3\n", "    min_mode_fraction: 2\n"))
    assert "gates[0].marker (line 10): required field is missing" in message
    assert "gates[0].min_mode_fraction (line 12): Input should be less than 1" in message


def test_unknown_parent_names_the_gate() -> None:
    message = _error(MINIMAL + "  - {id: b, parent: tt, kind: density_valley, marker: cd3}\n")
    assert message == (
        "gating/bad.yaml: gates[1].parent (line 13): gate 'b' has unknown parent 'tt' (gates: t, b)"
    )


def test_cycle_names_the_gates() -> None:
    text = MINIMAL.replace("    marker: cd3\n", "    marker: cd3\n    parent: b\n")
    text += "  - {id: b, parent: t, kind: density_valley, marker: cd3}\n"
    message = _error(text)
    assert "gate 't' is in a cycle: t -> b -> t" in message
    assert message.startswith("gating/bad.yaml: gates[0].parent (line 13):")


def test_unknown_marker_and_reference() -> None:
    assert "gates[0].marker (line 12): gate 't' uses unknown marker 'cd33' (markers: cd3, fsc)" in (
        _error(MINIMAL.replace("marker: cd3", "marker: cd33"))
    )
    text = MINIMAL + "  - {id: n, kind: boolean, op: not, of: [zz]}\n"
    assert "gates[1].of[0] (line 13): gate 'n' refers to unknown gate 'zz'" in _error(text)


def test_unknown_attribute_and_measurement_gate() -> None:
    text = MINIMAL + "measurements:\n  - {attribute: flow.cd3_pct, numerator: t}\n"
    assert "measurements[0] (line 14): Value error, unknown attribute 'flow.cd3_pct'" in _error(
        text
    )
    text = MINIMAL + "measurements:\n  - {attribute: flow.cd4_cd8_ratio, numerator: q}\n"
    assert "measurements[0].numerator (line 14): measurement 'flow.cd4_cd8_ratio' refers" in (
        _error(text)
    )


def test_yaml_syntax_error_and_non_mapping() -> None:
    assert _error("id: [unclosed\n").startswith("gating/bad.yaml: line 2: not valid YAML:")
    assert "a gating template is a YAML mapping" in _error("- just a list\n")


def test_duplicate_key_is_refused() -> None:
    text = MINIMAL.replace('version: "2.1"\n', 'version: "2.1"\nid: again\n')
    assert _error(text) == ("gating/bad.yaml: line 4: duplicate key (the first is on line 2)")


def test_missing_template_names_the_library() -> None:
    from cytorelease.errors import InputError

    with pytest.raises(
        InputError, match=r"no such file, and no such name in gating/.*cd19-car-t-panel"
    ):
        load_template("no-such-panel")


def test_duplicates_and_unknown_transform_marker() -> None:
    text = MINIMAL.replace("  - key: fsc\n", "  - key: cd3\n")
    assert "markers[1].key (line 7): marker key 'cd3' is defined twice" in _error(text)
    text = MINIMAL + "  - {id: t, kind: density_valley, marker: cd3}\n"
    assert "gates[1].id (line 13): gate id 't' is used twice" in _error(text)
    text = MINIMAL + "transforms:\n  cd4: {kind: logicle}\n"
    assert "transforms.cd4 (line 14): transform for unknown marker 'cd4' (markers: cd3, fsc)" in (
        _error(text)
    )


def test_boolean_arity_and_compensation_matrix_shape() -> None:
    text = MINIMAL + "  - {id: n, kind: boolean, op: not, of: [t, t]}\n"
    assert "gates[1] (line 13): Value error, `not` takes exactly one gate in `of`" in _error(text)
    text = MINIMAL + "compensation: {source: matrix, channels: [cd3, fsc], matrix: [[1, 0]]}\n"
    assert "compensation (line 13): Value error, matrix must be 2x2 for 2 channels" in _error(text)
    text = MINIMAL + "compensation: {source: matrix}\n"
    assert "source: matrix needs both `channels` and `matrix`" in _error(text)


def test_template_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(MINIMAL.replace("mini", "m\xe9").encode("latin-1"))
    with pytest.raises(TemplateError, match=r"latin1.yaml: not UTF-8 text \(byte \d+\)"):
        load_template(bad)
