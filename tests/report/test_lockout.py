"""Lock-out after five wrong passphrases in a row (Part 11.300(d), issue 14): the sixth attempt
is refused even with the right passphrase, every failure is audited as sign-failed, a renamed or
copied key file keeps its count (the count belongs to the key's bytes), and only an admin lifts
the lock, as a signed registry version."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SignatureError
from cytorelease.records.audit import read_log
from cytorelease.records.trail import open_trail
from cytorelease.report.entry import Meaning
from cytorelease.report.lockout import MAX_FAILURES
from cytorelease.report.registry import load_registry
from cytorelease.report.registry_admin import unlock_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_with_key_file
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    ADMIN,
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    passing_example_record,
)

runner = CliRunner()
WRONG = "not my passphrase at all"


@dataclass
class Desk:
    folder: Path
    analyst: Signer
    qa: Signer
    report: Path
    data: Path


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    monkeypatch.delenv("CYTORELEASE_PASSPHRASE", raising=False)
    monkeypatch.delenv("CYTORELEASE_DATA", raising=False)
    monkeypatch.delenv("CYTORELEASE_TSA", raising=False)
    folder = tmp_path / "keys"
    analyst = Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST)
    qa = Signer(folder, "Quinn Q. Approver", "qapprover", Role.QA_APPROVER)
    report = tmp_path / "coa.html"
    report.write_text(render_coa(passing_example_record(), generated_at=RENDERED_AT))
    return Desk(folder, analyst, qa, report, tmp_path / "data")


def _sign(desk: Desk, passphrase: str, key: Path | None = None) -> None:
    sign_with_key_file(
        desk.report, key_path=key or desk.analyst.key_path, passphrase=passphrase,
        meaning=Meaning.PERFORMED, registry=desk.folder, now=at(10),
        trail=open_trail(desk.data),
    )  # fmt: skip


def _fail(desk: Desk, count: int, key: Path | None = None) -> None:
    left = MAX_FAILURES - count
    tail = f"{left} more lock the key" if left else "the key is now locked"
    with pytest.raises(SignatureError) as caught:
        _sign(desk, WRONG, key)
    assert caught.value.problem == f"wrong passphrase for this key ({count} in a row; {tail})"


def _assert_locked(desk: Desk, key: Path | None = None) -> None:
    before = desk.report.read_bytes()
    with pytest.raises(SignatureError) as caught:
        _sign(desk, PASSPHRASE, key)
    message = caught.value.one_line()
    assert "is locked after 5 wrong passphrases in a row" in message, message
    assert "an admin unlocks it with `cytorelease keys unlock aanalyst`" in message, message
    assert desk.report.read_bytes() == before


def _actions(desk: Desk) -> list[tuple[str, object]]:
    return [(e.action, e.details.get("failures_in_a_row")) for e in read_log(desk.data)]


def test_five_wrong_passphrases_lock_the_key_and_each_is_audited(desk: Desk) -> None:
    for count in range(1, MAX_FAILURES + 1):
        _fail(desk, count)
    _assert_locked(desk)
    _assert_locked(desk)  # and stays locked: the right passphrase does not reset a lock
    rows = read_log(desk.data)
    failed = [row for row in rows if row.action == "sign-failed"]
    assert [row.details["failures_in_a_row"] for row in failed] == [1, 2, 3, 4, 5]
    for row in failed:
        assert row.details["user_id"] == "aanalyst"
        assert row.details["problem"] == "wrong passphrase"
        assert row.details["key_file"] == str(desk.analyst.key_path)
        assert row.object == str(desk.report.absolute())
    # the attempts on the locked key are audited as refused, never as a signing
    assert [row.action for row in rows[5:]] == ["sign-refused", "sign-refused"]
    assert all("is locked" in row.details["problem"] for row in rows[5:])
    # another person's key is not affected
    other = Signer(desk.folder, "Otto Other", "oother", Role.ANALYST)
    sign_with_key_file(
        desk.report, key_path=other.key_path, passphrase=PASSPHRASE, meaning=Meaning.PERFORMED,
        registry=desk.folder, now=at(10),
    )  # fmt: skip


def test_a_right_passphrase_ends_a_run_of_failures(desk: Desk) -> None:
    for count in range(1, MAX_FAILURES):
        _fail(desk, count)
    _sign(desk, PASSPHRASE)  # the fifth attempt is right: signed, count reset
    for count in range(1, MAX_FAILURES):
        _fail(desk, count)
    assert [a for a, _ in _actions(desk)] == ["sign-failed"] * 4 + ["sign"] + ["sign-failed"] * 4


def test_renaming_or_copying_the_key_file_does_not_reset_the_count(
    desk: Desk, tmp_path: Path
) -> None:
    for count in (1, 2):
        _fail(desk, count)
    renamed = tmp_path / "elsewhere" / "renamed.pem"
    renamed.parent.mkdir()
    shutil.copy2(desk.analyst.key_path, renamed)
    _fail(desk, 3, renamed)
    moved = tmp_path / "moved.pem"
    desk.analyst.key_path.rename(moved)
    _fail(desk, 4, moved)
    _fail(desk, 5, renamed)
    moved.rename(desk.analyst.key_path)
    _assert_locked(desk)
    with pytest.raises(SignatureError, match="is locked after 5 wrong passphrases"):
        _sign(desk, PASSPHRASE, renamed)
    # the admin unlocks the user id: every name the key file was tried under is lifted
    unlock_key("aanalyst", registry=desk.folder, admin_key=admin_key(desk.folder), now=at(9))
    _sign(desk, PASSPHRASE, renamed)


def test_an_admin_unlocks_on_the_cli_as_a_registry_version(desk: Desk) -> None:
    for count in range(1, MAX_FAILURES + 1):
        _fail(desk, count)
    versions = len(load_registry(desk.folder).versions)
    unlocked = runner.invoke(
        app,
        ["keys", "unlock", "aanalyst", "--registry", str(desk.folder), "--admin-key",
         str(desk.folder / f"{ADMIN[1]}.pem"), "--json"],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert unlocked.exit_code == 0, unlocked.stderr
    document = json.loads(unlocked.stdout)
    assert document["version"] == versions + 1
    assert document["change"] == {"action": "unlock", "user_id": "aanalyst", "detail": None}
    registry = load_registry(desk.folder)  # the chain still verifies with the new version
    assert registry.head.change.action == "unlock"
    assert registry.head.signed_by == ADMIN[1]
    assert registry.head.entries == registry.versions[-2].entries
    _sign(desk, PASSPHRASE)
    assert _actions(desk)[-1] == ("sign", None)


def test_a_non_admin_cannot_unlock(desk: Desk) -> None:
    for count in range(1, MAX_FAILURES + 1):
        _fail(desk, count)
    versions = len(load_registry(desk.folder).versions)
    with pytest.raises(SignatureError, match="the admin key is not an active admin's key"):
        unlock_key("aanalyst", registry=desk.folder, admin_key=desk.qa.private_key, now=at(9))
    refused = runner.invoke(
        app,
        ["keys", "unlock", "aanalyst", "--registry", str(desk.folder), "--admin-key",
         str(desk.qa.key_path)],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "the admin key is not an active admin's key in this registry" in refused.stderr
    assert len(load_registry(desk.folder).versions) == versions
    _assert_locked(desk)


def test_the_cli_counts_and_audits_wrong_passphrases(desk: Desk) -> None:
    command = ["sign", str(desk.report), "--key", str(desk.analyst.key_path), "--meaning",
               "performed", "--registry", str(desk.folder), "--data-dir", str(desk.data)]  # fmt: skip
    for count in range(1, MAX_FAILURES + 1):
        result = runner.invoke(app, command, input=f"{WRONG}\n")
        assert result.exit_code == 2
        assert f"wrong passphrase for this key ({count} in a row;" in result.stderr
    locked = runner.invoke(app, command, input=f"{PASSPHRASE}\n")
    assert locked.exit_code == 2
    assert "cytorelease keys unlock aanalyst" in locked.stderr
    log = runner.invoke(app, ["audit", "log", "--data-dir", str(desk.data), "--json"])
    assert log.exit_code == 0, log.stderr
    assert log.stdout.count('"sign-failed"') == MAX_FAILURES


@pytest.mark.parametrize("damage", [b"{not json", b'{"failures": -3, "user_ids": ["x"]}', b"[]"])
def test_a_damaged_lock_record_keeps_the_key_locked_and_says_what_to_do(
    desk: Desk, damage: bytes
) -> None:
    _fail(desk, 1)
    (record,) = (desk.folder / "lockout").glob("*.json")
    record.write_bytes(damage)
    before = desk.report.read_bytes()
    with pytest.raises(SignatureError) as caught:
        _sign(desk, PASSPHRASE)
    assert caught.value.path == str(record)
    assert caught.value.problem == (
        "the lock-out record of this key is damaged, so the key counts as locked"
    )
    assert "removes it to lift the lock" in caught.value.one_line()
    assert desk.report.read_bytes() == before
    record.unlink()  # what the admin does, having checked it
    _sign(desk, PASSPHRASE)


def test_an_appended_byte_or_a_rewrapped_pem_does_not_reset_the_count(
    desk: Desk, tmp_path: Path
) -> None:
    """Found by attack: the count was kept per file bytes, so `echo >> copy.pem` bought five
    more guesses. It is kept per encrypted key now."""
    for count in range(1, MAX_FAILURES + 1):
        _fail(desk, count)
    original = desk.analyst.key_path.read_bytes()
    appended = tmp_path / "aanalyst.pem"
    appended.write_bytes(original + b"\n")
    _assert_locked(desk, appended)
    lines = original.decode().splitlines()
    body = "".join(lines[1:-1])
    rewrapped = tmp_path / "rewrapped" / "aanalyst.pem"
    rewrapped.parent.mkdir()
    rewrapped.write_text(
        "\n".join([lines[0], *(body[i : i + 40] for i in range(0, len(body), 40)), lines[-1]])
        + "\n"
    )
    _assert_locked(desk, rewrapped)
