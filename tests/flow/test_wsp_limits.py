"""Hostile workspaces past a limit are refused while they are read (exit 2, naming the limit,
the tree, the gate and what was found), before their gates are built, converted or applied;
names from the file are quoted short in every error; duplicate sample ids and samples that
answer to one name are refused naming both."""

from __future__ import annotations

import math
import re
import tracemalloc
from pathlib import Path

import pytest

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.wsp.limits import (
    MAX_POLYGON_VERTICES,
    MAX_TREE_GATES,
    MAX_TREE_VERTICES,
    MAX_WORKSPACE_BYTES,
)
from cytorelease.flow.wsp.parse import read_workspace
from tests.cli_contract import assert_bad_input, invoke

DATA = Path(__file__).resolve().parents[1] / "data" / "flowjo"
BIEX = DATA / "test_data_diamond_biex_rect.wsp"
FCS = DATA / "test_data_diamond_01.fcs"
RECTANGLE = re.compile(r"<gating:RectangleGate.*?</gating:RectangleGate>", re.S)
POPULATION = re.compile(r"<Population .*?</Population>", re.S)
SAMPLE = re.compile(r"<Sample>.*?</Sample>", re.S)


def _polygon(vertices: int, gate_id: str = "P") -> str:
    points = "".join(
        '<gating:vertex><gating:coordinate data-type:value="'
        f'{60000 + 20000 * math.cos(2 * math.pi * i / vertices):.2f}" />'
        '<gating:coordinate data-type:value="'
        f'{100000 + 20000 * math.sin(2 * math.pi * i / vertices):.2f}" /></gating:vertex>'
        for i in range(vertices)
    )
    dimension = (
        '<gating:dimension><data-type:fcs-dimension data-type:name="{}" /></gating:dimension>'
    )
    return (
        f'<gating:PolygonGate eventsInside="1" gating:id="{gate_id}">'
        f"{dimension.format('channel_A')}{dimension.format('channel_B')}{points}"
        "</gating:PolygonGate>"
    )


def _population(name: str, shape: str) -> str:
    return f'<Population name="{name}" count="1"><Gate>{shape}</Gate></Population>'


def _with_populations(tmp_path: Path, populations: str, name: str = "attack.wsp") -> Path:
    """The biex diamond workspace with its one population replaced by ``populations``."""
    text = BIEX.read_text(encoding="utf-8")
    found = POPULATION.search(text)
    assert found is not None
    out = tmp_path / name
    out.write_text(text.replace(found.group(0), populations, 1), encoding="utf-8")
    return out


def _refused_by_both_commands(tmp_path: Path, workspace: Path, *pieces: str) -> None:
    gated = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    line = assert_bad_input(gated, workspace)
    for piece in pieces:
        assert piece in line, line
    imported = invoke(
        ["flow", "wsp-import", workspace, "--sample", FCS.name, "--out", tmp_path / "t.yaml"]
    )
    assert assert_bad_input(imported, workspace) == line
    assert not (tmp_path / "t.yaml").exists()


# limits ------------------------------------------------------------------------------------


def test_a_polygon_past_the_vertex_limit_is_refused_naming_limit_gate_and_count(
    tmp_path: Path,
) -> None:
    workspace = _with_populations(
        tmp_path, _population("Freehand", _polygon(MAX_POLYGON_VERTICES + 1))
    )
    _refused_by_both_commands(
        tmp_path,
        workspace,
        "sample 'test_data_diamond_01.fcs' gate 'Freehand'",
        f"a polygon of more than {MAX_POLYGON_VERTICES:,} vertices",
        f"at most {MAX_POLYGON_VERTICES:,} are accepted (MAX_POLYGON_VERTICES)",
    )


def test_a_polygon_at_the_limit_is_gated(tmp_path: Path) -> None:
    workspace = _with_populations(tmp_path, _population("Freehand", _polygon(MAX_POLYGON_VERTICES)))
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    assert result.exit_code == 0, result.stderr


def test_a_hostile_polygon_is_refused_before_its_tree_is_built(tmp_path: Path) -> None:
    """20 times the limit: refused at the first vertex past it, so what is held while reading
    stays near the file's own bytes (a tree of every vertex holds some 20 times them)."""
    workspace = _with_populations(
        tmp_path, _population("Freehand", _polygon(20 * MAX_POLYGON_VERTICES))
    )
    size = workspace.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="MAX_POLYGON_VERTICES"):
            read_workspace(workspace)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * size, (peak, size)


def test_the_vertices_of_one_tree_are_bounded(tmp_path: Path) -> None:
    each = MAX_POLYGON_VERTICES
    polygons = MAX_TREE_VERTICES // each + 1
    populations = "".join(_population(f"P{i}", _polygon(each, f"ID{i}")) for i in range(polygons))
    workspace = _with_populations(tmp_path, populations)
    with pytest.raises(InputError) as info:
        read_workspace(workspace)
    assert f"gate 'P{polygons - 1}'" in str(info.value)
    assert f"more than {MAX_TREE_VERTICES:,} polygon vertices in one tree" in str(info.value)
    assert "(MAX_TREE_VERTICES)" in str(info.value)


def test_the_gates_of_one_tree_are_bounded(tmp_path: Path) -> None:
    text = BIEX.read_text(encoding="utf-8")
    rectangle = RECTANGLE.search(text)
    assert rectangle is not None
    populations = "".join(
        _population(f"R{i}", rectangle.group(0)) for i in range(MAX_TREE_GATES + 1)
    )
    workspace = _with_populations(tmp_path, populations)
    _refused_by_both_commands(
        tmp_path,
        workspace,
        f"gate 'R{MAX_TREE_GATES}'",
        f"more than {MAX_TREE_GATES:,} gates in one tree",
        "(MAX_TREE_GATES)",
    )


