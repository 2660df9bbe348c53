"""The CLI contract that every command shares: help text, version, error lines."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from cytorelease import __version__
from cytorelease.cli.main import app

runner = CliRunner()


def _all_commands() -> list[tuple[str, Any]]:
    root = get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        found.append((prefix, command))
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)

    walk("", root)
    return found


@pytest.mark.parametrize(
    ("name", "command"), _all_commands(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_command_has_help_text(name: str, command: Any) -> None:
    assert (command.help or "").strip(), f"command '{name or 'cytorelease'}' has no help text"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cytorelease {__version__}"


def test_python_dash_m() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cytorelease", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert __version__ in proc.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["flow", "inspect"], "error: cytorelease flow inspect: Missing argument 'file'."),
        (["nope"], "error: cytorelease: No such command 'nope'."),
        (
            ["qpcr", "curve", "x.txt"],
            "error: cytorelease qpcr curve: Missing option '--target'.",
        ),
        (["selftest", "--nope"], "error: cytorelease selftest: No such option: --nope"),
        (
            ["sign", "coa.html", "--key", "k.pem", "--meaning", "performed"],
            "error: cytorelease sign: Missing option '--registry'.",
        ),
        (
            ["keys", "register", "k.pub", "--registry", "site"],
            "error: cytorelease keys register: Missing option '--role'.",
        ),
        (
            [
                "keys",
                "register",
                "k.pub",
                "--role",
                "analyst",
                "--registry",
                "site",
                "--admin-key",
                "a.pem",
            ],
            "error: cytorelease keys register: Invalid value for '--identity-evidence': "
            "required for a person (every role but service)",
        ),
        (
            [
                "keys",
                "init-registry",
                "--out",
                "site",
                "--signer",
                "A B",
                "--user-id",
                "ab",
                "--identity-evidence",
                "  ",
            ],
            "error: cytorelease keys init-registry: Invalid value for '--identity-evidence': "
            "required for a person",
        ),
        (
            ["audit", "archive-verify", "--nope"],
            "error: cytorelease audit archive-verify: No such option: --nope",
        ),
        (
            ["flow", "inspect", "x.fcs", "--dataset", "-1"],
            "error: cytorelease flow inspect: Invalid value for '--dataset'",
        ),
    ],
)
def test_usage_errors_are_one_line(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args, prog_name="cytorelease")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
