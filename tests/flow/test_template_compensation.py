"""A gating template's compensation from a matrix file or the lot's single-stain controls
(issue 19 item 3): the same counts as the tube's own $SPILLOVER, the matrix's source and hash
in the result, a changed matrix file refused under a locked template, refusals by name."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from cytorelease._resources import set_library
from cytorelease.errors import InputError, ManifestError, TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.gating import gate_sample, load_template
from cytorelease.flow.gating.compensation_source import ControlSet, matrix_sha256
from cytorelease.flow.gating.result import GatingResult
from cytorelease.flow.gating.template_model import Template
from cytorelease.flow.sample import Sample, Spill
from cytorelease.flow.spillover_csv import write_spillover_csv
from cytorelease.flow.spillover_estimate import MIN_POSITIVE_EVENTS, estimate_spillover
from cytorelease.library import DefinitionKind, definition
from cytorelease.provenance import file_sha256
from cytorelease.synth.controls import UNSTAINED_FILE, ControlsTruth, simulate_control
from cytorelease.synth.controls import write_controls as write_control_tubes
from cytorelease.synth.panel import CHANNELS

ROOT = Path(__file__).resolve().parents[2]
PANEL = ROOT / "gating" / "cd19-car-t-panel.yaml"
SAMPLE_LOT = ROOT / "sample_data" / "lot-CAR-0001"
_FILE_BLOCK = "compensation:\n  source: file\n"


def template_text(compensation: str, *, version: str = "1.0.0-comp") -> str:
    """The bundled panel with another compensation block (and version)."""
    text = PANEL.read_text(encoding="utf-8")
    assert text.count(_FILE_BLOCK) == 1
    text = text.replace(_FILE_BLOCK, compensation)
    return re.sub(r'^version: "1\.0\.0"$', f'version: "{version}"', text, count=1, flags=re.M)


def matrix_file_block(relative: str, sha256: str) -> str:
    return f'compensation:\n  source: matrix_file\n  file: {relative}\n  sha256: "{sha256}"\n'


def write_template(folder: Path, name: str, compensation: str, **kw: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(template_text(compensation, **kw), encoding="utf-8")
    return path


def with_spill(source: Sample, path: Path, matrix: SpilloverMatrix) -> Sample:
    """``source``'s events and channels written again with ``matrix`` as their $SPILLOVER."""
    specs = [ChannelSpec(c.name, c.label, c.range) for c in source.channels]
    keywords = {"$TIMESTEP": source.keywords["$TIMESTEP"], "$FIL": path.name}
    spill = Spill(matrix.detectors, np.array(matrix.matrix))
    write_fcs(path, source.events, specs, keywords=keywords, spill=spill)
    return read_fcs(path)


@dataclass
class Setup:
    truth: ControlsTruth
    controls: ControlSet
    matrix: SpilloverMatrix  # estimated from the controls
    csv: Path
    folder: Path  # the templates' folder, holding matrices/panel.csv
    stained: Sample  # the sample lot's tubes carrying the estimate as $SPILLOVER
    fmo: Sample


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("compensation")
    truth = write_control_tubes(base / "controls", seed=5, n_events=10_000)
    controls = ControlSet(
        tuple(truth.folder / c["file"] for c in truth.controls), truth.folder / UNSTAINED_FILE
    )
    matrix = estimate_spillover(controls.controls, controls.unstained).matrix()
    folder = base / "templates"
    (folder / "matrices").mkdir(parents=True)
    csv = write_spillover_csv(folder / "matrices" / "panel.csv", matrix)
    stained = with_spill(read_fcs(SAMPLE_LOT / "tube1_stained.fcs"), base / "s.fcs", matrix)
    fmo = with_spill(read_fcs(SAMPLE_LOT / "tube2_fmo_car.fcs"), base / "f.fcs", matrix)
    write_template(folder, "by-file", _FILE_BLOCK)
    write_template(folder, "by-controls", "compensation:\n  source: controls\n")
    return Setup(truth, controls, matrix, csv, folder, stained, fmo)


def gate(setup: Setup, template: Template, **kw: object) -> GatingResult:
    return gate_sample(setup.stained, template, control=setup.fmo, **kw)  # type: ignore[arg-type]


def counts(result: GatingResult) -> dict[str, int]:
    return {r["gate_id"]: r["count"] for r in result.population_records()}


@pytest.fixture(scope="module")
def by_file(setup: Setup) -> GatingResult:
    return gate(setup, load_template(setup.folder / "by-file.yaml"))


