"""Hostile workspaces that once ended in an internal error or were not found: each is now
refused by name (exit 2) or read as FlowKit reads it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.cli_contract import assert_bad_input, invoke, one_json_document

DATA = Path(__file__).resolve().parents[1] / "data" / "flowjo"
BIEX = DATA / "test_data_diamond_biex_rect.wsp"
FCS = DATA / "test_data_diamond_01.fcs"


def _variant(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    text = BIEX.read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / "attack.wsp"
    out.write_text(text.replace(old, new, count), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('transforms:width="-10"', 'transforms:width="-0.5"'),  # half-width log10 of < 1
        ('transforms:neg="0"', 'transforms:neg="1e6"'),  # overflows the biex table
    ],
)
def test_a_biex_scale_that_cannot_be_evaluated_is_refused_by_name(
    tmp_path: Path, old: str, new: str
) -> None:
    workspace = _variant(tmp_path, old, new, count=2)
    result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
    line = assert_bad_input(result, workspace)
    assert "cannot be evaluated" in line


def test_a_stored_count_that_is_no_plain_integer_is_no_count(tmp_path: Path) -> None:
    text = BIEX.read_text(encoding="utf-8")
    first = re.search(r'count="(\d+)"', text)
    assert first is not None
    for bad in ("9" * 5000, "\u00b2"):
        workspace = tmp_path / "count.wsp"
        workspace.write_text(text.replace(first.group(0), f'count="{bad}"', 1), "utf-8")
        result = invoke(["flow", "gate", FCS, "--template", workspace, "--json"])
        assert result.exit_code == 0, result.stderr
        assert one_json_document(result.stdout)["populations"]


def test_a_workspace_in_the_current_folder_is_a_path_not_a_library_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine.wsp").write_bytes(BIEX.read_bytes())
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["flow", "gate", FCS, "--template", "mine.wsp", "--json"])
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.stderr
    assert one_json_document(result.stdout)["populations"]
