"""A flag takes no value, so ``--help`` shows none for it (no ``<bool>`` type column)."""

from __future__ import annotations

import pytest

from tests.cli_contract import invoke

WIDE = {"COLUMNS": "200"}


def _option_line(args: list[str], option: str) -> str:
    result = invoke([*args, "--help"], env=WIDE)
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if f" {option} " in line]
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_version_shows_no_value_type() -> None:
    line = _option_line([], "--version")
    assert "Show the version." in line
    assert "<bool>" not in line
    # the other options still show theirs
    assert "<str>" in _option_line([], "--library")


@pytest.mark.parametrize(
    "command",
    [
        ["flow", "inspect"],
        ["flow", "gate"],
        ["qpcr", "read"],
        ["spec", "show"],
        ["sign"],
        ["verify"],
        ["keys", "show"],
        ["queue", "list"],
        ["release"],
        ["demo"],
    ],
)
def test_json_is_one_shared_flag(command: list[str]) -> None:
    line = _option_line(command, "--json")
    assert "Print one JSON document instead of the human-readable output." in line
    assert "<bool>" not in line