def test_a_matrix_file_gives_the_counts_of_the_files_own_spillover(
    setup: Setup, by_file: GatingResult
) -> None:
    pinned = file_sha256(setup.csv)
    block = matrix_file_block("matrices/panel.csv", pinned)
    result = gate(setup, load_template(write_template(setup.folder, "by-matrix-file", block)))
    assert counts(result) == counts(by_file)
    assert [m.value for m in result.measurements] == [m.value for m in by_file.measurements]
    # compensation matters on this tube: without it the counts differ (the test can fail)
    none = load_template(write_template(setup.folder, "none", "compensation:\n  source: none\n"))
    assert counts(gate(setup, none)) != counts(by_file)

    record = result.to_dict()["compensation"]
    assert record["source"] == "matrix_file"
    assert record["description"] == "matrix file matrices/panel.csv"
    assert record["inputs"] == [
        {"role": "matrix_file", "path": "matrices/panel.csv", "sha256": pinned}
    ]
    own = by_file.to_dict()["compensation"]
    assert own["source"] == "file"
    assert own["inputs"][0]["sha256"] == setup.stained.sha256
    # the same numbers on the same detectors hash alike, whichever file held them
    assert record["matrix_sha256"] == own["matrix_sha256"] == matrix_sha256(setup.matrix)
    assert record["detectors"] == list(setup.matrix.detectors)
    np.testing.assert_array_equal(record["matrix"], setup.matrix.matrix)


def test_the_controls_estimated_at_gating_time_give_the_same_matrix_and_counts(
    setup: Setup, by_file: GatingResult
) -> None:
    template = load_template(setup.folder / "by-controls.yaml")
    result = gate(setup, template, compensation_controls=setup.controls)
    assert counts(result) == counts(by_file)
    record = result.to_dict()["compensation"]
    assert record["source"] == "controls"
    assert record["matrix_sha256"] == matrix_sha256(setup.matrix)
    singles = [i for i in record["inputs"] if i["role"] == "single_stain"]
    assert [i["sha256"] for i in singles] == [c["sha256"] for c in setup.truth.controls]
    assert [i["primary"] for i in singles] == [c["detector"] for c in setup.truth.controls]
    (blank,) = [i for i in record["inputs"] if i["role"] == "unstained"]
    assert blank["sha256"] == setup.truth.unstained["sha256"]
    assert record["estimate"]["max_residual"] < record["estimate"]["tolerance"]

    with pytest.raises(TemplateError, match="none were given"):
        gate(setup, template)
    # controls given to a template that compensates otherwise would be silently unused
    file_template = load_template(setup.folder / "by-file.yaml")
    with pytest.raises(TemplateError, match="would be left out"):
        gate(setup, file_template, compensation_controls=setup.controls)


def test_a_control_without_a_positive_population_refuses_the_gate_by_name(
    setup: Setup, tmp_path: Path
) -> None:
    dim = tmp_path / "control_CD4_dim.fcs"
    rng = np.random.default_rng(3)
    events = simulate_control(10_000, stain=3, matrix=setup.truth.matrix, rng=rng,
                              positive_fraction=0.02)  # fmt: skip
    write_fcs(dim, events, CHANNELS, keywords={"$TIMESTEP": "0.01"})
    controls = list(setup.controls.controls)
    controls[3] = dim
    template = load_template(setup.folder / "by-controls.yaml")
    with pytest.raises(InputError) as caught:
        gate(setup, template, compensation_controls=ControlSet(tuple(controls),
                                                               setup.controls.unstained))  # fmt: skip
    assert caught.value.path == str(dim)
    assert "positive population" in caught.value.problem
    assert f"{MIN_POSITIVE_EVENTS:,}" in caught.value.problem


