"""FlowJo 10 workspaces read: gate for gate, our counts are FlowKit's Workspace analysis of the
same events; samples are found by name or $FIL; what is not supported is refused by name;
wsp-import's template gates as the workspace does; hostile XML is refused."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.result import GatingResult
from cytorelease.flow.gating.template import load_template
from cytorelease.flow.transforms_flowjo import FlowJoBiexTransform, FlowJoLogTransform
from cytorelease.flow.wsp.run import gate_with_workspace
from cytorelease.flow.wsp.to_template import import_workspace
from tests.cli_contract import assert_bad_input, invoke
from tests.flow.wsp_events import write_sample_events

DATA = Path(__file__).resolve().parents[1] / "data" / "flowjo"
ICS = "101_DEN084Y5_15_E03_009_clean.fcs"  # the first sample of FlowKit's 8-colour workspaces
DIAMOND = DATA / "test_data_diamond_01.fcs"
ICS_WORKSPACES = (
    "8_color_ICS.wsp",  # polygons, rectangles, Comp- channels, logicle, acquisition matrix
    "8_color_ICS_with_ellipse.wsp",  # a FlowJo ellipse
    "8_color_ICS_boolean_gate_testing.wsp",  # and / or / not nodes
)
DIAMOND_WORKSPACES = (
    "simple_diamond_example_quad_gate.wsp",  # a quadrant (four rectangles), linear
    "test_data_diamond_biex_rect.wsp",  # FlowJo biex
    "test_data_diamond_asinh_rect.wsp",  # FlowJo arcsinh
)


@pytest.fixture(scope="module")
def ics_fcs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic events for the 8-colour sample (its own file is not published in git)."""
    folder = tmp_path_factory.mktemp("ics")
    return write_sample_events(DATA / ICS_WORKSPACES[0], ICS, folder / ICS, events=20_000)


