"""``flow gate FILE --template T --controls C... --unstained U``: a template whose compensation
is ``source: controls`` gated on one file with its control set, the matrix estimated by the
function a release uses and recorded as a release records it; without the set, or given it
with a template that compensates otherwise, refused by the template's name."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import Result

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.gating import gate_file, gate_sample, load_template
from cytorelease.flow.gating.compensation_source import ControlSet, matrix_sha256
from cytorelease.flow.gating.result import GatingResult
from cytorelease.flow.sample import Sample, Spill
from cytorelease.flow.spillover_estimate import estimate_spillover
from cytorelease.provenance import file_sha256
from cytorelease.synth.controls import UNSTAINED_FILE, ControlsTruth, simulate_control
from cytorelease.synth.controls import write_controls as write_control_tubes
from cytorelease.synth.panel import CHANNELS
from tests.cli_contract import assert_bad_input, invoke, one_json_document

ROOT = Path(__file__).resolve().parents[2]
PANEL = ROOT / "gating" / "cd19-car-t-panel.yaml"
SAMPLE_LOT = ROOT / "sample_data" / "lot-CAR-0001"
WSP = ROOT / "tests" / "data" / "flowjo" / "8_color_ICS.wsp"
FILE_BLOCK = "compensation:\n  source: file\n"


def write_template(folder: Path, name: str, compensation: str) -> Path:
    """The bundled panel with another compensation block, as a version of its own."""
    text = PANEL.read_text(encoding="utf-8")
    assert text.count(FILE_BLOCK) == 1
    text = text.replace(FILE_BLOCK, compensation)
    text = re.sub(r'^version: "1\.0\.0"$', f'version: "1.0.0-{name}"', text, count=1, flags=re.M)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def with_spill(source: Path, path: Path, matrix: SpilloverMatrix) -> Sample:
    """The events and channels of ``source`` written again with ``matrix`` as $SPILLOVER."""
    tube = read_fcs(source)
    specs = [ChannelSpec(c.name, c.label, c.range) for c in tube.channels]
    keywords = {"$TIMESTEP": tube.keywords["$TIMESTEP"], "$FIL": path.name}
    write_fcs(path, tube.events, specs, keywords=keywords,
              spill=Spill(matrix.detectors, np.array(matrix.matrix)))  # fmt: skip
    return read_fcs(path)


@dataclass
class Setup:
    truth: ControlsTruth
    controls: list[Path]
    unstained: Path
    matrix: SpilloverMatrix  # estimated from the controls
    stained: Sample  # the sample lot's tubes, with that matrix as their $SPILLOVER
    fmo: Sample
    by_controls: Path
    by_file: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("gate-controls")
    truth = write_control_tubes(base / "controls", seed=5, n_events=10_000)
    controls = [truth.folder / c["file"] for c in truth.controls]
    unstained = truth.folder / UNSTAINED_FILE
    matrix = estimate_spillover(controls, unstained).matrix()
    stained = with_spill(SAMPLE_LOT / "tube1_stained.fcs", base / "stained.fcs", matrix)
    fmo = with_spill(SAMPLE_LOT / "tube2_fmo_car.fcs", base / "fmo.fcs", matrix)
    templates = base / "templates"
    by_controls = write_template(templates, "ctl", "compensation:\n  source: controls\n")
    by_file = write_template(templates, "file", FILE_BLOCK)
    return Setup(truth, controls, unstained, matrix, stained, fmo, by_controls, by_file)


def cli(args: list[Any]) -> Result:
    return invoke([str(a) for a in args])


def counts(result: GatingResult) -> dict[str, int]:
    return {r["gate_id"]: r["count"] for r in result.population_records()}


def control_args(setup: Setup) -> list[str]:
    return [a for c in setup.controls for a in ("--controls", str(c))] + [
        "--unstained",
        str(setup.unstained),
    ]


def test_gate_file_estimates_the_matrix_from_the_controls_and_applies_it(setup: Setup) -> None:
    run = gate_file(
        setup.stained.path,
        setup.by_controls,
        control=setup.fmo.path,
        controls=setup.controls,
        unstained=setup.unstained,
    )
    # the tubes' own $SPILLOVER is the controls' estimate: the same counts either way
    by_file = gate_sample(setup.stained, load_template(setup.by_file), control=setup.fmo)
    assert counts(run.result) == counts(by_file)
    none = write_template(setup.by_file.parent, "none", "compensation:\n  source: none\n")
    uncompensated = gate_sample(setup.stained, load_template(none), control=setup.fmo)
    assert counts(uncompensated) != counts(by_file)  # compensation matters on this tube

    # the very record gating with the control set gives (the path a release takes)
    direct = gate_sample(
        setup.stained,
        load_template(setup.by_controls),
        control=setup.fmo,
        compensation_controls=ControlSet(tuple(setup.controls), setup.unstained),
    )
    record = run.result.details["compensation"]
    assert record == direct.details["compensation"]
    assert record["source"] == "controls"
    assert record["matrix_sha256"] == matrix_sha256(setup.matrix)


def test_gate_file_refuses_a_controls_template_without_its_controls(setup: Setup) -> None:
    with pytest.raises(TemplateError) as caught:
        gate_file(setup.stained.path, setup.by_controls, control=setup.fmo.path)
    assert caught.value.path == str(setup.by_controls)
    assert "--controls" in (caught.value.hint or "")
    with pytest.raises(TemplateError, match="would be left out") as caught:
        gate_file(setup.stained.path, setup.by_file, controls=setup.controls,
                  unstained=setup.unstained)  # fmt: skip
    assert caught.value.path == str(setup.by_file)


def test_flow_gate_json_records_the_controls_as_a_release_does(
    setup: Setup, tmp_path: Path
) -> None:
    from cytorelease.lot.release import release_lot

    # the sample lot with the control set listed in its manifest, released
    lot = tmp_path / "lot"
    shutil.copytree(SAMPLE_LOT, lot)
    shutil.copytree(setup.truth.folder, lot / "comp")
    manifest = yaml.safe_load((lot / "lot.yaml").read_text(encoding="utf-8"))
    manifest["inputs"]["flow"]["template"] = str(setup.by_controls)
    manifest["inputs"]["flow"]["tubes"] += [
        *({"path": f"comp/{c.name}", "role": "single_stain"} for c in setup.controls),
        {"path": f"comp/{UNSTAINED_FILE}", "role": "unstained"},
    ]
    (lot / "lot.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    wsp = tmp_path / "lot.wsp"
    outcome = release_lot(
        lot, out=tmp_path / "out", created_at=datetime(2026, 7, 20, tzinfo=UTC), export_wsp=wsp
    )
    (flow,) = [a for a in outcome.record["analyses"] if a["analysis"] == "flow"]
    released = flow["summary"]["compensation"]

    # the same tubes gated one by one, the controls given on the command line
    controls = [lot / "comp" / c.name for c in setup.controls]
    args = ["flow", "gate", lot / "tube1_stained.fcs", "--template", setup.by_controls,
            "--control", lot / "tube2_fmo_car.fcs",
            *(a for c in controls for a in ("--controls", c)),
            "--unstained", lot / "comp" / UNSTAINED_FILE, "--json"]  # fmt: skip
    result = cli(args)
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    gated = document["compensation"]
    assert gated["source"] == "controls"
    assert gated["matrix_sha256"] == matrix_sha256(setup.matrix)
    singles = [i for i in gated["inputs"] if i["role"] == "single_stain"]
    assert [i["path"] for i in singles] == [str(c) for c in controls]
    assert [i["sha256"] for i in singles] == [file_sha256(c) for c in controls]
    (blank,) = [i for i in gated["inputs"] if i["role"] == "unstained"]
    assert blank["sha256"] == file_sha256(setup.unstained)
    # the keys and values the release records (to its six significant digits); only its
    # paths are the lot folder's
    assert set(gated) == set(released)
    exact = ("source", "description", "matrix_sha256", "fluorochromes", "detectors")
    assert {k: gated[k] for k in exact} == {k: released[k] for k in exact}
    np.testing.assert_allclose(gated["matrix"], released["matrix"], rtol=1e-5, atol=1e-12)
    ours, theirs = (dict(r["estimate"]) for r in (gated, released))
    assert ours.pop("max_residual") == pytest.approx(theirs.pop("max_residual"), rel=1e-5)
    assert ours == theirs  # iterations, tolerance, positive events per detector
    assert _without_paths(gated) == _without_paths(released)
    assert [i["path"] for i in released["inputs"]] == [f"comp/{c.name}" for c in setup.controls] + [
        f"comp/{UNSTAINED_FILE}"
    ]
    counted = {p["gate_id"]: p["count"] for p in document["populations"]}
    assert counted == {p["gate_id"]: p["count"] for p in flow["summary"]["populations"]}

    table = cli(args[:-1])  # the table names the matrix applied
    assert table.exit_code == 0, table.stderr
    assert released["matrix_sha256"] in "".join(table.stdout.split())

    # the release's workspace: the FMO tube compensated with the same estimate, and counted
    # by FlowKit as the FMO tube gated on its own with the control set
    _assert_workspace_uses_one_estimate(wsp, lot, controls, setup.by_controls)


def _assert_workspace_uses_one_estimate(
    wsp: Path, lot: Path, controls: list[Path], template: Path
) -> None:
    from xml.etree import ElementTree as ET

    from cytorelease.flow.gating.gatingml_import import TRANSFORMS_NS
    from tests.lot.test_release_wsp_tubes import flowkit_counts, flowkit_gating

    transforms = f"{{{TRANSFORMS_NS}}}"
    matrices = {}
    for sample in ET.parse(wsp).getroot().iter("Sample"):
        data = sample.find("DataSet")
        assert data is not None
        matrices[Path(data.get("uri", "")).name] = sample.find(f"{transforms}spilloverMatrix")
    stained, fmo = (matrices[n] for n in ("tube1_stained.fcs", "tube2_fmo_car.fcs"))
    assert stained is not None and fmo is not None
    assert stained.get(f"{transforms}id") == fmo.get(f"{transforms}id")
    assert stained.get("name") == "controls"
    fmo_path = lot / "tube2_fmo_car.fcs"
    ours = gate_file(fmo_path, template, control=fmo_path, controls=controls,
                     unstained=lot / "comp" / UNSTAINED_FILE).result  # fmt: skip
    counted = flowkit_counts(flowkit_gating(wsp)["tube2_fmo_car.fcs"])
    names = dict(zip(ours.populations["gate_id"], ours.populations["name"], strict=True))
    for gate_id, path, count in zip(ours.populations["gate_id"], ours.populations["path"],
                                    ours.populations["count"], strict=True):  # fmt: skip
        assert counted[tuple(names[g] or g for g in path)] == int(count), gate_id


def _without_paths(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in i.items() if k != "path"} for i in record["inputs"]]


def test_a_controls_template_without_controls_is_refused_by_its_name(setup: Setup) -> None:
    result = cli(["flow", "gate", setup.stained.path, "-t", setup.by_controls,
                     "--control", setup.fmo.path])  # fmt: skip
    line = assert_bad_input(result, setup.by_controls)
    assert line.startswith(f"error: {setup.by_controls}: ")
    assert "--controls" in line and "--unstained" in line
    assert "$SPILLOVER is not used" in line


def test_controls_for_a_template_that_compensates_otherwise_are_refused(setup: Setup) -> None:
    result = cli(["flow", "gate", setup.stained.path, "-t", setup.by_file,
                     *control_args(setup)])  # fmt: skip
    line = assert_bad_input(result, setup.by_file)
    assert "compensates from 'file', not from controls" in line
    assert "would be left out" in line


def test_controls_and_unstained_go_together(setup: Setup) -> None:
    only_controls = control_args(setup)[:-2]
    for given in (only_controls, ["--unstained", str(setup.unstained)]):
        result = cli(["flow", "gate", setup.stained.path, "-t", setup.by_controls, *given])
        line = assert_bad_input(result, setup.by_controls)
        assert "--controls and --unstained go together" in line


def test_a_workspace_or_gatingml_document_takes_no_controls(setup: Setup, tmp_path: Path) -> None:
    from cytorelease.flow.gating.gatingml_export import export_gatingml

    gatingml = tmp_path / "gates.xml"
    by_file = gate_sample(setup.stained, load_template(setup.by_file), control=setup.fmo)
    export_gatingml(by_file.strategy, gatingml, sample=setup.stained)
    for document, kind in ((WSP, "a FlowJo workspace"), (gatingml, "a GatingML document")):
        result = cli(["flow", "gate", setup.stained.path, "-t", document,
                         *control_args(setup)])  # fmt: skip
        line = assert_bad_input(result, document)
        assert f"{kind} names its own compensation" in line


def test_a_control_the_estimator_refuses_is_named(setup: Setup, tmp_path: Path) -> None:
    dim = tmp_path / "control_CD4_dim.fcs"
    events = simulate_control(10_000, stain=3, matrix=setup.truth.matrix,
                              rng=np.random.default_rng(3), positive_fraction=0.02)  # fmt: skip
    write_fcs(dim, events, CHANNELS, keywords={"$TIMESTEP": "0.01"})
    controls = [*setup.controls]
    controls[3] = dim
    args = [a for c in controls for a in ("--controls", c)]
    result = cli(["flow", "gate", setup.stained.path, "-t", setup.by_controls, *args,
                     "--unstained", setup.unstained])  # fmt: skip
    line = assert_bad_input(result, dim)
    assert "positive population" in line


def test_the_workspace_of_a_controls_gating_holds_the_estimated_matrix(
    setup: Setup, tmp_path: Path
) -> None:
    from tests.lot.test_release_wsp_tubes import assert_flowkit_counts

    out = tmp_path / "ctl.wsp"
    result = cli(["flow", "gate", setup.stained.path, "-t", setup.by_controls,
                     "--control", setup.fmo.path, *control_args(setup), "--export-wsp", out,
                     "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["written"]["wsp"] == [str(out)]
    ours = gate_file(setup.stained.path, setup.by_controls, control=setup.fmo.path,
                     controls=setup.controls, unstained=setup.unstained).result  # fmt: skip
    assert_flowkit_counts(out, {setup.stained.path.name: ours})