def test_a_changed_matrix_file_under_a_locked_template_is_refused(
    setup: Setup, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    gating = library / "gating"
    (gating / "matrices").mkdir(parents=True)
    csv = gating / "matrices" / "panel.csv"
    shutil.copyfile(setup.csv, csv)
    block = matrix_file_block("matrices/panel.csv", file_sha256(csv))
    write_template(gating, "panel-mf", block, version="2.0.0")
    template = load_template(gating / "panel-mf.yaml")
    (gating / "LOCK").write_text(f"{template.id}@2.0.0 {template.sha256}\n", encoding="utf-8")
    set_library(library)
    try:
        locked = load_template("panel-mf")
        record = definition(DefinitionKind.GATING_TEMPLATE, locked.id, locked.version,
                            locked.sha256, locked.source or "")  # fmt: skip
        assert record.locked
        assert counts(gate(setup, locked)) == counts(gate(setup, template))

        # one coefficient changed, the template untouched: refused, not applied
        text = csv.read_text(encoding="utf-8").splitlines()
        cells = text[2].split(",")
        cells[0] = format(float(cells[0]) + 0.01, ".17g")
        text[2] = ",".join(cells)
        csv.write_text("\n".join(text) + "\n", encoding="utf-8")
        with pytest.raises(TemplateError) as caught:
            gate(setup, load_template("panel-mf"))
        assert "compensation.file 'matrices/panel.csv' has changed" in caught.value.problem
        assert caught.value.path == str(gating / "panel-mf.yaml")

        # pinning the new file is a changed template: no longer the locked version
        repinned = matrix_file_block("matrices/panel.csv", file_sha256(csv))
        write_template(gating, "panel-mf", repinned, version="2.0.0")
        edited = load_template("panel-mf")
        assert edited.sha256 != locked.sha256
        assert not definition(DefinitionKind.GATING_TEMPLATE, edited.id, edited.version,
                              edited.sha256, edited.source or "").locked  # fmt: skip
    finally:
        set_library(None)


def _hostile(setup: Setup, tmp_path: Path, text: str) -> tuple[Path, pytest.ExceptionInfo]:
    folder = tmp_path / "t"
    (folder / "m").mkdir(parents=True)
    csv = folder / "m" / "bad.csv"
    csv.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    template = load_template(write_template(folder, "t", matrix_file_block("m/bad.csv", digest)))
    with pytest.raises(InputError) as caught:
        gate(setup, template)
    assert caught.value.path == str(csv)
    return csv, caught


def _csv(setup: Setup, detectors: list[str], rows: list[list[str]]) -> str:
    return "\n".join([",".join(detectors), *(",".join(r) for r in rows)]) + "\n"


def _rows(setup: Setup) -> list[list[str]]:
    return [[format(float(v), ".17g") for v in row] for row in setup.matrix.matrix]


def test_hostile_matrix_files_are_refused_naming_file_and_field(
    setup: Setup, tmp_path: Path
) -> None:
    detectors = list(setup.matrix.detectors)
    rows = _rows(setup)
    short = _csv(setup, detectors, rows[:-1])
    _, caught = _hostile(setup, tmp_path / "a", short)
    assert "rows follow" in caught.value.problem
    ragged = _csv(setup, detectors, [*rows[:2], rows[2][:-1], *rows[3:]])
    _, caught = _hostile(setup, tmp_path / "b", ragged)
    assert caught.value.problem.startswith("row 4 has 6 values")
    nan = [list(r) for r in rows]
    nan[1][4] = "nan"
    _, caught = _hostile(setup, tmp_path / "c", _csv(setup, detectors, nan))
    assert caught.value.problem == "row 3, column 5 is not finite"
    word = [list(r) for r in rows]
    word[5][0] = "0,2"  # a decimal comma: one cell too many
    _, caught = _hostile(setup, tmp_path / "d", _csv(setup, detectors, word))
    assert caught.value.problem.startswith("row 7 has 8 values")
    word[5][0] = "zero"
    _, caught = _hostile(setup, tmp_path / "e", _csv(setup, detectors, word))
    assert caught.value.problem.startswith("row 7, column 1: 'zero' is not a number")
    absent = ["BV999-A", *detectors[1:]]
    _, caught = _hostile(setup, tmp_path / "f", _csv(setup, absent, rows))
    assert caught.value.problem == "header, column 1: detector 'BV999-A' is not a channel of s.fcs"
    # a matrix leaving out a detector a marker reads would gate it uncompensated
    fewer = [r[:-1] for r in rows[:-1]]
    _, caught = _hostile(setup, tmp_path / "g", _csv(setup, detectors[:-1], fewer))
    assert "leaves out detectors the template's markers read: cd4 (APC-H7-A)" in (
        caught.value.problem
    )


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("compensation:\n  source: matrix_file\n  file: m.csv\n", "needs `file`"),
        (matrix_file_block("../m.csv", "0" * 64), "without '..'"),
        (matrix_file_block("/etc/m.csv", "0" * 64), "without '..'"),
        (matrix_file_block("m.csv", "ABC"), "compensation.sha256"),
        (_FILE_BLOCK + "  file: m.csv\n", "belong to source: matrix_file"),
        (_FILE_BLOCK + "  matrix: [[1]]\n", "belong to source: matrix"),
    ],
)
def test_a_malformed_compensation_block_is_refused_with_its_line(
    tmp_path: Path, block: str, expected: str
) -> None:
    path = write_template(tmp_path, "t", block)
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert caught.value.path == str(path)
    assert "compensation" in caught.value.problem and "(line " in caught.value.problem
    assert expected in caught.value.problem


