"""The README's walkthrough really runs: every command, in order, exits 0 (docs that can't drift)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(
    r"<!-- walkthrough:start -->\s*```console\n(.*?)```\s*<!-- walkthrough:end -->", re.DOTALL
)


def walkthrough() -> list[list[str]]:
    block = _BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block, "README.md lost its walkthrough block"
    commands = [
        shlex.split(line[2:]) for line in block.group(1).splitlines() if line.startswith("$ ")
    ]
    assert all(c[0] == "cytorelease" for c in commands)
    return [c[1:] for c in commands]


def test_readme_walkthrough_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CYTORELEASE_PASSPHRASE", "walkthrough passphrase")
    monkeypatch.setenv("CYTORELEASE_DATA", str(tmp_path / "data"))
    runner = CliRunner()
    for args in walkthrough():
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (
            f"`cytorelease {shlex.join(args)}` exited {result.exit_code}:\n{result.stderr}"
        )
    assert (tmp_path / "out" / "result.json").is_file()
    assert list((tmp_path / "plots").glob("*.svg"))
