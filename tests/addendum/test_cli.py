"""``cytorelease addendum``, ``verify ADDENDUM --coa``, ``sign ADDENDUM --coa``: the commands'
contract (JSON keys, exit codes, the audit trail)."""

from __future__ import annotations

import json
from pathlib import Path

from cytorelease.records.audit import Action, entries_of
from cytorelease.records.store import open_data
from tests.addendum.conftest import Released
from tests.cli_contract import assert_bad_input, invoke
from tests.double_entry import PASSPHRASE, enter_verified

ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE}


def _issue(case: Released, out: Path, *extra: object) -> object:
    return invoke(
        [
            "addendum",
            case.coa,
            "--attribute",
            "manual.sterility",
            "--value",
            "no growth",
            "--key",
            case.people.first.key_path,
            "--lot-dir",
            case.lot,
            "--registry",
            case.people.folder,
            "--out",
            out,
            *extra,
        ],
        env=ENV,
    )


def test_issue_and_verify_from_the_command_line(case: Released, tmp_path: Path) -> None:
    enter_verified(case.lot, case.people, case.held)
    data = tmp_path / "data"
    out = tmp_path / "addendum-1.html"
    issued = _issue(case, out, "--json", "--data-dir", data)
    assert issued.exit_code == 0, issued.stderr  # type: ignore[attr-defined]
    shown = json.loads(issued.stdout)  # type: ignore[attr-defined]
    assert shown["number"] == 1 and shown["disposition"] == {"before": "PASS", "after": "PASS"}
    assert shown["added"][0]["verified_by"] == "ssecond"
    assert shown["signature"]["meaning"] == "performed"

    trust = case.people.registry
    ok = invoke(["verify", out, "--coa", case.coa, "--trust", trust, "--json"])
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    alone = invoke(["verify", out, "--trust", trust])
    assert alone.exit_code == 1
    assert "the CoA it amends was not given" in alone.stderr

    # the trail states the addendum and its signature (which also ends a run of failures)
    _, store = open_data(data)
    with store:
        rows = entries_of(store, Action.ADDENDUM, Action.SIGN, Action.VERIFY)
    actions = [r.action for r in rows]
    assert "addendum" in actions and "sign" in actions
    row = next(r for r in rows if r.action == "addendum")
    assert row.details["attribute"] == "manual.sterility"
    assert row.details["disposition"] == {"before": "PASS", "after": "PASS"}
    assert next(r for r in rows if r.action == "sign").details["key_identity"]


def test_the_addendum_options_are_refused_on_a_coa_and_required_on_an_addendum(
    case: Released, tmp_path: Path
) -> None:
    enter_verified(case.lot, case.people, case.held)
    out = tmp_path / "addendum-1.html"
    assert _issue(case, out).exit_code == 0  # type: ignore[attr-defined]
    trust = case.people.registry
    on_coa = invoke(["verify", case.coa, "--coa", case.coa, "--trust", trust])
    assert_bad_input(on_coa, case.coa)
    unsigned = invoke(
        ["sign", out, "--key", case.people.reviewer.key_path, "--meaning", "performed",
         "--registry", case.people.folder],
        env=ENV,
    )  # fmt: skip
    assert_bad_input(unsigned, out)
    assert "--coa COA.html" in unsigned.stderr
    missing = tmp_path / "no-such-coa.html"
    for args in (
        ["verify", out, "--coa", missing, "--trust", trust],
        ["verify", out, "--coa", case.coa, "--previous", missing, "--trust", trust],
    ):
        assert_bad_input(invoke(args), missing)


def test_a_failed_issue_is_audited_with_the_passphrase_accepted(
    case: Released, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    out = tmp_path / "addendum-1.html"
    refused = _issue(case, out, "--data-dir", data)  # sterility was never entered
    assert_bad_input(refused, case.lot / "manual" / "manual.sterility.json")  # type: ignore[arg-type]
    assert not out.exists()
    _, store = open_data(data)
    with store:
        rows = entries_of(store, Action.SIGN_REFUSED)
    row = rows[-1]
    assert row.details["passphrase"] == "accepted" and row.details["purpose"] == "addendum"
    assert "no manual record" in row.details["problem"]


def test_with_a_data_folder_a_second_addendum_at_the_same_place_is_a_fork(
    case: Released, tmp_path: Path
) -> None:
    enter_verified(case.lot, case.people, case.held)
    data = tmp_path / "data"
    first = tmp_path / "addendum-1.html"
    assert _issue(case, first, "--data-dir", data).exit_code == 0  # type: ignore[attr-defined]
    fork = tmp_path / "addendum-1-again.html"
    refused = _issue(case, fork, "--data-dir", data)
    assert_bad_input(refused, case.coa)  # type: ignore[arg-type]
    assert "would fork the chain" in refused.stderr  # type: ignore[attr-defined]
    assert not fork.exists()
