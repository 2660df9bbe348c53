"""A person's decision takes a passphrase typed at a terminal (found by attack, issue 14).

The attack: with CYTORELEASE_PASSPHRASE refused for reviewed, approved and rejected, a script
piped the passphrase instead (`echo $P | cytorelease sign --meaning approved`): with no
terminal the hidden prompt only warned and read the pipe, and the approval was signed. Now
`sign` refuses a person-only meaning when standard input is not a terminal (exit 2, audited);
`performed` may still be piped or come from the environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.records.audit import read_log
from cytorelease.report.render import write_coa
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    example_record,
    passing_example_record,
)
from tests.report.typed import run_typed

runner = CliRunner()
TYPED: dict[str, str | None] = {"CYTORELEASE_PASSPHRASE": None, "CYTORELEASE_TSA": None}


@pytest.fixture
def people(tmp_path: Path) -> dict[str, Signer]:
    folder = tmp_path / "keys"
    return {
        "analyst": Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST),
        "reviewer": Signer(folder, "Rémy Réviseur", "rreviewer", Role.REVIEWER),
        "qa": Signer(folder, "Quinn Q. Approver", "qapprover", Role.QA_APPROVER),
    }


def _command(report: Path, who: Signer, meaning: str, *extra: str) -> list[str]:
    return ["sign", str(report), "--key", str(who.key_path), "--meaning", meaning,
            "--registry", str(who.registry_path.parent), *extra]  # fmt: skip


def _piped(report: Path, who: Signer, meaning: str, *extra: str) -> Any:
    return runner.invoke(
        app, _command(report, who, meaning, *extra), env=TYPED, input=f"{PASSPHRASE}\n"
    )


@pytest.mark.parametrize(
    ("meaning", "extra"),
    [
        ("reviewed", ()),
        ("approved", ()),
        ("approved-with-deviation", ("--deviation", "DEV-7")),
        ("rejected", ()),
    ],
)
def test_a_piped_passphrase_is_refused_for_a_decision(
    people: dict[str, Signer], tmp_path: Path, meaning: str, extra: tuple[str, ...]
) -> None:
    report = write_coa(passing_example_record(), tmp_path / "coa.html", generated_at=RENDERED_AT)
    performed = _piped(report, people["analyst"], "performed")  # performed may be piped
    assert performed.exit_code == 0, performed.stderr
    who = people["reviewer"] if meaning == "reviewed" else people["qa"]
    before = report.read_bytes()
    data = tmp_path / "data"
    result = _piped(report, who, meaning, *extra, "--data-dir", str(data))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {report}: '{meaning}' is a person's decision: its passphrase is typed at a "
        "terminal, and standard input is not one (a piped or redirected passphrase is refused) "
        "(run `cytorelease sign` in a terminal and type the passphrase at the prompt)\n"
    )
    assert report.read_bytes() == before
    (row,) = read_log(data)
    assert (row.action, row.details["meaning"]) == ("sign-refused", meaning)
    assert "standard input is not one" in row.details["problem"]


def test_the_same_decision_typed_at_a_terminal_is_signed(
    people: dict[str, Signer], tmp_path: Path
) -> None:
    report = write_coa(example_record(), tmp_path / "coa.html", generated_at=RENDERED_AT)
    assert _piped(report, people["analyst"], "performed").exit_code == 0
    typed = run_typed([*_command(report, people["reviewer"], "reviewed"), "--json"], PASSPHRASE)
    assert typed.exit_code == 0, typed.stderr
    assert "Passphrase" in typed.stderr and PASSPHRASE not in typed.output
    assert json.loads(typed.stdout)["signature"]["meaning"] == "reviewed"
    # and the environment variable is still refused at a terminal
    scripted = run_typed(
        _command(report, people["qa"], "rejected"), PASSPHRASE,
        env={"CYTORELEASE_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert scripted.exit_code == 2
    assert "never taken from CYTORELEASE_PASSPHRASE" in scripted.stderr
