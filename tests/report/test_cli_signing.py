"""`keys`, `sign` and `verify` through the CLI, as a site sets them up: an admin creates the
signed registry (`keys init-registry`), each person makes a key pair (`keys generate`) and the
admin registers it with its role (`keys register --role`); people sign with `--registry`.

CYTORELEASE_PASSPHRASE and a piped passphrase serve only `performed` (and the key commands);
`reviewed` and `approved` are typed at a terminal (a pseudo-terminal here, tests/report/typed.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.report.render import write_coa
from tests.report.conftest import (
    EVIDENCE,
    PASSPHRASE,
    RENDERED_AT,
    example_record,
    passing_example_record,
)
from tests.report.typed import run_typed

runner = CliRunner()
ENV: dict[str, str | None] = {"CYTORELEASE_PASSPHRASE": PASSPHRASE, "CYTORELEASE_TSA": None}
# A person's decision: the passphrase is typed at a terminal, never taken from the environment.
TYPED: dict[str, str | None] = {"CYTORELEASE_PASSPHRASE": None, "CYTORELEASE_TSA": None}


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def _generate(keys: Path, name: str, user_id: str) -> Path:
    command = ["keys", "generate", "--signer", name, "--user-id", user_id, "--out", str(keys),
               "--json"]  # fmt: skip
    result = _ok(runner.invoke(app, command, env=ENV))
    document = json.loads(result.stdout)
    assert document["key"] == str(keys / f"{user_id}.pem")
    assert document["public"] == str(keys / f"{user_id}.pub")
    assert document["signer"]["name"] == name
    return keys / f"{user_id}.pem"


def _register(keys: Path, public: Path, role: str) -> Any:
    return runner.invoke(
        app,
        ["keys", "register", str(public), "--role", role, "--registry", str(keys),
         "--admin-key", str(keys / "aadmin.pem"), "--identity-evidence", EVIDENCE],
        env=ENV,
    )  # fmt: skip


def _person(keys: Path, name: str, user_id: str, *roles: str) -> Path:
    key = _generate(keys, name, user_id)
    command = ["keys", "register", str(key.with_suffix(".pub"))]
    for role in roles:
        command += ["--role", role]
    command += ["--registry", str(keys), "--admin-key", str(keys / "aadmin.pem")]
    command += ["--identity-evidence", EVIDENCE]
    registered = _ok(runner.invoke(app, [*command, "--json"], env=ENV))
    entry = json.loads(registered.stdout)["entries"][-1]
    assert (entry["user_id"], entry["roles"]) == (user_id, list(roles))
    return key


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """A site's registry folder: the admin, an analyst, a reviewer and a QA approver."""
    folder = tmp_path / "keys"
    command = ["keys", "init-registry", "--out", str(folder), "--signer", "Alex Admin",
               "--user-id", "aadmin", "--identity-evidence", EVIDENCE, "--json"]  # fmt: skip
    made = _ok(runner.invoke(app, command, env=ENV))
    assert json.loads(made.stdout)["entries"][0]["roles"] == ["admin"]
    _person(folder, "Ada Analyst", "aanalyst", "analyst")
    _person(folder, "Rémy Réviseur", "rreviewer", "reviewer")
    _person(folder, "Quinn Q. Approver", "qapprover", "qa-approver")
    return folder


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """The example CoA (INCOMPLETE: it can be performed and reviewed, never approved)."""
    return write_coa(example_record(), tmp_path / "coa.html", generated_at=RENDERED_AT)


@pytest.fixture
def passing_report(tmp_path: Path) -> Path:
    """The example CoA of a lot that met its spec: the kind the default policy approves."""
    return write_coa(passing_example_record(), tmp_path / "pass.html", generated_at=RENDERED_AT)


def _sign(
    report: Path, key: Path, meaning: str, keys: Path, *extra: str, typed: bool = False,
    env: dict[str, str | None] | None = None,
) -> Any:  # fmt: skip
    command = ["sign", str(report), "--key", str(key), "--meaning", meaning, "--registry",
               str(keys), *extra]  # fmt: skip
    if typed and meaning != "performed":
        return run_typed(command, PASSPHRASE, env=env or TYPED)  # a person at a terminal
    return runner.invoke(
        app, command, env=env or (TYPED if typed else ENV),
        input=f"{PASSPHRASE}\n" if typed else None,
    )  # fmt: skip


