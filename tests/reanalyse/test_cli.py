"""The `reanalyse` command: its JSON, exit codes and selection options."""

from __future__ import annotations

from pathlib import Path

from cytorelease.records.datadir import DataDir
from tests.cli_contract import assert_bad_input, invoke, one_json_document

from .test_reanalyse import LOTS, PANEL, STRICT, template_copy


def test_json_names_the_flips_and_a_rerun_skips(data: DataDir, tmp_path: Path) -> None:
    draft = template_copy(tmp_path, STRICT)
    argv = [
        "reanalyse", "--data-dir", str(data.root), "--template", str(draft), "--executor", "serial"
    ]  # fmt: skip
    result = invoke([*argv, "--json"])
    assert result.exit_code == 0, result.stderr
    summary = one_json_document(result.stdout)
    assert list(summary) == [
        "change", "change_sha256", "lots", "reanalysed", "skipped", "failed", "flips", "changes"
    ]  # fmt: skip
    assert summary["reanalysed"] == 3 and [f["lot"] for f in summary["flips"]] == LOTS
    again = invoke(argv)
    assert again.exit_code == 0, again.stderr
    assert "0 re-analysed, 3 already done" in again.stdout
    assert f"flip: {LOTS[0]}: INCOMPLETE -> FAIL" in again.stdout


def test_lots_and_since_select(data: DataDir) -> None:
    base = ["reanalyse", "--data-dir", str(data.root), "--template", f"{PANEL}@1.0.0", "--json"]
    chosen = invoke([*base, "--executor", "serial", "--lots", f"{LOTS[0]},{LOTS[2]}"])
    assert chosen.exit_code == 0, chosen.stderr
    assert one_json_document(chosen.stdout)["lots"] == 2
    later = invoke([*base, "--executor", "serial", "--since", "2999-01-01"])
    assert later.exit_code == 0, later.stderr
    assert one_json_document(later.stdout)["lots"] == 0


def test_bad_options_are_input_errors(data: DataDir) -> None:
    base = ["reanalyse", "--data-dir", str(data.root), "--spec", "cd19-car-t@1"]
    assert_bad_input(invoke([*base, "--since", "last week"]), "last week")
    assert_bad_input(invoke([*base, "--lots", "lot-NOPE"]), data.root)
    bad = invoke([*base, "--executor", "slurm"])
    assert bad.exit_code == 2 and "slurm" in bad.stderr
    missing = invoke(["reanalyse", "--data-dir", str(data.root)])
    assert missing.exit_code == 2 and "--template" in missing.stderr


def test_a_lot_that_fails_to_reanalyse_exits_1(data: DataDir) -> None:
    from cytorelease.records.store import open_store

    store = open_store(data, url="")
    with store:
        sha = str(store.scalar("SELECT sha256 FROM lot_files WHERE lot = ? LIMIT 1", (LOTS[0],)))
    from cytorelease.records.archive import archived_path

    archived_path(data.archive_dir, sha).unlink()  # the archive entry is gone
    argv = ["reanalyse", "--data-dir", str(data.root), "--spec", "cd19-car-t@1"]
    result = invoke([*argv, "--executor", "serial", "--json"])
    assert result.exit_code == 1, result.stderr
    summary = one_json_document(result.stdout)
    assert [f["lot"] for f in summary["failed"]] == [LOTS[0]] and summary["reanalysed"] == 2
    assert "missing" in summary["failed"][0]["reason"]
