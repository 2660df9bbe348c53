"""`keys generate`, `sign` and `verify` through the CLI (passphrase from the environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.report.render import write_coa
from tests.report.conftest import PASSPHRASE, RENDERED_AT, example_record

runner = CliRunner()
ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE}


def _generate(keys: Path, name: str, user_id: str, role: str = "analyst") -> None:
    result = runner.invoke(
        app,
        ["keys", "generate", "--signer", name, "--user-id", user_id, "--role", role,
         "--out", str(keys), "--json"],
        env=ENV,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["key"] == str(keys / f"{user_id}.pem")
    assert document["signer"]["name"] == name


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    keys = tmp_path / "keys"
    _generate(keys, "Ada Analyst", "aanalyst")
    _generate(keys, "Quinn Q. Approver", "qapprover", role="qa")
    report = write_coa(example_record(), tmp_path / "coa.html", generated_at=RENDERED_AT)
    return keys, report


def _sign(report: Path, key: Path, meaning: str, *extra: str, env: dict | None = None) -> object:
    return runner.invoke(
        app, ["sign", str(report), "--key", str(key), "--meaning", meaning, *extra], env=env or ENV
    )


def test_generate_sign_verify(workspace: tuple[Path, Path]) -> None:
    keys, report = workspace
    first = _sign(report, keys / "aanalyst.pem", "performed", "--comment", "FMO gate checked")
    assert first.exit_code == 0, first.output
    assert "Signed" in first.stdout and "performed by Ada Analyst (aanalyst)" in first.stdout
    second = _sign(report, keys / "qapprover.pem", "approved", "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["signature"]["meaning"] == "approved"
    verified = runner.invoke(
        app, ["verify", str(report), "--trust", str(keys / "signers.yaml"), "--json"]
    )
    assert verified.exit_code == 0, verified.output
    document = json.loads(verified.stdout)
    assert document["ok"] is True
    assert [s["user_id"] for s in document["signatures"]] == ["aanalyst", "qapprover"]
    table = runner.invoke(app, ["verify", str(report), "--trust", str(keys / "signers.yaml")])
    assert table.exit_code == 0
    assert f"verified: {report} (2 signatures)" in table.stdout


def test_verify_of_a_tampered_report_exits_1_naming_what_failed(
    workspace: tuple[Path, Path],
) -> None:
    keys, report = workspace
    assert _sign(report, keys / "aanalyst.pem", "performed").exit_code == 0
    report.write_bytes(report.read_bytes().replace(b"93.4", b"99.4", 1))
    result = runner.invoke(app, ["verify", str(report), "--trust", str(keys / "signers.yaml")])
    assert result.exit_code == 1
    page, signature = result.stderr.splitlines()
    assert page == (
        f"error: {report}: report: the page does not show its record: first difference in "
        "section '1. Test results' (#results), row 'criterion-cd3', column 'Result': the page "
        "shows '99.4 % of viable CD45+', the record renders '93.4 % of viable CD45+'"
    )
    assert signature.startswith(
        f"error: {report}: signature 1 (Ada Analyst, performed): it covers other content"
    )
    as_json = runner.invoke(
        app, ["verify", str(report), "--trust", str(keys / "signers.yaml"), "--json"]
    )
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["ok"] is False


def test_verify_without_trust_exits_1(workspace: tuple[Path, Path]) -> None:
    keys, report = workspace
    assert _sign(report, keys / "aanalyst.pem", "performed").exit_code == 0
    result = runner.invoke(app, ["verify", str(report)])
    assert result.exit_code == 1
    assert "no trust registry given" in result.stderr


def test_wrong_passphrase_is_one_line_and_exit_2(workspace: tuple[Path, Path]) -> None:
    keys, report = workspace
    before = report.read_bytes()
    result = _sign(
        report, keys / "aanalyst.pem", "performed", env={"CYTORELEASE_PASSPHRASE": "guess-1234"}
    )
    assert result.exit_code == 2
    assert result.stderr == f"error: {keys / 'aanalyst.pem'}: wrong passphrase for this key\n"
    assert report.read_bytes() == before


def test_passphrase_prompt_is_used_without_the_variable(workspace: tuple[Path, Path]) -> None:
    keys, report = workspace
    result = runner.invoke(
        app,
        ["sign", str(report), "--key", str(keys / "aanalyst.pem"), "--meaning", "performed"],
        input=PASSPHRASE + "\n",
        env={"CYTORELEASE_PASSPHRASE": None},  # type: ignore[dict-item]
    )
    assert result.exit_code == 0, result.output
    assert "Passphrase" in result.output
    assert PASSPHRASE not in result.output  # hidden input is not echoed


def test_self_approval_is_refused(workspace: tuple[Path, Path]) -> None:
    keys, report = workspace
    assert _sign(report, keys / "aanalyst.pem", "performed").exit_code == 0
    result = _sign(report, keys / "aanalyst.pem", "approved")
    assert result.exit_code == 2
    assert "aanalyst performed this analysis and may not also approve it" in result.stderr


@pytest.mark.parametrize(
    ("meaning", "problem"),
    [
        ("computer-generated-evaluation", "reserved for the unattended evaluation service"),
        ("signed", "unknown meaning 'signed' (one of: performed, reviewed, approved)"),
    ],
)
def test_sign_refuses_other_meanings(
    workspace: tuple[Path, Path], meaning: str, problem: str
) -> None:
    keys, report = workspace
    result = _sign(report, keys / "aanalyst.pem", meaning)
    assert result.exit_code == 2
    assert problem in result.stderr


def test_sign_with_an_unregistered_key(workspace: tuple[Path, Path], tmp_path: Path) -> None:
    keys, report = workspace
    _generate(tmp_path / "other", "Mallory", "mallory")
    result = _sign(
        report, tmp_path / "other" / "mallory.pem", "performed",
        "--signers", str(keys / "signers.yaml"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "is not registered here" in result.stderr


def test_keys_generate_errors(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["keys", "generate", "--signer", "A", "--user-id", "a", "--role", "boss",
         "--out", str(tmp_path)],
        env=ENV,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "unknown role 'boss' (one of: analyst, reviewer, qa, service)" in result.stderr
    short = runner.invoke(
        app,
        ["keys", "generate", "--signer", "A", "--user-id", "a", "--out", str(tmp_path)],
        env={"CYTORELEASE_PASSPHRASE": "abc"},
    )
    assert short.exit_code == 2
    assert "at least 8 are required" in short.stderr


def test_verify_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "absent.html")])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'absent.html'}: no such report\n"