def test_a_workspace_past_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    workspace = tmp_path / "huge.wsp"
    with open(workspace, "wb") as handle:
        handle.write(BIEX.read_bytes()[:4096])
        handle.truncate(MAX_WORKSPACE_BYTES + 1)  # sparse: nothing is written past the head
    tracemalloc.start()
    try:
        result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = assert_bad_input(result, workspace)
    assert f"a workspace of {MAX_WORKSPACE_BYTES + 1:,} bytes" in line
    assert "(MAX_WORKSPACE_BYTES)" in line
    assert peak < MAX_WORKSPACE_BYTES // 4, peak


# long names --------------------------------------------------------------------------------

LONG = "N" * 2_000_000


def _one_short_line(result_line: str) -> None:
    assert len(result_line) < 2_000, result_line[:300]
    assert re.search(r"'N{80}'\.\.\. \(2,000,00\d characters\)", result_line), result_line


def _biex_with(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = BIEX.read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / "long.wsp"
    out.write_text(text.replace(old, new, count), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a gate of a kind not supported, called by a long name
        ('name="upper_right"', f'name="{LONG}"'),
        # a long gate name with '/' in it
        ('name="upper_right"', f'name="{LONG}/x"'),
        # a coordinate that is no number
        ('gating:min="49058.7235978176"', f'gating:min="{LONG}"'),
        # a channel the tube lacks
        ('data-type:name="channel_A" />\n                 </gating:dimension>',
         f'data-type:name="{LONG}" />\n                 </gating:dimension>'),
    ],
)  # fmt: skip
def test_a_long_name_in_an_error_is_quoted_short(tmp_path: Path, old: str, new: str) -> None:
    workspace = _biex_with(tmp_path, old, new)
    text = workspace.read_text(encoding="utf-8")
    if old == 'name="upper_right"' and "/" not in new:
        text = text.replace("gating:RectangleGate", "gating:CurlyQuadGate")
        workspace.write_text(text, encoding="utf-8")
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    # a channel the tube lacks is the tube's problem: the line names the tube
    _one_short_line(assert_bad_input(result, FCS if "channel_A" in old else workspace))


def test_a_long_sample_name_is_quoted_short_among_the_samples_listed(tmp_path: Path) -> None:
    workspace = _biex_with(
        tmp_path, 'SampleNode name="test_data_diamond_01.fcs"', f'SampleNode name="{LONG}"'
    )
    result = invoke(
        ["flow", "gate", FCS, "--template", workspace, "--wsp-sample", "other", "--json"]
    )
    _one_short_line(assert_bad_input(result, workspace))


def test_two_siblings_of_one_long_name_are_quoted_short(tmp_path: Path) -> None:
    text = BIEX.read_text(encoding="utf-8")
    population = POPULATION.search(text)
    assert population is not None
    twin = population.group(0).replace('name="upper_right"', f'name="{LONG}"')
    workspace = _with_populations(tmp_path, twin + twin)
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    _one_short_line(assert_bad_input(result, workspace))


# samples that cannot be told apart ---------------------------------------------------------


def _two_samples(tmp_path: Path, *, second_id: str, second_name: str) -> Path:
    text = BIEX.read_text(encoding="utf-8")
    sample = SAMPLE.search(text)
    assert sample is not None
    other = (
        sample.group(0)
        .replace('sampleID="1"', f'sampleID="{second_id}"')
        .replace('SampleNode name="test_data_diamond_01.fcs"', f'SampleNode name="{second_name}"')
        .replace('name="upper_right"', 'name="other_sample_gate"')
    )
    out = tmp_path / "two.wsp"
    out.write_text(text.replace(sample.group(0), sample.group(0) + other), encoding="utf-8")
    return out


def test_two_samples_of_one_sample_id_are_refused_naming_both(tmp_path: Path) -> None:
    workspace = _two_samples(tmp_path, second_id="1", second_name="second.fcs")
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    line = assert_bad_input(result, workspace)
    assert "samples 'test_data_diamond_01.fcs' and 'second.fcs' both have sampleID '1'" in line
    with pytest.raises(TemplateError, match="both have sampleID '1'"):
        read_workspace(workspace)


def test_two_samples_of_one_name_are_refused_naming_both_with_their_ids(
    tmp_path: Path,
) -> None:
    workspace = _two_samples(tmp_path, second_id="2", second_name="test_data_diamond_01.fcs")
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    line = assert_bad_input(result, workspace)
    assert "2 samples of the workspace answer to 'test_data_diamond_01.fcs'" in line
    assert "(sampleID '1', by its name)" in line and "(sampleID '2', by its name)" in line
    assert "rename one in FlowJo" in line
    imported = invoke(
        ["flow", "wsp-import", workspace, "--sample", FCS.name, "--out", tmp_path / "t.yaml"]
    )
    assert assert_bad_input(imported, workspace) == line


def test_a_name_one_sample_has_and_another_samples_file_has_is_ambiguous(
    tmp_path: Path,
) -> None:
    """The second sample is called by the first's file name: both answer to it."""
    workspace = _two_samples(tmp_path, second_id="2", second_name="renamed")
    text = workspace.read_text(encoding="utf-8")
    workspace.write_text(
        text.replace(
            'SampleNode name="renamed"', 'SampleNode name="test_data_diamond_01.fcs"'
        ).replace('SampleNode name="test_data_diamond_01.fcs"', 'SampleNode name="first"', 1),
        encoding="utf-8",
    )
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    line = assert_bad_input(result, workspace)
    assert "'first' (sampleID '1', by its file)" in line
    assert "'test_data_diamond_01.fcs' (sampleID '2', by its name)" in line
    assert "name one by --wsp-sample" in line
