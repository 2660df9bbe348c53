"""The README's walkthrough really runs: every command, in order, exits 0 (docs that can't drift).

A command followed by a ``Passphrase:`` line is a person typing their passphrase: it runs
without ``CYTORELEASE_PASSPHRASE`` (which serves only ``performed``) and the passphrase is typed
at a pseudo-terminal, as a person types it (a piped one is refused for a decision).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.report.verify import verify_report
from tests.report.typed import run_typed

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "walkthrough passphrase"
_BLOCK = re.compile(
    r"<!-- walkthrough:start -->\s*```console\n(.*?)```\s*<!-- walkthrough:end -->", re.DOTALL
)


@dataclass(frozen=True)
class Step:
    args: list[str]
    typed: bool  # the README shows a "Passphrase:" prompt after the command


def walkthrough() -> list[Step]:
    block = _BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block, "README.md lost its walkthrough block"
    lines = block.group(1).splitlines()
    steps = []
    for number, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        steps.append(Step(shlex.split(line[2:]), following.startswith("Passphrase:")))
    assert all(s.args[0] == "cytorelease" for s in steps)
    return [Step(s.args[1:], s.typed) for s in steps]


def _meaning(args: list[str]) -> str | None:
    return args[args.index("--meaning") + 1] if args[0] == "sign" else None


def test_the_walkthrough_signs_as_the_policy_asks() -> None:
    """performed from the environment, reviewed and approved typed, in that order."""
    signing = [(_meaning(s.args), s.typed) for s in walkthrough() if s.args[0] == "sign"]
    # the CoA, then its addendum (performed when `addendum` issues it)
    assert signing == [
        ("performed", False), ("reviewed", True), ("approved", True),
        ("reviewed", True), ("approved", True),
    ]  # fmt: skip
    assert all("--registry" in s.args for s in walkthrough() if s.args[0] == "sign")


def test_readme_walkthrough_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CYTORELEASE_DATA", str(tmp_path / "data"))
    runner = CliRunner()
    for step in walkthrough():
        if step.typed:
            result: Any = run_typed(step.args, PASSPHRASE, env={"CYTORELEASE_PASSPHRASE": None})
        else:
            result = runner.invoke(app, step.args, env={"CYTORELEASE_PASSPHRASE": PASSPHRASE})
        assert result.exit_code == 0, (
            f"`cytorelease {shlex.join(step.args)}` exited {result.exit_code}:\n{result.stderr}"
        )
        assert ("Passphrase:" in result.stderr) is step.typed, shlex.join(step.args)
    assert (tmp_path / "out" / "result.json").is_file()
    assert list((tmp_path / "plots").glob("*.svg"))
    checked = verify_report(
        tmp_path / "out" / "coa-lot-CAR-0001.html", trust=tmp_path / "site-keys"
    )
    assert checked.ok, checked.failures()
    assert [
        (c.entry.user_id, c.entry.role, c.entry.meaning) for c in checked.signatures if c.entry
    ] == [
        ("aanalyst", "analyst", "performed"),
        ("rreviewer", "reviewer", "reviewed"),
        ("qapprover", "qa-approver", "approved"),
    ]
    from cytorelease.addendum import verify_addendum

    addendum = verify_addendum(
        tmp_path / "out" / "addendum-1-lot-CAR-0001.html",
        coa=tmp_path / "out" / "coa-lot-CAR-0001.html",
        trust=tmp_path / "site-keys",
    )
    assert addendum.ok, addendum.failures()
    assert addendum.disposition == "PASS"
    assert [c.entry.meaning for c in addendum.signatures if c.entry] == [
        "performed", "reviewed", "approved",
    ]  # fmt: skip