def _flat(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare the words."""
    return " ".join(text.split())


def test_generate_register_sign_verify(keys: Path, passing_report: Path) -> None:
    report = passing_report
    first = _ok(_sign(report, keys / "aanalyst.pem", "performed", keys, "--comment", "FMO ok"))
    assert "Signed" in first.stdout
    assert "performed by Ada Analyst (aanalyst, analyst)" in _flat(first.stdout)
    reviewed = _ok(_sign(report, keys / "rreviewer.pem", "reviewed", keys, typed=True))
    assert "Passphrase" in reviewed.stderr and PASSPHRASE not in reviewed.output
    assert "reviewed by Rémy Réviseur (rreviewer, reviewer)" in _flat(reviewed.stdout)
    approved = _ok(_sign(report, keys / "qapprover.pem", "approved", keys, "--json", typed=True))
    signature = json.loads(approved.stdout)["signature"]
    assert (signature["meaning"], signature["role"]) == ("approved", "qa-approver")
    verified = _ok(runner.invoke(app, ["verify", str(report), "--trust", str(keys), "--json"]))
    document = json.loads(verified.stdout)
    assert document["ok"] is True
    assert [s["user_id"] for s in document["signatures"]] == [
        "aanalyst",
        "rreviewer",
        "qapprover",
    ]
    table = _ok(runner.invoke(app, ["verify", str(report), "--trust", str(keys)]))
    assert f"verified: {report} (3 signatures)" in table.stdout


def test_verify_of_a_tampered_report_exits_1_naming_what_failed(keys: Path, report: Path) -> None:
    _ok(_sign(report, keys / "aanalyst.pem", "performed", keys))
    _ok(_sign(report, keys / "rreviewer.pem", "reviewed", keys, typed=True))
    assert _ok(runner.invoke(app, ["verify", str(report), "--trust", str(keys)]))
    report.write_bytes(report.read_bytes().replace(b"93.4", b"99.4", 1))
    result = runner.invoke(app, ["verify", str(report), "--trust", str(keys)])
    assert result.exit_code == 1
    page, *signatures = result.stderr.splitlines()
    assert page == (
        f"error: {report}: report: the page does not show its record: first difference in "
        "section '1. Test results' (#results), row 'criterion-cd3', column 'Result': the page "
        "shows '99.4 % of viable CD45+', the record renders '93.4 % of viable CD45+'"
    )
    assert len(signatures) == 2, result.stderr
    assert signatures[0].startswith(
        f"error: {report}: signature 1 (Ada Analyst, performed): it covers other content"
    )
    assert signatures[1].startswith(
        f"error: {report}: signature 2 (Rémy Réviseur, reviewed): it covers other content"
    )
    as_json = runner.invoke(app, ["verify", str(report), "--trust", str(keys), "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["ok"] is False


def test_verify_without_trust_exits_1(keys: Path, report: Path) -> None:
    _ok(_sign(report, keys / "aanalyst.pem", "performed", keys))
    result = runner.invoke(app, ["verify", str(report)])
    assert result.exit_code == 1
    assert (
        "no trust registry given: pass --trust registry.yaml, the site's signed registry"
        in result.stderr
    )


def test_wrong_passphrase_is_one_line_and_exit_2(keys: Path, report: Path) -> None:
    before = report.read_bytes()
    result = _sign(
        report, keys / "aanalyst.pem", "performed", keys,
        env={"CYTORELEASE_PASSPHRASE": "guess-1234"},
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {keys / 'aanalyst.pem'}: wrong passphrase for this key "
        "(1 in a row; 4 more lock the key)\n"
    )
    assert report.read_bytes() == before


def test_passphrase_prompt_is_used_without_the_variable(keys: Path, report: Path) -> None:
    result = _ok(_sign(report, keys / "aanalyst.pem", "performed", keys, typed=True))
    assert "Passphrase" in result.output
    assert PASSPHRASE not in result.output  # hidden input is not echoed
    assert "performed by Ada Analyst" in _flat(result.stdout)


def test_a_decision_is_not_signed_with_the_environment_passphrase(keys: Path, report: Path) -> None:
    _ok(_sign(report, keys / "aanalyst.pem", "performed", keys))
    before = report.read_bytes()
    result = _sign(report, keys / "rreviewer.pem", "reviewed", keys)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {report}: 'reviewed' is a person's decision: its passphrase is typed, never "
        "taken from CYTORELEASE_PASSPHRASE (unset CYTORELEASE_PASSPHRASE and sign again)\n"
    )
    assert report.read_bytes() == before


def test_self_approval_is_refused(keys: Path, passing_report: Path) -> None:
    # One person holding both roles performs the analysis and then tries to approve it, with
    # the review in between done by somebody else: only segregation of duties stops it.
    both = _person(keys, "Bo Both", "bboth", "analyst", "qa-approver")
    _ok(_sign(passing_report, both, "performed", keys))
    _ok(_sign(passing_report, keys / "rreviewer.pem", "reviewed", keys, typed=True))
    before = passing_report.read_bytes()
    result = _sign(passing_report, both, "approved", keys, typed=True)
    assert result.exit_code == 2
    assert (
        "refused by the signature policy: bboth already signed this report as performed; "
        "performer, reviewer and approver must be different people (segregation of duties)"
    ) in result.stderr
    assert passing_report.read_bytes() == before
    # the control: a different QA approver may approve the same report
    _ok(_sign(passing_report, keys / "qapprover.pem", "approved", keys, typed=True))


HUMAN = "performed, reviewed, approved, approved-with-deviation, rejected"


@pytest.mark.parametrize(
    ("meaning", "problem"),
    [
        # the unattended service's alone: `sign` names it reserved, not unknown
        (
            "computer-generated-evaluation",
            "the meaning 'computer-generated-evaluation' is reserved for the unattended "
            f"evaluation service (sign as one of: {HUMAN})",
        ),
    ],
)
def test_sign_refuses_other_meanings(keys: Path, report: Path, meaning: str, problem: str) -> None:
    before = report.read_bytes()
    result = _sign(report, keys / "aanalyst.pem", meaning, keys)
    assert result.exit_code == 2
    assert result.stderr == f"error: {report}: {problem}\n"
    assert report.read_bytes() == before


def test_sign_refuses_an_unknown_meaning_as_a_usage_error(keys: Path, report: Path) -> None:
    """--meaning is a choice (like --format): a value outside it is refused before anything is
    read, and the error lists the choices."""
    before = report.read_bytes()
    result = _sign(report, keys / "aanalyst.pem", "signed", keys)
    assert result.exit_code == 2
    assert "sign: Invalid value for '--meaning'" in result.stderr.splitlines()[0]
    assert "'signed' is not one of 'performed', 'reviewed', 'approved'" in result.stderr
    assert report.read_bytes() == before


def test_the_meaning_choices_are_the_signature_meanings() -> None:
    from cytorelease.cli._options import MeaningChoice
    from cytorelease.report.entry import Meaning

    assert [m.value for m in MeaningChoice] == [m.value for m in Meaning]


def test_sign_with_an_unregistered_key(keys: Path, report: Path, tmp_path: Path) -> None:
    mallory = _generate(tmp_path / "other", "Mallory", "mallory")
    before = report.read_bytes()
    result = _sign(report, mallory, "performed", keys)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {keys / 'registry.yaml'}: the key {mallory} is not registered in this "
        "registry (an admin registers its .pub file with `cytorelease keys register`)\n"
    )
    assert report.read_bytes() == before
    # registered, the same key signs
    _ok(_register(keys, mallory.with_suffix(".pub"), "analyst"))
    _ok(_sign(report, mallory, "performed", keys))


def test_keys_errors(keys: Path, tmp_path: Path) -> None:
    public = _generate(tmp_path / "new", "A", "a").with_suffix(".pub")
    result = _register(keys, public, "boss")
    assert result.exit_code == 2
    assert (
        "unknown role 'boss' (one of: analyst, reviewer, qa-approver, spec-author, admin, "
        "service)" in result.stderr
    )
    short = runner.invoke(
        app,
        ["keys", "generate", "--signer", "A", "--user-id", "b", "--out", str(tmp_path)],
        env={"CYTORELEASE_PASSPHRASE": "abc"},
    )
    assert short.exit_code == 2
    assert "at least 8 are required" in short.stderr
    assert not (tmp_path / "b.pem").exists()


def test_verify_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "absent.html")])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'absent.html'}: no such report\n"


def test_a_replaced_registry_fails_against_the_pinned_genesis(
    keys: Path, report: Path, tmp_path: Path
) -> None:
    """Found by attack: a registry created elsewhere, with new keys under the site's user ids,
    copied over the site's registry.yaml verified a CoA its holders signed."""
    from cytorelease.report.registry import load_registry

    site = load_registry(keys).genesis_sha256
    evil = tmp_path / "evil"
    command = ["keys", "init-registry", "--out", str(evil), "--signer", "Mal Admin",
               "--user-id", "aadmin", "--identity-evidence", EVIDENCE]  # fmt: skip
    _ok(runner.invoke(app, command, env=ENV))
    _person(evil, "Fake Analyst", "aanalyst", "analyst")
    _ok(_sign(report, evil / "aanalyst.pem", "performed", evil))
    plain = runner.invoke(app, ["verify", str(report), "--trust", str(evil)])
    assert plain.exit_code == 0  # without a pin, any well-formed registry is believed
    pinned = runner.invoke(app, ["verify", str(report), "--trust", str(evil), "--genesis", site])
    assert pinned.exit_code == 1
    assert (
        f"the registry is not the site's: its genesis is {load_registry(evil).genesis_sha256}"
        in (pinned.stderr)
    )
    by_env = runner.invoke(
        app, ["verify", str(report), "--trust", str(evil)],
        env={"CYTORELEASE_REGISTRY_GENESIS": site},
    )  # fmt: skip
    assert by_env.exit_code == 1