def test_a_missing_or_escaping_matrix_file_is_refused(setup: Setup, tmp_path: Path) -> None:
    template = load_template(write_template(tmp_path, "t", matrix_file_block("m.csv", "0" * 64)))
    with pytest.raises(InputError, match="no such file"):
        gate(setup, template)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    shutil.copyfile(setup.csv, outside)
    (tmp_path / "link.csv").symlink_to(outside)
    block = matrix_file_block("link.csv", file_sha256(outside))
    template = load_template(write_template(tmp_path, "t", block))
    with pytest.raises(TemplateError, match="resolves outside the template's folder"):
        gate(setup, template)


def test_the_release_records_and_the_coa_shows_the_control_set(
    setup: Setup, tmp_path: Path
) -> None:
    from cytorelease.lot.release import release_lot

    lot = tmp_path / "lot"
    shutil.copytree(SAMPLE_LOT, lot)
    shutil.copytree(setup.truth.folder, lot / "comp")
    manifest = yaml.safe_load((lot / "lot.yaml").read_text(encoding="utf-8"))
    template = setup.folder / "by-controls.yaml"
    manifest["inputs"]["flow"]["template"] = str(template)
    manifest["inputs"]["flow"]["tubes"] += [
        *({"path": f"comp/{c['file']}", "role": "single_stain"} for c in setup.truth.controls),
        {"path": f"comp/{UNSTAINED_FILE}", "role": "unstained"},
    ]
    (lot / "lot.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    outcome = release_lot(lot, out=tmp_path / "out", created_at=datetime(2026, 7, 20, tzinfo=UTC))
    record = outcome.record
    (flow,) = [a for a in record["analyses"] if a["analysis"] == "flow"]
    comp = flow["summary"]["compensation"]
    assert comp["source"] == "controls"
    single = [i for i in record["inputs"] if i["role"] == "flow.single_stain"]
    assert [i["path"] for i in single] == [f"comp/{c['file']}" for c in setup.truth.controls]
    assert [i["sha256"] for i in single] == [c["sha256"] for c in setup.truth.controls]
    assert [i["path"] for i in comp["inputs"]][-1] == f"comp/{UNSTAINED_FILE}"
    html = outcome.report_path.read_text(encoding="utf-8")
    line = (
        '<tr><th scope="row">Compensation (flow)</th><td>estimated from 7 single-stain '
        'controls and an unstained tube; matrix SHA-256 <span class="hash">'
        f"{comp['matrix_sha256']}</span></td></tr>"
    )
    assert line in html
    assert comp["matrix_sha256"] == matrix_sha256(setup.matrix)  # the same controls

    # controls listed for a template that compensates from the file: refused, not left out
    manifest["inputs"]["flow"]["template"] = "cd19-car-t-panel"
    (lot / "lot.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    with pytest.raises(TemplateError, match="would be left out"):
        release_lot(lot, out=tmp_path / "out2")
    manifest["inputs"]["flow"]["tubes"] = manifest["inputs"]["flow"]["tubes"][:-1]
    (lot / "lot.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    with pytest.raises(ManifestError, match="exactly one unstained tube"):
        release_lot(lot, out=tmp_path / "out3")


def test_flow_gate_json_shows_the_matrix_file_and_its_hash(setup: Setup, tmp_path: Path) -> None:
    from tests.cli_contract import invoke, one_json_document

    pinned = file_sha256(setup.csv)
    path = write_template(setup.folder, "cli", matrix_file_block("matrices/panel.csv", pinned))
    result = invoke(["flow", "gate", str(setup.stained.path), "--template", str(path),
                     "--control", str(setup.fmo.path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    comp = one_json_document(result.stdout)["compensation"]
    assert (comp["source"], comp["matrix_sha256"]) == ("matrix_file", matrix_sha256(setup.matrix))
    assert comp["inputs"][0]["sha256"] == pinned

    # the same numbers with one more (blank) line: other bytes than the template pins
    (tmp_path / "panel.csv").write_bytes(setup.csv.read_bytes() + b"\n")
    changed = write_template(tmp_path, "cli", matrix_file_block("panel.csv", pinned))
    result = invoke(["flow", "gate", str(setup.stained.path), "--template", str(changed)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {changed}: compensation.file 'panel.csv' has changed")
