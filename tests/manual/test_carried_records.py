"""A CoA carries each verified manual result's signed record, and `sign` and `verify` re-check
it offline: a record claiming a verification its events do not hold is refused and fails."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.lot.release import release_lot
from cytorelease.report.entry import Meaning
from cytorelease.report.record import extract_record
from cytorelease.report.registry import load_registry
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes
from cytorelease.report.unlock import unlock_signer
from tests.double_entry import PASSPHRASE, People, bench_values, enter_verified

runner = CliRunner()
ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE, "CYTORELEASE_TSA": None}


def _released(lot: Path, people: People, out: Path) -> Path:
    enter_verified(lot, people, bench_values(lot))
    return release_lot(lot, out=out, registry=people.folder).report_path


def _verify(report: Path, people: People) -> object:
    return runner.invoke(app, ["verify", str(report), "--trust", str(people.registry), "--json"])


def test_the_coa_carries_each_record_and_verify_checks_it(
    sample_copy: Path, people: People, tmp_path: Path
) -> None:
    report = _released(sample_copy, people, tmp_path / "out")
    record = extract_record(report.read_bytes())
    manual = [m for m in record["measurements"] if m["method"]["kind"] == "manual"]
    assert manual and all(m["details"]["manual_record"]["text"] for m in manual)
    signed = runner.invoke(app, ["sign", str(report), "--key", str(people.first.key_path),
                                 "--meaning", "performed", "--registry", str(people.folder)],
                           env=ENV)  # fmt: skip
    assert signed.exit_code == 0, signed.stderr
    verified = _verify(report, people)
    assert verified.exit_code == 0, verified.stderr  # type: ignore[attr-defined]


def test_a_forged_verification_is_refused_by_sign_and_fails_verify(
    sample_copy: Path, people: People, tmp_path: Path
) -> None:
    report = _released(sample_copy, people, tmp_path / "out")
    record = extract_record(report.read_bytes())
    forged = copy.deepcopy(record)
    # the insider keeps the analyst's signed entry and drops the second person's verification,
    # then rewrites the record so it still claims "verified"
    for m in forged["measurements"]:
        if m["attribute"] == "manual.endotoxin_eu_ml":
            carried = m["details"]["manual_record"]
            events = json.loads(carried["text"])["events"][:1]
            carried["text"] = json.dumps({"events": events}, indent=2)
            carried["sha256"] = hashlib.sha256(carried["text"].encode()).hexdigest()
    page = tmp_path / "forged.html"
    page.write_text(render_coa(forged), encoding="utf-8")
    refused = runner.invoke(app, ["sign", str(page), "--key", str(people.first.key_path),
                                  "--meaning", "performed", "--registry", str(people.folder)],
                            env=ENV)  # fmt: skip
    assert refused.exit_code == 2
    assert "manual.endotoxin_eu_ml" in refused.stderr and "unverified" in refused.stderr

    # signed outside `sign` (the library without the check): verify still names it
    unlocked = unlock_signer(people.first.key_path, PASSPHRASE, people.folder, target=page,
                             purpose="performed")  # fmt: skip
    data, _ = sign_bytes(page.read_bytes(), private_key=unlocked.private_key,
                         signer=unlocked.signer, meaning=Meaning.PERFORMED,
                         registry=load_registry(people.folder))  # fmt: skip
    page.write_bytes(data)
    failed = _verify(page, people)
    assert failed.exit_code == 1  # type: ignore[attr-defined]
    failures = json.loads(failed.stdout)["failures"]  # type: ignore[attr-defined]
    assert any("manual.endotoxin_eu_ml" in f and "no second person" in f for f in failures)
