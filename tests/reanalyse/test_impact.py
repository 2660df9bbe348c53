"""The impact report: its numbers, the signed HTML page, and what verification catches."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

import pytest

from cytorelease.reanalyse.change import resolve_change
from cytorelease.reanalyse.executors import SerialExecutor
from cytorelease.reanalyse.impact import attribute_changes, impact_problems, selection_of
from cytorelease.reanalyse.impact_report import write_impact_report
from cytorelease.reanalyse.run import Reanalysis, reanalyse
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store
from cytorelease.report.entry import Meaning
from cytorelease.report.record import embed_json, extract_record
from cytorelease.report.sign import sign_with_key_file
from cytorelease.report.unlock import unlock_signer
from cytorelease.report.verify import IMPACT_UNCHECKED, verify_report
from cytorelease.signature_policy import Role
from tests.cli_contract import assert_bad_input, invoke, one_json_document
from tests.report.conftest import PASSPHRASE, Signer

from .test_reanalyse import LOTS, STRICT, template_copy

CAR = "flow.car_pct_of_viable_cd3"


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Signer]:
    folder = tmp_path_factory.mktemp("impact-keys")
    return {
        "analyst": Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST),
        "reviewer": Signer(folder, "Rémy Réviseur", "rreviewer", Role.REVIEWER),
        "qa": Signer(folder, "Quinn Q. Approver", "qapprover", Role.QA_APPROVER),
    }


def _argv(*args: object) -> list[str]:
    return [str(a) for a in args]


def _run(data: DataDir, template: Path) -> Reanalysis:
    store = open_store(data, url="")
    with store:
        return reanalyse(data, store, resolve_change(template=str(template)), SerialExecutor())


def _signed(data: DataDir, tmp_path: Path, analyst: Signer) -> tuple[Path, Reanalysis]:
    outcome = _run(data, template_copy(tmp_path, STRICT))
    out = tmp_path / "impact.html"
    signing = unlock_signer(analyst.key_path, PASSPHRASE, analyst.registry_path, target=out,
                            purpose="performed")  # fmt: skip
    write_impact_report(outcome.impact_record(selection_of(None, None, None)), out,
                        signing=signing)  # fmt: skip
    return out, outcome


def test_changes_carry_compares_paired_statistics() -> None:
    released = {"a": 10.0, "b": 20.0, "c": 30.0, "d": 40.0}
    moved = {"a": 11.0, "b": 22.5, "c": 30.5, "d": 43.0}
    outcomes = [
        {"lot": lot, "values": {CAR: [released[lot], moved[lot]]}, "verdicts": []}
        for lot in released
    ]
    found = attribute_changes(outcomes)[CAR]
    d = [moved[lot] - released[lot] for lot in released]
    sd = statistics.stdev(d)
    assert found["n"] == 4 and found["max"] == max(abs(x) for x in d)
    assert math.isclose(found["mean"], statistics.fmean(abs(x) for x in d))
    assert math.isclose(found["bias"], statistics.fmean(d))
    assert math.isclose(found["loa_low"], statistics.fmean(d) - 1.96 * sd)
    assert math.isclose(found["loa_high"], statistics.fmean(d) + 1.96 * sd)
    from scipy import stats

    half = stats.t.ppf(0.975, 3) * sd / math.sqrt(4)
    assert all(math.isclose(a, b) for a, b in
               zip(found["bias_ci"], [statistics.fmean(d) - half, statistics.fmean(d) + half],
                   strict=True))  # fmt: skip
    assert found["reasons"] == []


def test_an_unchanged_attribute_says_there_is_no_spread() -> None:
    outcomes = [{"lot": f"l{i}", "values": {CAR: [5.0, 5.0]}, "verdicts": []} for i in range(3)]
    found = attribute_changes(outcomes)[CAR]
    assert (found["bias"], found["max"], found["bias_ci"]) == (0.0, 0.0, None)
    assert found["reasons"] == ["the differences are all equal: no spread to test against"]


def test_the_signed_report_verifies_offline(
    data: DataDir, tmp_path: Path, people: dict[str, Signer]
) -> None:
    out, outcome = _signed(data, tmp_path, people["analyst"])
    page = out.read_text(encoding="utf-8")
    for lot in LOTS:
        assert f'id="flip-{lot}"' in page  # every flip, with its criteria
    assert "car-expression: " in page and "draft (not locked in the library)" in page
    record = extract_record(out.read_bytes())
    assert [f["lot"] for f in record["flips"]] == LOTS
    assert record["changes"][CAR]["bias"] < 0  # the stricter gate finds fewer CAR+ cells
    assert record["changes"] == outcome.to_dict()["changes"]
    result = verify_report(out, trust=people["analyst"].registry_path,
                           content_check=impact_problems)  # fmt: skip
    assert result.ok, result.failures()
    assert [c.entry.meaning for c in result.signatures if c.entry] == ["performed"]
    # taken for granted (no impact check), it does not verify
    bare = verify_report(out, trust=people["analyst"].registry_path)
    assert f"report: {IMPACT_UNCHECKED}" in bare.failures()
    cli = invoke(_argv("verify", out, "--trust", people["analyst"].registry_path, "--json"))
    assert cli.exit_code == 0, cli.stderr
    assert one_json_document(cli.stdout)["ok"] is True


def test_qa_reviews_it_and_nobody_approves_it(
    data: DataDir, tmp_path: Path, people: dict[str, Signer]
) -> None:
    out, _ = _signed(data, tmp_path, people["analyst"])
    reviewer = people["reviewer"]
    sign_with_key_file(out, key_path=reviewer.key_path, passphrase=PASSPHRASE,
                       meaning=Meaning.REVIEWED, registry=reviewer.registry_path,
                       content_check=impact_problems)  # fmt: skip
    result = verify_report(out, trust=reviewer.registry_path, content_check=impact_problems)
    assert result.ok, result.failures()
    assert [c.entry.meaning for c in result.signatures if c.entry] == ["performed", "reviewed"]
    from cytorelease.errors import SignatureError

    qa = people["qa"]
    with pytest.raises(SignatureError, match="'approved' is only for a lot"):
        sign_with_key_file(out, key_path=qa.key_path, passphrase=PASSPHRASE,
                           meaning=Meaning.APPROVED, registry=qa.registry_path,
                           content_check=impact_problems)  # fmt: skip


def test_an_edited_page_fails(data: DataDir, tmp_path: Path, people: dict[str, Signer]) -> None:
    out, _ = _signed(data, tmp_path, people["analyst"])
    page = out.read_bytes()
    edited = page.replace(b"<td>INCOMPLETE</td>", b"<td>PASS</td>", 1)
    assert edited != page
    out.write_bytes(edited)
    cli = invoke(_argv("verify", out, "--trust", people["analyst"].registry_path))
    assert cli.exit_code == 1
    assert "the page does not show its record" in cli.stderr


def test_a_summary_forged_and_re_signed_fails(
    data: DataDir, tmp_path: Path, people: dict[str, Signer]
) -> None:
    """An insider drops the flips from the record, renders it again and signs it with a real
    key: signature and page agree, and the outcomes it carries still give the flips."""
    outcome = _run(data, template_copy(tmp_path, STRICT))
    record = outcome.impact_record(selection_of(None, None, None))
    record["flips"] = []
    from cytorelease.report.impact_page import IMPACT_TEMPLATE
    from cytorelease.report.render import render_coa, stamp_rendering
    from cytorelease.report.sign import sign_report

    forged = tmp_path / "forged.html"
    forged.write_text(render_coa(stamp_rendering(record, template=IMPACT_TEMPLATE)), "utf-8")
    analyst = people["analyst"]
    # signing holds it to the impact checks: the insider signs around them
    sign_report(forged, private_key=analyst.private_key, signer=analyst.entry,
                meaning=Meaning.PERFORMED, registry=analyst.registry,
                content_check=lambda _: [])  # fmt: skip
    cli = invoke(_argv("verify", forged, "--trust", analyst.registry_path))
    assert cli.exit_code == 1
    assert "its flips are not what its per-lot outcomes give" in cli.stderr


def test_an_outcome_dropped_is_caught(data: DataDir, tmp_path: Path) -> None:
    outcome = _run(data, template_copy(tmp_path, STRICT))
    record = outcome.impact_record(selection_of(None, None, None))
    assert impact_problems(record) == []
    record["outcomes"] = record["outcomes"][1:]
    problems = impact_problems(record)
    assert any("it counts 3 lots" in p for p in problems), problems
    assert any("its flips are not" in p for p in problems), problems


def test_reanalyse_out_and_sign(data: DataDir, tmp_path: Path, people: dict[str, Signer]) -> None:
    analyst = people["analyst"]
    out = tmp_path / "impact.html"
    argv = _argv("reanalyse", "--data-dir", data.root, "--template",
                 template_copy(tmp_path, STRICT), "--executor", "serial", "--out", out,
                 "--sign", analyst.key_path, "--registry", analyst.registry_path, "--json")  # fmt: skip
    result = invoke(argv, env={"CYTORELEASE_PASSPHRASE": PASSPHRASE})
    assert result.exit_code == 0, result.stderr
    summary = one_json_document(result.stdout)
    assert summary["report"]["signature"]["meaning"] == "performed"
    assert summary["change"]["template"]["locked"] is False
    assert {"bias", "bias_ci", "loa_low", "loa_high"} <= set(summary["changes"][CAR])
    assert summary["flips"][0]["verdicts"][0]["criterion"] == "car-expression"
    # the JSON carries what the report does
    record = extract_record(out.read_bytes())
    assert embed_json(record["flips"]) == embed_json(summary["flips"])
    assert embed_json(record["changes"]) == embed_json(summary["changes"])
    verified = invoke(_argv("verify", out, "--trust", analyst.registry_path))
    assert verified.exit_code == 0, verified.stderr
    # the signing is in the data folder's trail, beside the run
    from cytorelease.records.audit import Action, entries_of

    store = open_store(data, url="")
    with store:
        signed = [r for r in entries_of(store, Action.SIGN) if r.object == str(out.absolute())]
    assert len(signed) == 1 and signed[0].details["meaning"] == "performed"
    # an existing report is never replaced, and the refusal comes before any re-analysis
    before = out.read_bytes()
    again = invoke(argv, env={"CYTORELEASE_PASSPHRASE": PASSPHRASE})
    assert "never replaced" in assert_bad_input(again, out)
    assert out.read_bytes() == before


def test_an_unsigned_report_and_sign_without_out(data: DataDir, tmp_path: Path) -> None:
    out = tmp_path / "draft.html"
    argv = _argv("reanalyse", "--data-dir", data.root, "--spec", "cd19-car-t@1", "--executor",
                 "serial")  # fmt: skip
    result = invoke([*argv, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"impact report: {out}" in result.stdout
    unsigned = invoke(["verify", str(out)])
    assert unsigned.exit_code == 1 and "carries no signature" in unsigned.stderr
    key = tmp_path / "me.pem"
    assert "no --out" in assert_bad_input(invoke([*argv, "--sign", str(key)]), key)


def test_a_wrong_passphrase_costs_no_run(
    data: DataDir, tmp_path: Path, people: dict[str, Signer]
) -> None:
    analyst = people["analyst"]
    argv = _argv("reanalyse", "--data-dir", data.root, "--spec", "cd19-car-t@1", "--executor",
                 "serial", "--out", tmp_path / "r.html", "--sign", analyst.key_path,
                 "--registry", analyst.registry_path)  # fmt: skip
    line = assert_bad_input(invoke(argv, env={"CYTORELEASE_PASSPHRASE": "wrong"}),
                            analyst.key_path)  # fmt: skip
    assert re.search("wrong passphrase", line)
    store = open_store(data, url="")
    with store:
        assert store.scalar("SELECT COUNT(*) FROM whatif_results") == 0
