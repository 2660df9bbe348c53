"""A release judges manual results only once verified; the CoA says who entered and verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError, ManifestError
from cytorelease.lot.release import release_lot
from tests.double_entry import PASSPHRASE, People, bench_values, enter_verified, identity_of

MANUAL = (
    "manual.appearance", "manual.total_viable_cells", "manual.endotoxin_eu_ml",
    "manual.mycoplasma", "manual.rcl", "manual.sterility",
)  # fmt: skip


def _verdicts(record: dict) -> dict[str, str]:
    return {c["attribute"]: c["verdict"] for c in record["evaluation"]["criteria"]}


def test_verified_entries_pass_and_the_coa_names_both_people(
    sample_copy: Path, people: People, tmp_path: Path
) -> None:
    enter_verified(sample_copy, people, bench_values(sample_copy))
    outcome = release_lot(sample_copy, out=tmp_path / "out", registry=people.folder)
    assert outcome.disposition == "PASS"
    verdicts = _verdicts(outcome.record)
    assert all(verdicts[a] in {"pass", "report-only"} for a in MANUAL if a in verdicts)
    manual = [m for m in outcome.record["measurements"] if m["method"]["kind"] == "manual"]
    assert {m["attribute"] for m in manual} == set(MANUAL)
    assert all(m["details"]["verified_by"] == "ssecond" for m in manual)
    page = outcome.report_path.read_text(encoding="utf-8")
    assert "Manual results (entered, then verified by a second person)" in page
    assert "ssecond" in page and "ffirst" in page

    # the same lot without the registry: nobody's authority is known, so nothing counts
    again = release_lot(sample_copy, out=tmp_path / "again")
    assert again.disposition == "INCOMPLETE"
    assert {_verdicts(again.record)[a] for a in MANUAL if a in verdicts} == {"unverified"}


def test_unverified_and_unsigned_values_are_shown_but_never_pass(
    sample_copy: Path, people: People, tmp_path: Path
) -> None:
    values = bench_values(sample_copy)
    sterility = values.pop("manual.sterility")
    enter_verified(sample_copy, people, values)
    from cytorelease.manual import enter_value

    enter_value(
        sample_copy, identity_of(sample_copy), attribute="manual.sterility",
        value=sterility[0], key_path=people.first.key_path, passphrase=PASSPHRASE,
        registry=people.folder,
    )  # fmt: skip
    outcome = release_lot(sample_copy, out=tmp_path / "out", registry=people.folder)
    assert outcome.disposition == "INCOMPLETE"
    criterion = next(
        c for c in outcome.record["evaluation"]["criteria"] if c["attribute"] == "manual.sterility"
    )
    assert criterion["verdict"] == "unverified" and criterion["reported"] == "no growth"
    assert "no second person has verified it" in criterion["note"]
    assert "Not verified" in outcome.report_path.read_text(encoding="utf-8")

    # the old way: a value written into lot.yaml by hand, with a self-declared author
    manifest = yaml.safe_load((sample_copy / "lot.yaml").read_text())
    manifest["manual"] = [{"attribute": "manual.sterility", "value": "no growth",
                           "entered_by": "someone", "entered_at": "2026-07-20T10:00:00Z"}]  # fmt: skip
    (sample_copy / "lot.yaml").write_text(yaml.safe_dump(manifest))
    (sample_copy / "manual" / "manual.sterility.json").unlink()
    legacy = release_lot(sample_copy, out=tmp_path / "legacy", registry=people.folder)
    assert legacy.disposition == "INCOMPLETE"
    assert _verdicts(legacy.record)["manual.sterility"] == "unverified"

    # the same attribute in both places is refused: one result, one place
    enter_verified(sample_copy, people, {"manual.sterility": sterility})
    with pytest.raises(ManifestError, match="one result, one place"):
        release_lot(sample_copy, out=tmp_path / "both", registry=people.folder)


def test_a_mismatch_stops_the_release(sample_copy: Path, people: People, tmp_path: Path) -> None:
    from cytorelease.manual import enter_value, verify_value

    lot = identity_of(sample_copy)
    common = {"attribute": "manual.mycoplasma", "passphrase": PASSPHRASE,
              "registry": people.folder}  # fmt: skip
    enter_value(sample_copy, lot, value="not detected", key_path=people.first.key_path, **common)
    verify_value(sample_copy, lot, value="detected", key_path=people.second.key_path, **common)
    with pytest.raises(InputError, match="does not match the first"):
        release_lot(sample_copy, out=tmp_path / "out", registry=people.folder)


def test_the_cli_enters_verifies_blind_and_audits(
    tmp_path: Path, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytorelease.records.datadir import DB_ENV
    from tests.manual.conftest import bare_lot

    monkeypatch.delenv(DB_ENV, raising=False)
    lot = bare_lot(tmp_path / "lot")
    data = tmp_path / "data"
    runner = CliRunner()
    base = ["--attribute", "manual.rcl", "--registry", str(people.folder), "--data-dir", str(data)]
    entered = runner.invoke(
        app, ["manual", "enter", str(lot), *base, "--value", "not detected", "--key",
              str(people.first.key_path), "--json"], input=PASSPHRASE + "\n",
    )  # fmt: skip
    assert entered.exit_code == 0, entered.output
    assert json.loads(entered.stdout)["action"] == "enter"

    monkeypatch.setenv("CYTORELEASE_PASSPHRASE", PASSPHRASE)
    scripted = runner.invoke(app, ["manual", "verify", str(lot), *base, "--value", "x",
                                   "--key", str(people.second.key_path)])  # fmt: skip
    assert scripted.exit_code == 2 and "typed, never taken" in scripted.stderr
    monkeypatch.delenv("CYTORELEASE_PASSPHRASE")

    wrong = runner.invoke(
        app, ["manual", "verify", str(lot), *base, "--value", "detected", "--key",
              str(people.second.key_path)], input=PASSPHRASE + "\n",
    )  # fmt: skip
    assert wrong.exit_code == 1 and "does not match the first" in wrong.stderr
    assert "not detected" not in wrong.output  # the first value is never shown

    status = runner.invoke(app, ["manual", "status", str(lot), "--registry",
                                 str(people.folder), "--json"])  # fmt: skip
    assert status.exit_code == 0, status.output
    rows = json.loads(status.stdout)["manual"]
    assert [(r["attribute"], r["state"]) for r in rows] == [("manual.rcl", "mismatch")]
    assert "value" not in rows[0]

    log = CliRunner().invoke(app, ["audit", "log", "--data-dir", str(data), "--json"])
    actions = [r["action"] for r in json.loads(log.stdout)["rows"] if r["lot"] == "LOT-7"]
    assert actions == ["manual-enter", "manual-mismatch"]
