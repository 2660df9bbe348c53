"""Interactive commands append to the audit trail of a configured data folder, and only then."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.demo import find_sample_lot
from cytorelease.records.datadir import DATA_ENV, DB_ENV
from tests.double_entry import (
    PASSPHRASE,
    People,
    enter_bench_sheet,
    make_people,
)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> People:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture
def sample(tmp_path_factory: pytest.TempPathFactory, people: People) -> Path:
    """A copy of the sample lot, its bench sheet entered and verified, outside ``tmp_path``."""
    lot = Path(shutil.copytree(find_sample_lot(), tmp_path_factory.mktemp("lot") / "lot"))
    enter_bench_sheet(lot, people)
    return lot


def _log(data: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["audit", "log", "--data-dir", str(data), "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    rows: list[dict[str, Any]] = document["rows"]  # JSON rows: details is a nested mapping
    return rows


def test_release_sign_verify_are_recorded_with_the_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: Path, people: People
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    monkeypatch.setenv("CYTORELEASE_PASSPHRASE", PASSPHRASE)
    data = tmp_path / "data"
    runner = CliRunner()
    out = tmp_path / "out"
    released = runner.invoke(
        app,
        ["release", str(sample), "--out", str(out), "--data-dir", str(data),
         "--registry", str(people.folder)],
    )  # fmt: skip
    assert released.exit_code == 0, released.stderr
    # one site registry: the people who entered the manual results sign the CoA too
    keys = people.folder
    report = out / "coa-lot-CAR-0001.html"
    signed = runner.invoke(
        app,
        [
            "sign",
            str(report),
            "--key",
            str(people.first.key_path),
            "--meaning",
            "performed",
            "--registry",
            str(keys),
            "--data-dir",
            str(data),
        ],
    )
    assert signed.exit_code == 0, signed.stderr
    ok = runner.invoke(
        app,
        ["verify", str(report), "--trust", str(keys / "registry.yaml"), "--data-dir", str(data)],
    )
    assert ok.exit_code == 0, ok.stderr
    tampered = tmp_path / "tampered.html"
    tampered.write_bytes(
        report.read_bytes().replace(b"Certificate of Analysis", b"Certificate of Analysys", 1)
    )
    bad = runner.invoke(
        app,
        ["verify", str(tampered), "--trust", str(keys / "registry.yaml"), "--data-dir", str(data)],
    )
    assert bad.exit_code == 1

    entries = _log(data)
    actions = [e["action"] for e in entries]
    assert actions == [
        "spec-load", "lot-analysis", "lot-analysis", "lot-analysis", "lot-analysis", "evaluate", "render",
        "sign", "verify", "verification-failed",
    ]  # fmt: skip
    assert {e["lot"] for e in entries[:7]} == {"lot-CAR-0001"}
    assert (
        entries[7]["details"]["meaning"] == "performed"
        and entries[7]["details"]["user_id"] == people.first.user_id
    )
    assert entries[9]["details"]["failures"]
    assert len({e["actor"] for e in entries}) == 1  # the OS user who ran the commands
    chain = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert chain.exit_code == 0, chain.stdout + chain.stderr


def test_without_a_data_folder_nothing_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: Path, people: People
) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app,
        ["release", str(sample), "--out", str(tmp_path / "out"),
         "--registry", str(people.folder)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_correction_is_a_new_row_that_references_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: Path, people: People
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    data = tmp_path / "data"
    runner = CliRunner()
    released = runner.invoke(
        app,
        [
            "release",
            str(sample),
            "--out",
            str(tmp_path / "out"),
            "--data-dir",
            str(data),
            "--registry",
            str(people.folder),
        ],
    )
    assert released.exit_code == 0, released.stderr
    before = _log(data)
    result = runner.invoke(
        app,
        [
            "audit",
            "correct",
            "2",
            "--reason",
            "wrong tube scanned",
            "--data-dir",
            str(data),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    after = _log(data)
    assert after[: len(before)] == before  # earlier rows are never obscured
    correction = after[-1]
    assert correction["action"] == "correction"
    assert correction["details"] == {"corrects": 2, "reason": "wrong tube scanned"}
    assert correction["object"] == before[1]["object"]
    missing = runner.invoke(
        app, ["audit", "correct", "999", "--reason", "x", "--data-dir", str(data)]
    )
    assert missing.exit_code == 2 and "no audit row 999 to correct" in missing.stderr
    blank = runner.invoke(app, ["audit", "correct", "2", "--reason", " ", "--data-dir", str(data)])
    assert blank.exit_code == 2 and "a correction needs a reason" in blank.stderr
    assert runner.invoke(app, ["audit", "verify", "--data-dir", str(data)]).exit_code == 0
