"""A lot is judged only against definitions the library's LOCK holds (issue 13, item 1).

Each test is the attack as it was reproduced: a lot.yaml naming a relaxed spec copy that carries
its own LOCK, a file named like the bundled template in the folder ``release`` runs from, a site
library swapped in through CYTORELEASE_LIBRARY, an edited definition inside a site library.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease import _resources
from cytorelease.cli.main import app
from cytorelease.demo import find_sample_lot
from cytorelease.errors import SignatureError
from cytorelease.lot.release import ReleaseOutcome, release_lot
from cytorelease.report.record import extract_record
from cytorelease.report.sign import Meaning, _refuse_unlocked_approval, sign_report
from cytorelease.signature_policy import Role
from cytorelease.spec.loader import load_spec_file
from tests.double_entry import People, bench_values, enter_bench_sheet, enter_verified, make_people
from tests.report.conftest import Signer

ROOT = Path(__file__).resolve().parents[2]
MOMENT = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_library_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CYTORELEASE_LIBRARY", raising=False)
    monkeypatch.setattr(_resources, "_library_override", None)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> People:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, people: People) -> Path:
    """A copy of the sample lot with its bench sheet entered and verified (never edited)."""
    lot = _lot_copy(tmp_path_factory.mktemp("sample"))
    enter_bench_sheet(lot, people)
    return lot


@pytest.fixture(scope="module")
def normal(
    tmp_path_factory: pytest.TempPathFactory, sample: Path, people: People
) -> ReleaseOutcome:
    return release_lot(
        sample, out=tmp_path_factory.mktemp("normal"), created_at=MOMENT, registry=people.folder
    )


def _lot_copy(tmp_path: Path) -> Path:
    target = tmp_path / "lot"
    shutil.copytree(find_sample_lot(), target)
    return target


def _edit_manifest(lot: Path, old: str, new: str) -> None:
    manifest = lot / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text, f"the sample lot.yaml no longer holds {old!r}"
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")


def _car(outcome: ReleaseOutcome) -> object:
    return next(
        m["value"]
        for m in outcome.record["measurements"]
        if m["attribute"] == "flow.car_pct_of_viable_cd3"
    )


def test_the_sample_lot_is_judged_only_by_locked_definitions(normal: ReleaseOutcome) -> None:
    kinds = {(d["kind"], d["id"]): d["locked"] for d in normal.record["definitions"]}
    assert kinds[("spec", "cd19-car-t")] is True
    assert kinds[("gating-template", "cd19-car-t-panel")] is True
    assert kinds[("assay", "vcn-car-rpp30")] is True
    assert all(kinds.values())
    assert "library" not in normal.record
    assert "NOT FOR RELEASE" not in normal.report_path.read_text(encoding="utf-8")


def test_a_relaxed_spec_copy_with_its_own_lock_is_not_for_release(
    tmp_path: Path, normal: ReleaseOutcome, people: People
) -> None:
    # The attack: copy v2, allow a detected mycoplasma, write a LOCK beside the copy that
    # records the copy's own hash, and name the copy by path in lot.yaml.
    relaxed = tmp_path / "relaxed" / "cd19-car-t" / "v2.yaml"
    relaxed.parent.mkdir(parents=True)
    text = (ROOT / "specs" / "cd19-car-t" / "v2.yaml").read_text(encoding="utf-8")
    assert "allowed: [not detected]\n    method: NAT" in text
    relaxed.write_text(
        text.replace(
            "allowed: [not detected]\n    method: NAT",
            "allowed: [not detected, detected]\n    method: NAT",
        ),
        encoding="utf-8",
    )
    sha = load_spec_file(relaxed).sha256
    (tmp_path / "relaxed" / "LOCK").write_text(f"cd19-car-t@2 {sha}\n", encoding="utf-8")
    lot = _lot_copy(tmp_path)
    _edit_manifest(lot, "spec: cd19-car-t@2", f"spec: {relaxed}")
    assert bench_values(lot)["manual.mycoplasma"][0] == "not detected"
    enter_verified(lot, people, {**bench_values(lot), "manual.mycoplasma": ("detected", None)})
    outcome = release_lot(lot, out=tmp_path / "out", created_at=MOMENT, registry=people.folder)

    spec = outcome.record["definitions"][0]
    assert (spec["kind"], spec["id"], spec["version"]) == ("spec", "cd19-car-t", "2")
    assert spec["locked"] is False and spec["sha256"] == sha and spec["source"] == str(relaxed)
    # the relaxed copy itself passes every criterion: only the lock check withholds PASS
    mycoplasma = next(
        c for c in outcome.record["evaluation"]["criteria"] if c["id"] == "mycoplasma"
    )
    assert (
        mycoplasma["verdict"]
        == normal.record["evaluation"]["criteria"][
            [c["id"] for c in normal.record["evaluation"]["criteria"]].index("mycoplasma")
        ]["verdict"]
    )
    assert outcome.disposition != "PASS" and outcome.exit_code == 1
    html = outcome.report_path.read_text(encoding="utf-8")
    header = html[html.index('<header class="doc-header"') : html.index("</header>")]
    assert f"NOT FOR RELEASE: unlocked definition spec cd19-car-t ({relaxed})" in header
    record = extract_record(outcome.report_path.read_bytes())
    with pytest.raises(SignatureError, match="cannot be approved"):
        _refuse_unlocked_approval(record, Meaning.APPROVED, str(outcome.report_path))
    _refuse_unlocked_approval(record, Meaning.REVIEWED, None)  # a what-if may be reviewed
    # with a real QA key, as the attacker would sign it
    qa = Signer(tmp_path / "keys", "Quinn Q. Approver", "qapprover", Role.QA_APPROVER)
    before = outcome.report_path.read_bytes()
    with pytest.raises(SignatureError, match="unlocked definition spec cd19-car-t"):
        sign_report(
            outcome.report_path,
            private_key=qa.private_key,
            signer=qa.entry,
            meaning=Meaning.APPROVED,
            now=datetime(2026, 11, 20, 12, tzinfo=UTC),
        )
    assert outcome.report_path.read_bytes() == before


def test_a_file_named_like_the_template_in_the_current_folder_is_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    normal: ReleaseOutcome,
    sample: Path,
    people: People,
) -> None:
    # The attack: a loosened template saved as 'cd19-car-t-panel' where release is run.
    bundled = (ROOT / "gating" / "cd19-car-t-panel.yaml").read_text(encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    (work / "cd19-car-t-panel").write_text(bundled.replace('version: "1.0.0"', 'version: "9"'))
    monkeypatch.chdir(work)
    outcome = release_lot(sample, out=tmp_path / "out", created_at=MOMENT, registry=people.folder)
    assert _car(outcome) == _car(normal)
    template = next(d for d in outcome.record["definitions"] if d["kind"] == "gating-template")
    assert (template["version"], template["locked"]) == ("1.0.0", True)


def _site_library(tmp_path: Path) -> Path:
    library = tmp_path / "site"
    shutil.copytree(ROOT / "specs", library / "specs")
    shutil.copytree(ROOT / "gating", library / "gating")
    return library


def test_a_site_library_is_shown_and_recorded(tmp_path: Path, sample: Path, people: People) -> None:
    library = _site_library(tmp_path)
    result = runner.invoke(
        app,
        [
            "release",
            str(sample),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--registry",
            str(people.folder),
        ],
        env={"CYTORELEASE_LIBRARY": str(library)},
    )
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("library: "))
    assert line.startswith(f"library: {library.resolve()} (site, LOCK sha256 ")
    document = json.loads(result.stdout)
    assert document["library"]["path"] == str(library.resolve())
    assert len(document["library"]["lock_sha256"]) == 64
    assert document["library"]["lock_sha256"][:12] in line
    html = next((tmp_path / "out").glob("coa-*.html")).read_text(encoding="utf-8")
    assert f"{library.resolve()} (site, LOCK sha256 {document['library']['lock_sha256']})" in html


def test_a_template_edited_in_a_site_library_outside_its_lock_is_unlocked(
    tmp_path: Path, sample: Path, people: People
) -> None:
    library = _site_library(tmp_path)
    panel = library / "gating" / "cd19-car-t-panel.yaml"
    text = panel.read_text(encoding="utf-8")
    panel.write_text(text.replace('version: "1.0.0"', 'version: "1.0.1"', 1), encoding="utf-8")
    _resources.set_library(library)
    outcome = release_lot(sample, out=tmp_path / "out", created_at=MOMENT, registry=people.folder)
    template = next(d for d in outcome.record["definitions"] if d["kind"] == "gating-template")
    assert (template["version"], template["locked"]) == ("1.0.1", False)
    assert outcome.disposition == "INCOMPLETE"
    assert "NOT FOR RELEASE: unlocked definition gating-template cd19-car-t-panel" in (
        outcome.report_path.read_text(encoding="utf-8")
    )


def test_a_spec_edited_in_a_site_library_under_its_locked_version_is_unlocked(
    tmp_path: Path, sample: Path, people: People
) -> None:
    # An edit inside the site library under a version its LOCK lists: the hash no longer
    # matches, so the run is an unlocked what-if (it used to be refused outright).
    library = _site_library(tmp_path)
    v2 = library / "specs" / "cd19-car-t" / "v2.yaml"
    text = v2.read_text(encoding="utf-8")
    v2.write_text(text.replace("allowed: [not detected]", "allowed: [not detected, detected]", 1))
    _resources.set_library(library)
    outcome = release_lot(sample, out=tmp_path / "out", created_at=MOMENT, registry=people.folder)
    spec = outcome.record["definitions"][0]
    assert (spec["kind"], spec["version"], spec["locked"]) == ("spec", "2", False)
    assert spec["sha256"] == load_spec_file(v2).sha256
    assert outcome.record["library"]["path"] == str(library.resolve())
    assert outcome.disposition == "INCOMPLETE" and outcome.exit_code == 1
    html = outcome.report_path.read_text(encoding="utf-8")
    header = html[html.index('<header class="doc-header"') : html.index("</header>")]
    assert "NOT FOR RELEASE: unlocked definition spec cd19-car-t (cd19-car-t@2)" in header
    record = extract_record(outcome.report_path.read_bytes())
    with pytest.raises(SignatureError, match="cannot be approved"):
        _refuse_unlocked_approval(record, Meaning.APPROVED, str(outcome.report_path))


def test_a_relaxed_template_given_by_path_without_a_lock_is_a_what_if(
    tmp_path: Path, normal: ReleaseOutcome, people: People
) -> None:
    # A path template with no LOCK at all: run (not refused), marked unlocked, never PASS.
    assert normal.disposition == "PASS"
    relaxed = tmp_path / "relaxed-panel.yaml"
    shutil.copy(ROOT / "gating" / "cd19-car-t-panel.yaml", relaxed)
    relaxed.write_text(
        relaxed.read_text(encoding="utf-8").replace("min_events: 1000", "min_events: 10", 1),
        encoding="utf-8",
    )
    lot = _lot_copy(tmp_path)
    _edit_manifest(lot, "template: cd19-car-t-panel", f"template: {relaxed}")
    enter_bench_sheet(lot, people)
    outcome = release_lot(lot, out=tmp_path / "out", created_at=MOMENT, registry=people.folder)
    template = next(d for d in outcome.record["definitions"] if d["kind"] == "gating-template")
    assert (template["id"], template["version"]) == ("cd19-car-t-panel", "1.0.0")
    assert (template["locked"], template["source"]) == (False, str(relaxed))
    assert outcome.disposition == "INCOMPLETE"
    alerts = [a["message"] for a in outcome.record["evaluation"]["alerts"]]
    line = f"NOT FOR RELEASE: unlocked definition gating-template cd19-car-t-panel ({relaxed})"
    assert line in alerts and line in outcome.report_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lot_id", ["a/../../..", "lot-1\nok: forged line", "..", "-rf", "x" * 65])
def test_a_lot_id_that_could_leave_out_or_forge_a_line_is_refused(
    tmp_path: Path, lot_id: str
) -> None:
    # issue 13 item 8: 'lot_id: a/../../..' wrote the CoA outside --out; a newline forged a line
    from cytorelease.errors import ManifestError
    from cytorelease.lot_id import LOT_ID_RULE

    lot = _lot_copy(tmp_path)
    _edit_manifest(lot, "lot_id: lot-CAR-0001", f"lot_id: {json.dumps(lot_id)}")
    with pytest.raises(ManifestError) as info:
        release_lot(lot, out=tmp_path / "out", created_at=MOMENT)
    message = info.value.one_line()
    assert LOT_ID_RULE in message and "forged" not in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_release_with_a_data_folder_judges_with_the_library_it_names(
    tmp_path: Path, sample: Path, people: People
) -> None:
    library = _site_library(tmp_path)
    panel = library / "gating" / "cd19-car-t-panel.yaml"
    text = panel.read_text(encoding="utf-8")
    panel.write_text(text.replace('version: "1.0.0"', 'version: "1.0.1"', 1), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "library.yaml").write_text(f"library: {library}\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "release",
            str(sample),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--registry",
            str(people.folder),
        ],
        env={"CYTORELEASE_DATA": str(data)},
    )
    assert result.exit_code == 1, result.stderr  # an unlocked template: never PASS
    assert f"library: {library.resolve()} (site, LOCK sha256 " in result.stderr
    record = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert record["library"]["path"] == str(library.resolve())
    template = next(d for d in record["definitions"] if d["kind"] == "gating-template")
    assert (template["version"], template["locked"]) == ("1.0.1", False)
    assert record["evaluation"]["disposition"] == "INCOMPLETE"
    # --library (or CYTORELEASE_LIBRARY) given: the data folder's library.yaml is not used
    given = runner.invoke(
        app,
        [
            "release",
            str(sample),
            "--out",
            str(tmp_path / "out2"),
            "--json",
            "--registry",
            str(people.folder),
        ],
        env={"CYTORELEASE_DATA": str(data), "CYTORELEASE_LIBRARY": str(ROOT)},
    )
    assert given.exit_code == 0, given.stderr
    record = json.loads((tmp_path / "out2" / "result.json").read_text(encoding="utf-8"))
    assert record["library"]["path"] == str(ROOT.resolve())
    assert all(d["locked"] for d in record["definitions"])
