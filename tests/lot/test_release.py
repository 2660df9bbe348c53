"""The release pipeline on a whole lot: analyses, evaluation, the result record and the CoA."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.demo import find_sample_lot
from cytorelease.errors import InputError, SpecError
from cytorelease.lot.release import ReleaseOutcome, release_lot
from cytorelease.provenance import canonical_json, content_sha256, file_sha256
from cytorelease.report.record import extract_record
from cytorelease.synth import generate_lot
from tests.double_entry import People, enter_bench_sheet, make_people

runner = CliRunner()
MOMENT = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> People:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory, people: People) -> Path:
    """A conforming synthetic lot whose manual results two people entered and verified."""
    lot_dir = generate_lot(tmp_path_factory.mktemp("lots"), seed=3).lot_dir
    enter_bench_sheet(lot_dir, people)
    return lot_dir


@pytest.fixture(scope="module")
def released(lot: Path, people: People, tmp_path_factory: pytest.TempPathFactory) -> ReleaseOutcome:
    return release_lot(
        lot, out=tmp_path_factory.mktemp("release"), created_at=MOMENT, registry=people.folder
    )


def _copy(lot: Path, tmp_path: Path) -> Path:
    target = tmp_path / lot.name
    shutil.copytree(lot, target)
    return target


def _measured(outcome: ReleaseOutcome) -> dict[str, object]:
    return {m["attribute"]: m["value"] for m in outcome.record["measurements"]}


def test_a_conforming_lot_passes_with_every_analysis_done(released: ReleaseOutcome) -> None:
    assert released.disposition == "PASS"
    assert released.exit_code == 0
    assert {a["analysis"]: a["status"] for a in released.record["analyses"]} == {
        "flow": "done",
        "qpcr": "done",
        "potency.elisa": "done",
        "potency.cytotox": "done",
    }
    verdicts = {c["id"]: c["verdict"] for c in released.record["evaluation"]["criteria"]}
    assert "missing" not in verdicts.values()


def test_measurements_agree_with_the_generators_truth(lot: Path, released: ReleaseOutcome) -> None:
    truth = json.loads((lot / "truth.json").read_text(encoding="utf-8"))
    measured = _measured(released)
    for attribute in (
        "flow.viability_pct_of_cd45",
        "flow.cd3_pct_of_viable_cd45",
        "flow.cd19_pct_of_viable",
    ):
        assert measured[attribute] == pytest.approx(truth["measurements"][attribute], abs=1.0)
    vcn = truth["qpcr"]["truth"]["vcn_per_diploid_genome"]
    assert measured["qpcr.vcn_per_diploid_genome"] == pytest.approx(vcn, rel=0.05)
    ifng = truth["potency"]["elisa"]["ifng_pg_ml"]
    assert measured["potency.ifng_pg_ml"] == pytest.approx(ifng, rel=0.15)
    lysis = truth["potency"]["cytotox"]["cytotoxicity_pct"]
    assert measured["potency.cytotoxicity_pct"] == pytest.approx(lysis, abs=5.0)


def test_record_carries_provenance_of_every_input_and_method(
    lot: Path, released: ReleaseOutcome
) -> None:
    record = released.record
    assert record["schema"] == "cytorelease.result/1"
    assert record["created_at"] == "2026-07-20T09:30:00Z"
    inputs = {i["path"]: i["sha256"] for i in record["inputs"]}
    assert set(inputs) == {
        "tube1_stained.fcs",
        "tube2_fmo_car.fcs",
        "qpcr/qx_manager_results.csv",
        "elisa_ifng.csv",
        "killing_with_effectors.fcs",
        "killing_targets_alone.fcs",
    }
    for relative, sha in inputs.items():
        assert file_sha256(lot / relative) == sha
    kinds = {(m["kind"], m["id"]) for m in record["methods"]}
    assert {("gating-template", "cd19-car-t-panel"), ("assay", "vcn-car-rpp30")} <= kinds
    assert all(len(m["sha256"]) == 64 for m in record["methods"])
    spec = record["evaluation"]["spec"]
    assert (spec["id"], spec["version"], len(spec["sha256"])) == ("cd19-car-t", 2, 64)
    assert record["software"]["name"] == "cytorelease"
    assert "/" not in "".join(
        i["path"][:1] for i in record["inputs"]
    )  # lot-relative, never absolute


def test_result_json_is_the_record_and_the_coa_embeds_it(released: ReleaseOutcome) -> None:
    on_disk = json.loads(released.result_path.read_text(encoding="utf-8"))
    assert on_disk == released.record
    assert content_sha256(on_disk) == released.record_sha256
    canonical_json(on_disk)  # no NaN or inf anywhere
    html = released.report_path.read_bytes()
    assert extract_record(html) == released.record
    text = html.decode("utf-8")
    assert "<svg" in text and "IFN-gamma standard curve" in text
    assert released.record["lot"]["chain_of_identity"] in text


def test_raw_files_are_only_read(lot: Path, tmp_path: Path) -> None:
    copy = _copy(lot, tmp_path)
    before = {p: file_sha256(p) for p in copy.rglob("*") if p.is_file()}
    release_lot(copy, out=tmp_path / "out", created_at=MOMENT)
    assert {p: file_sha256(p) for p in copy.rglob("*") if p.is_file()} == before


def test_an_analysis_absent_from_the_manifest_leaves_its_criteria_missing(
    lot: Path, tmp_path: Path
) -> None:
    copy = _copy(lot, tmp_path)
    manifest = copy / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    start = text.index("  qpcr:\n")
    end = text.index("  potency:\n")
    manifest.write_text(text[:start] + text[end:], encoding="utf-8")
    outcome = release_lot(copy, out=tmp_path / "out", created_at=MOMENT)
    assert outcome.disposition == "INCOMPLETE"
    assert outcome.exit_code == 1
    verdicts = {c["id"]: c["verdict"] for c in outcome.record["evaluation"]["criteria"]}
    assert verdicts["transgene-identity"] == "missing"
    assert verdicts["vcn"] == "missing"
    assert verdicts["cd3-identity"] == "pass"
    qpcr = next(a for a in outcome.record["analyses"] if a["analysis"] == "qpcr")
    assert qpcr["status"] == "not in manifest"


def test_a_corrupt_raw_file_is_an_error_naming_it(lot: Path, tmp_path: Path) -> None:
    copy = _copy(lot, tmp_path)
    tube = copy / "tube1_stained.fcs"
    tube.write_bytes(tube.read_bytes()[: tube.stat().st_size // 2])
    with pytest.raises(InputError) as info:
        release_lot(copy, out=tmp_path / "out")
    assert "tube1_stained.fcs" in info.value.one_line()
    assert not (tmp_path / "out" / "result.json").exists()


def test_an_older_spec_version_can_be_applied_and_another_product_is_refused(
    lot: Path, tmp_path: Path
) -> None:
    outcome = release_lot(lot, spec="cd19-car-t@1", out=tmp_path / "v1", created_at=MOMENT)
    assert outcome.record["evaluation"]["spec"]["version"] == 1
    other = tmp_path / "other.yaml"
    text = (Path(__file__).parents[2] / "specs" / "cd19-car-t" / "v2.yaml").read_text(
        encoding="utf-8"
    )
    other.write_text(
        text.replace("product: cd19-car-t", "product: bcma-car-t").replace(
            "status: effective", "status: draft"
        ),
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="spec is for product 'bcma-car-t'"):
        release_lot(lot, spec=other, out=tmp_path / "other")


def test_cli_exit_codes_and_json(lot: Path, people: People, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["release", str(lot), "--out", str(tmp_path / "ok"), "--registry", str(people.folder),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["disposition"] == "PASS"
    assert Path(document["report"]).is_file()
    missing = runner.invoke(app, ["release", str(tmp_path / "nowhere"), "--json"])
    assert missing.exit_code == 2
    assert missing.stdout == ""
    assert missing.stderr.strip().startswith("error: ") and "nowhere" in missing.stderr


def test_demo_releases_signs_as_the_policy_asks_and_verifies(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["verified"] is True
    assert summary["disposition"] == "PASS"
    assert [s["step"] for s in summary["steps"] if s["step"].startswith("sign")] == [
        "sign (performed)",
        "sign (reviewed)",
        "sign (approved)",
    ]
    assert (tmp_path / "registry.yaml").is_file()
    assert not list(tmp_path.glob("*.pem")), "private keys must not be left in the output folder"
    verify = runner.invoke(
        app, ["verify", summary["report"], "--trust", str(tmp_path / "registry.yaml")]
    )
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def test_coa_lists_each_analysis_and_its_review_flags(released: ReleaseOutcome) -> None:
    text = released.report_path.read_text(encoding="utf-8")
    assert 'id="analyses"' in text
    for analysis in released.record["analyses"]:
        assert f"<td>{analysis['analysis']}</td><td>{analysis['status']}</td>" in text
    flow = next(a for a in released.record["analyses"] if a["analysis"] == "flow")
    assert any("acquisition QC removed" in f for f in flow["flags"])
    checks = {c["gate"]: c for c in flow["summary"]["cross_check"]}
    assert set(checks) == {"cd3", "car"}
    assert all(
        abs(c["difference_pct"]) <= c["max_difference_pct"] and not c["flagged"]
        for c in checks.values()
    )


def test_a_signed_coa_is_never_overwritten(tmp_path: Path) -> None:
    first = runner.invoke(app, ["demo", "--out", str(tmp_path), "--json"])
    assert first.exit_code == 0, first.stderr
    report = Path(json.loads(first.stdout)["report"])
    signed = report.read_bytes()
    again = runner.invoke(app, ["release", str(find_sample_lot()), "--out", str(tmp_path)])
    assert again.exit_code == 2
    assert "signature(s); a signed record is never overwritten" in again.stderr
    assert report.read_bytes() == signed
    rerun = runner.invoke(
        app, ["demo", "--out", str(tmp_path), "--json"]
    )  # the demo replaces its own
    assert rerun.exit_code == 0, rerun.stderr


def test_a_foreign_file_where_the_coa_goes_is_kept(lot: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "coa-lot-CAR-0003.html"
    foreign.write_text("<html>someone's notes</html>", encoding="utf-8")
    with pytest.raises(InputError, match="is not a cytorelease CoA; refusing to overwrite"):
        release_lot(lot, out=tmp_path)
    assert foreign.read_text(encoding="utf-8") == "<html>someone's notes</html>"


def test_a_controls_template_without_controls_in_the_manifest_names_the_manifest(
    lot: Path, people: People, tmp_path: Path
) -> None:
    """The template compensates from single-stain controls and lot.yaml lists none: the refusal
    points at lot.yaml, where they are missing, and nothing is released."""
    from cytorelease._resources import resource_dir

    target = _copy(lot, tmp_path)
    panel = (resource_dir("gating") / "cd19-car-t-panel.yaml").read_text(encoding="utf-8")
    assert "compensation:\n  source: file\n" in panel
    template = target / "controls-panel.yaml"
    template.write_text(
        panel.replace("compensation:\n  source: file\n", "compensation:\n  source: controls\n"),
        encoding="utf-8",
    )
    manifest = target / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "  template: cd19-car-t-panel\n" in text
    manifest.write_text(
        text.replace("  template: cd19-car-t-panel\n", f"  template: {template}\n"), "utf-8"
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["release", str(target), "--out", str(out), "--registry", str(people.folder),
              "--json"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert said.startswith(f"error: {manifest}:") and "single-stain controls" in said
    assert not out.exists() or not list(out.rglob("result.json"))