def _flowkit_counts(wsp: Path, fcs: Path) -> dict[str, int]:
    """FlowKit's counts, by FlowJo path of names joined with '/'."""
    fk = pytest.importorskip("flowkit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FlowKit warns about its own internals
        workspace = fk.Workspace(str(wsp), fcs_samples=[str(fcs)])
        (sample_id,) = workspace.get_sample_ids()
        workspace.analyze_samples(sample_id=sample_id, use_mp=False)
        report = workspace.get_gating_results(sample_id).report
    return {
        "/".join([*path[1:], name]): int(count)
        for path, name, count in zip(
            report["gate_path"], report["gate_name"], report["count"], strict=True
        )
    }


def _cli(args: list[object]) -> Any:
    return invoke([str(a) for a in args])


def _ours(result: GatingResult) -> dict[str, int]:
    return dict(zip(result.populations["gate_id"], result.populations["count"], strict=True))


def _assert_flowkit_agrees(ours: dict[str, int], theirs: dict[str, int]) -> None:
    assert set(ours) == set(theirs)
    assert sum(ours.values()) > 0
    for path, count in ours.items():
        if "ellipse" in path:
            # FlowKit draws a FlowJo ellipse as a 128-vertex polygon inscribed in it; ours is
            # the ellipse itself, so it holds those events and the few in the thin sliver
            assert theirs[path] <= count <= theirs[path] + max(3, count // 500), path
        else:
            assert count == theirs[path], path


@pytest.mark.parametrize("name", ICS_WORKSPACES)
def test_ics_counts_equal_flowkit_gate_for_gate(name: str, ics_fcs: Path) -> None:
    result = gate_with_workspace(read_fcs(ics_fcs), DATA / name)
    ours = _ours(result)
    assert len(ours) >= 14
    assert all(count > 0 for count in ours.values()), ours
    _assert_flowkit_agrees(ours, _flowkit_counts(DATA / name, ics_fcs))


@pytest.mark.parametrize("name", DIAMOND_WORKSPACES)
def test_diamond_counts_equal_flowkit_and_flowjo(name: str) -> None:
    result = gate_with_workspace(read_fcs(DIAMOND), DATA / name)
    ours = _ours(result)
    _assert_flowkit_agrees(ours, _flowkit_counts(DATA / name, DIAMOND))
    # rectangles are exact on any monotone scale: FlowJo's own stored counts agree too
    stored = result.details["workspace"]["flowjo_counts"]
    assert ours == stored


def test_the_ellipse_is_the_exact_ellipse(ics_fcs: Path) -> None:
    """The gate holds every event with |p - f1| + |p - f2| <= 2a on the display grid."""
    from cytorelease.flow.gating.gates import EllipsoidGate

    result = gate_with_workspace(read_fcs(ics_fcs), DATA / ICS_WORKSPACES[1])
    gate_id = next(g for g in result.populations["gate_id"] if g.endswith("ellipse1"))
    gate = result.strategy.population(gate_id)
    assert isinstance(gate, EllipsoidGate)
    covariance = np.asarray(gate.covariance)
    a, b = np.sqrt(np.linalg.eigvalsh(covariance))[::-1]
    # FlowJo stored foci (73.91, 75.24) and (89.09, 64.76) of 256: the focal distance matches
    focal = np.hypot(89.0851989284 - 73.9148010716, 64.759317104 - 75.240682896) / 2 / 256
    assert np.isclose(np.sqrt(a**2 - b**2), focal)


def test_duplicate_names_are_addressed_by_path(ics_fcs: Path, tmp_path: Path) -> None:
    result = gate_with_workspace(read_fcs(ics_fcs), DATA / ICS_WORKSPACES[0])
    records = {r["path"]: r for r in result.population_records()}
    cd4 = "Time/Singlets/aAmine-/CD3+/CD4+/IFNg+"
    cd8 = "Time/Singlets/aAmine-/CD3+/CD8+/IFNg+"
    assert records[cd4]["name"] == records[cd8]["name"] == "IFNg+"
    assert records[cd4]["count"] != records[cd8]["count"]
    columns = result.membership_frame().columns
    assert cd4 in columns and cd8 in columns


def test_sample_found_by_fil(tmp_path: Path) -> None:
    renamed = write_sample_events(
        DATA / ICS_WORKSPACES[0], ICS, tmp_path / "renamed.fcs", events=2000
    )
    by_fil = gate_with_workspace(read_fcs(renamed), DATA / ICS_WORKSPACES[0])
    by_name = gate_with_workspace(read_fcs(renamed), DATA / ICS_WORKSPACES[0], wsp_sample=ICS)
    assert by_fil.details["workspace"]["sample"] == ICS
    assert _ours(by_fil) == _ours(by_name)


def test_a_sample_the_workspace_lacks_is_refused(tmp_path: Path) -> None:
    other = write_sample_events(
        DATA / ICS_WORKSPACES[0], ICS, tmp_path / "other.fcs", events=500, fil="nobody.fcs"
    )
    with pytest.raises(TemplateError, match=r"no sample named 'nobody.fcs'") as caught:
        gate_with_workspace(read_fcs(other), DATA / ICS_WORKSPACES[0])
    assert "8_color_ICS.wsp" in str(caught.value)
    with pytest.raises(TemplateError, match="no sample named 'absent'"):
        gate_with_workspace(read_fcs(other), DATA / ICS_WORKSPACES[0], wsp_sample="absent")


def test_group_gates_with_the_sample_scales(ics_fcs: Path) -> None:
    sample = gate_with_workspace(read_fcs(ics_fcs), DATA / ICS_WORKSPACES[0])
    group = gate_with_workspace(read_fcs(ics_fcs), DATA / ICS_WORKSPACES[0], wsp_group="DEN")
    assert _ours(group) == _ours(sample)
    with pytest.raises(TemplateError, match="no group named 'nope'"):
        gate_with_workspace(read_fcs(ics_fcs), DATA / ICS_WORKSPACES[0], wsp_group="nope")


def _edited(tmp_path: Path, name: str, old: str, new: str, count: int = 1) -> Path:
    text = (DATA / name).read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / name
    out.write_text(text.replace(old, new, count), encoding="utf-8")
    return out


def test_an_unsupported_gate_kind_is_refused_by_name(tmp_path: Path) -> None:
    wsp = _edited(
        tmp_path, DIAMOND_WORKSPACES[0], "gating:RectangleGate", "gating:CurlyQuadGate", 2
    )
    with pytest.raises(TemplateError) as caught:
        gate_with_workspace(read_fcs(DIAMOND), wsp)
    message = str(caught.value)
    for part in (
        wsp.name,
        "test_data_diamond_01.fcs",
        "Q1: channel_A- , channel_B+",
        "CurlyQuadGate",
    ):
        assert part in message


def test_events_outside_a_gate_are_refused(tmp_path: Path) -> None:
    wsp = _edited(tmp_path, DIAMOND_WORKSPACES[0], 'eventsInside="1"', 'eventsInside="0"')
    with pytest.raises(TemplateError, match="eventsInside=0"):
        gate_with_workspace(read_fcs(DIAMOND), wsp)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("transforms:biex", "transforms:miltenyi", "'miltenyi'"),
        ('transforms:length="256"', 'transforms:length="512"', "length 256"),
    ],
)
def test_an_unsupported_transform_is_refused_by_name(
    old: str, new: str, named: str, tmp_path: Path
) -> None:
    wsp = _edited(tmp_path, DIAMOND_WORKSPACES[1], old, new, 4)
    with pytest.raises(TemplateError) as caught:
        gate_with_workspace(read_fcs(DIAMOND), wsp)
    message = str(caught.value)
    assert named in message and "channel_A" in message and "upper_right" in message


def test_a_file_whose_spillover_is_not_the_workspace_matrix_is_refused(tmp_path: Path) -> None:
    wsp = _edited(
        tmp_path, ICS_WORKSPACES[0], 'transforms:value="0.0141385011"', 'transforms:value="0.2"', 3
    )
    fcs = write_sample_events(DATA / ICS_WORKSPACES[0], ICS, tmp_path / "x.fcs", events=500)
    with pytest.raises(TemplateError, match="differs from the workspace's acquisition-defined"):
        gate_with_workspace(read_fcs(fcs), wsp)


# FlowJo's scales --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("negative", "width", "positive"), [(0, -10, 4.418539922), (1, -100, 4.5), (0.5, -1000, 4.0)]
)
def test_biex_is_flowkits_flowjo_biex(negative: float, width: float, positive: float) -> None:
    transforms = pytest.importorskip("flowkit._models.transforms._wsp_transforms")
    x = np.concatenate([np.linspace(-5000, 300_000, 5001), np.geomspace(1, 1e6, 200)])
    ours = FlowJoBiexTransform(negative=negative, width=width, positive=positive)
    theirs = transforms.WSPBiexTransform(negative=negative, width=width, positive=positive,
                                         max_value=262144.0)  # fmt: skip
    assert np.allclose(ours.apply(x) * 4096, theirs.apply(x), rtol=0, atol=1e-9)
    y = np.linspace(0, 1, 101)
    assert np.allclose(ours.inverse(y), theirs.inverse(y * 4096), rtol=1e-12, atol=1e-6)


def test_flowjo_log_is_flowkits() -> None:
    transforms = pytest.importorskip("flowkit._models.transforms._wsp_transforms")
    x = np.geomspace(0.01, 1e6, 300)
    ours = FlowJoLogTransform(offset=1.0, decades=4.5).apply(x)
    assert np.allclose(ours, transforms.WSPLogTransform(offset=1.0, decades=4.5).apply(x))


def test_gatingml_export_refuses_flowjo_scales(tmp_path: Path) -> None:
    result = gate_with_workspace(read_fcs(DIAMOND), DATA / DIAMOND_WORKSPACES[1])
    from cytorelease.flow.gating.gatingml_export import export_gatingml

    with pytest.raises(TemplateError, match=r"GatingML 2\.0 has no form for the transform"):
        export_gatingml(result.strategy, tmp_path / "out.xml", sample=result.sample)


# wsp-import --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ICS_WORKSPACES)
def test_imported_template_gates_as_the_workspace(name: str, ics_fcs: Path, tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    imported = import_workspace(DATA / name, out, sample=ICS)
    template = load_template(out)
    sample = read_fcs(ics_fcs)
    from_template = gate_sample(sample, template)
    counts = {
        imported.gate_paths[g]: c
        for g, c in zip(
            from_template.populations["gate_id"], from_template.populations["count"], strict=True
        )
    }
    assert counts == _ours(gate_with_workspace(sample, DATA / name))
    names = set(from_template.populations["name"])
    assert {"CD4+", "IFNg+", "Singlets"} <= names
    ids = [g.id for g in template.gates]
    assert "CD4pos.IFNgpos" in ids and "CD8pos.IFNgpos" in ids  # same name, two parents


def test_imported_template_serves_other_detector_names(tmp_path: Path) -> None:
    """Markers are found by label: a tube whose detectors are named otherwise, carrying the
    same labels, gates as the workspace's own file does."""
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    text = (DATA / DIAMOND_WORKSPACES[1]).read_text(encoding="utf-8")
    for number, label in ((1, "CD4"), (2, "CD8")):
        text = text.replace(
            f'<Keyword name="$P{number}S"  value="" />',
            f'<Keyword name="$P{number}S"  value="{label}" />',
        )
    wsp = tmp_path / "labelled.wsp"
    wsp.write_text(text, encoding="utf-8")
    out = tmp_path / "diamond.yaml"
    import_workspace(wsp, out, sample="test_data_diamond_01.fcs")
    template = load_template(out)
    assert {m.key: tuple(m.channels) for m in template.markers} == {
        "CD4": ("CD4", "channel_A"),
        "CD8": ("CD8", "channel_B"),
    }
    assert template.transforms["CD4"].kind.value == "flowjo_biex"
    diamond = read_fcs(DIAMOND)
    other = write_fcs(
        tmp_path / "other_cytometer.fcs",
        diamond.events,
        [ChannelSpec("FL1-A", "CD4"), ChannelSpec("FL3-A", "CD8")],
    )
    counts = _ours(gate_sample(read_fcs(other), template))
    expected = _ours(gate_with_workspace(diamond, DATA / DIAMOND_WORKSPACES[1]))["upper_right"]
    assert counts == {"upper_right": expected}


def test_wsp_import_cli_json(tmp_path: Path) -> None:
    out = tmp_path / "t.yaml"
    result = _cli(
        ["flow", "wsp-import", DATA / ICS_WORKSPACES[2], "--group", "DEN", "--out", out, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["compensation"] == "file"
    paths = {g["path"] for g in document["gates"]}
    assert "Time/Singlets/aAmine-/CD3+/CD4+/CD107a+ or IFNg+" in paths
    assert load_template(out).id == document["template"]["id"]


def test_wsp_import_needs_one_of_sample_and_group(tmp_path: Path) -> None:
    wsp = DATA / ICS_WORKSPACES[0]
    assert_bad_input(_cli(["flow", "wsp-import", wsp, "--out", tmp_path / "t.yaml"]), wsp)
    assert not (tmp_path / "t.yaml").exists()


def test_flow_gate_cli_with_a_workspace(ics_fcs: Path, tmp_path: Path) -> None:
    membership = tmp_path / "m.csv"
    result = _cli(
        [
            "flow",
            "gate",
            ics_fcs,
            "-t",
            DATA / ICS_WORKSPACES[0],
            "--membership",
            membership,
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["template"]["version"].startswith("FlowJo workspace")
    assert document["workspace"]["sample"] == ICS
    # the counts FlowJo stored for its own file (the real tube), beside ours for this one
    assert document["workspace"]["flowjo_counts"]["Time/Singlets"] == 237375
    paths = [p["path"] for p in document["populations"]]
    assert "Time/Singlets/aAmine-/CD3+/CD8+/IFNg+" in paths
    header = membership.read_text(encoding="utf-8").splitlines()[0]
    assert "Time/Singlets/aAmine-/CD3+/CD8+/IFNg+" in header


def test_wsp_options_need_a_workspace(tmp_path: Path) -> None:
    from cytorelease._resources import ResourceKind, resource_dir

    template = resource_dir(ResourceKind.GATING) / "cd19-car-t-panel.yaml"
    result = _cli(["flow", "gate", DIAMOND, "-t", template, "--wsp-sample", "x"])
    assert_bad_input(result, template)


# hostile input -----------------------------------------------------------------------------

BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE Workspace [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<Workspace version="20.0"><SampleList><Sample><SampleNode name="&c;"/></Sample>'
    "</SampleList></Workspace>\n"
)
EXTERNAL = (
    '<?xml version="1.0"?>\n<!DOCTYPE Workspace [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<Workspace version="20.0"><Groups><GroupNode name="&x;"/></Groups></Workspace>\n'
)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (BOMB, "refused unsafe XML"),
        (EXTERNAL, "refused unsafe XML"),
        (None, "malformed XML"),  # the real workspace cut in half
        ('<?xml version="1.0"?><Gating-ML/>', "not a FlowJo workspace"),
    ],
    ids=["entity-expansion", "external-entity", "truncated", "other-root"],
)
def test_hostile_workspaces_are_refused(content: str | None, problem: str, tmp_path: Path) -> None:
    wsp = tmp_path / "hostile.wsp"
    if content is None:
        data = (DATA / ICS_WORKSPACES[0]).read_bytes()
        wsp.write_bytes(data[: len(data) // 2])
    else:
        wsp.write_text(content, encoding="utf-8")
    with pytest.raises(TemplateError, match=problem) as caught:
        gate_with_workspace(read_fcs(DIAMOND), wsp, wsp_sample="x")
    assert str(wsp) in str(caught.value)
    assert "passwd" not in str(caught.value) and "root:" not in str(caught.value)


def test_a_hostile_workspace_on_the_command_line(tmp_path: Path) -> None:
    wsp = tmp_path / "bomb.wsp"
    wsp.write_text(BOMB, encoding="utf-8")
    assert_bad_input(_cli(["flow", "gate", DIAMOND, "-t", wsp]), wsp)
    assert_bad_input(
        _cli(["flow", "wsp-import", wsp, "--sample", "x", "--out", tmp_path / "o.yaml"]), wsp
    )
    assert not (tmp_path / "o.yaml").exists()


def test_nesting_beyond_the_bound_is_refused(tmp_path: Path) -> None:
    shutil.copy(DATA / DIAMOND_WORKSPACES[1], tmp_path / "deep.wsp")
    text = (tmp_path / "deep.wsp").read_text(encoding="utf-8")
    population = re.search(r"<Population .*?</Population>", text, flags=re.S)
    assert population is not None
    block = population.group(0)
    nested = block
    for _ in range(120):
        nested = block.replace(
            "</Population>", f"<Subpopulations>{nested}</Subpopulations></Population>"
        )
    (tmp_path / "deep.wsp").write_text(text.replace(block, nested), encoding="utf-8")
    with pytest.raises(InputError, match=r"nested 101 gates deep; at most 100 are accepted"):
        gate_with_workspace(read_fcs(DIAMOND), tmp_path / "deep.wsp")


# more gate kinds and a named matrix, made from the published workspaces -------------------


def test_a_range_gate_equals_flowkit(tmp_path: Path) -> None:
    """A 1-D rectangle (FlowJo's range gate): the biex rectangle without its y dimension."""
    text = (DATA / DIAMOND_WORKSPACES[1]).read_text(encoding="utf-8")
    dimension = re.search(
        r"<gating:dimension [^>]*>\s*<data-type:fcs-dimension data-type:name=\"channel_B\" />"
        r"\s*</gating:dimension>",
        text,
    )
    assert dimension is not None
    wsp = tmp_path / "range.wsp"
    wsp.write_text(text.replace(dimension.group(0), ""), encoding="utf-8")
    result = gate_with_workspace(read_fcs(DIAMOND), wsp)
    gate = result.strategy.population("upper_right")
    assert len(gate.dimensions) == 1
    ours = _ours(result)
    assert 0 < ours["upper_right"] < read_fcs(DIAMOND).event_count
    _assert_flowkit_agrees(ours, _flowkit_counts(wsp, DIAMOND))


def test_a_named_matrix_is_the_workspace_matrix(ics_fcs: Path, tmp_path: Path) -> None:
    """A matrix FlowJo holds under its own name compensates with the workspace's
    coefficients, not the file's: here they differ, and FlowKit counts as we do."""
    text = (DATA / ICS_WORKSPACES[0]).read_text(encoding="utf-8")
    text = text.replace('name="Acquisition-defined"', 'name="Lab matrix"')
    text = text.replace('transforms:value="0.1270120889"', 'transforms:value="0.02"')
    wsp = tmp_path / "named.wsp"
    wsp.write_text(text, encoding="utf-8")
    sample = read_fcs(ics_fcs)
    result = gate_with_workspace(sample, wsp)
    assert result.details["workspace"]["matrix"] == "Lab matrix"
    ours = _ours(result)
    assert ours != _ours(gate_with_workspace(sample, DATA / ICS_WORKSPACES[0]))
    _assert_flowkit_agrees(ours, _flowkit_counts(wsp, ics_fcs))
    out = tmp_path / "named.yaml"
    imported = import_workspace(wsp, out, sample=ICS)
    template = load_template(out)
    assert template.compensation.source.value == "matrix"
    from_template = gate_sample(sample, template)
    counts = {
        imported.gate_paths[g]: c
        for g, c in zip(
            from_template.populations["gate_id"], from_template.populations["count"], strict=True
        )
    }
    assert counts == ours


def test_a_sample_outside_the_group_is_refused(tmp_path: Path) -> None:
    text = (DATA / ICS_WORKSPACES[0]).read_text(encoding="utf-8")
    text = text.replace('<SampleRef sampleID="1" />', "", 2)  # out of All Samples and DEN
    wsp = tmp_path / "regrouped.wsp"
    wsp.write_text(text, encoding="utf-8")
    fcs = write_sample_events(DATA / ICS_WORKSPACES[0], ICS, tmp_path / ICS, events=300)
    with pytest.raises(TemplateError, match=r"is not in group 'DEN'"):
        gate_with_workspace(read_fcs(fcs), wsp, wsp_group="DEN")


def test_plots_and_gatingml_through_the_imported_template(ics_fcs: Path, tmp_path: Path) -> None:
    """Plots of a workspace's gates are written (ids are paths: file names take '_'); its
    GatingML goes through the imported template, whose ids GatingML takes, and counts the
    same again when read back."""
    from cytorelease.flow.gating.gatingml_export import export_gatingml
    from cytorelease.flow.gating.run import gate_with_gatingml
    from cytorelease.flow.plots import write_gate_plots

    wsp = DATA / ICS_WORKSPACES[1]
    sample = read_fcs(ics_fcs)
    direct = gate_with_workspace(sample, wsp)
    written = write_gate_plots(direct, tmp_path / "plots")
    assert tmp_path / "plots" / "Time_Singlets_aAmine-_CD3+_ellipse1.svg" in written
    with pytest.raises(TemplateError, match="cannot be written to GatingML"):
        export_gatingml(direct.strategy, tmp_path / "direct.xml", sample=sample)
    imported = import_workspace(wsp, tmp_path / "t.yaml", sample=ICS)
    via_template = gate_sample(sample, load_template(tmp_path / "t.yaml"))
    export_gatingml(via_template.strategy, tmp_path / "t.xml", sample=sample)
    back = gate_with_gatingml(sample, tmp_path / "t.xml")
    counts = {
        imported.gate_paths[g]: c
        for g, c in zip(back.populations["gate_id"], back.populations["count"], strict=True)
    }
    assert counts == _ours(direct)


def test_a_workspace_is_known_by_its_root_element(tmp_path: Path) -> None:
    from cytorelease.flow.wsp.parse import is_workspace

    gatingml = tmp_path / "commented.xml"
    gatingml.write_text('<?xml version="1.0"?>\n<!-- <Workspace> -->\n<Gating-ML/>\n')
    assert not is_workspace(gatingml)
    assert is_workspace(DATA / ICS_WORKSPACES[0])


def test_a_fil_with_the_acquisition_folder_still_finds_the_sample(tmp_path: Path) -> None:
    fcs = write_sample_events(
        DATA / ICS_WORKSPACES[0], ICS, tmp_path / "copy.fcs", events=300, fil=f"D:\\BD\\{ICS}"
    )
    result = gate_with_workspace(read_fcs(fcs), DATA / ICS_WORKSPACES[0])
    assert result.details["workspace"]["sample"] == ICS
