"""The lock-out count follows the key, not the registry folder (found by attack, issue 14).

The attack: the count of wrong passphrases was kept only beside the registry, so after four
guesses a copy of registry.yaml in another folder started an empty count, and five more. With a
data folder the count now also comes from its audit trail (the key identity's sign-failed rows
since its last sign), the larger wins, and five in a row lock the key whatever folder the
registry was copied to; only an admin's `keys unlock` lifts it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from cytorelease.errors import SignatureError
from cytorelease.records.audit import read_log
from cytorelease.records.trail import open_trail
from cytorelease.report.entry import Meaning
from cytorelease.report.lockout import MAX_FAILURES, key_identity
from cytorelease.report.registry_admin import unlock_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_with_key_file
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    passing_example_record,
)

WRONG = "not my passphrase at all"


@dataclass
class Desk:
    folder: Path  # the site's registry folder
    analyst: Signer
    report: Path
    data: Path
    tmp: Path

    def copy(self, name: str) -> Path:
        """registry.yaml copied to a folder of its own (no lock-out records there)."""
        target = self.tmp / name
        target.mkdir()
        shutil.copy2(self.folder / "registry.yaml", target / "registry.yaml")
        return target


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    for name in ("CYTORELEASE_PASSPHRASE", "CYTORELEASE_DATA", "CYTORELEASE_TSA"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "keys"
    analyst = Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST)
    report = tmp_path / "coa.html"
    report.write_text(render_coa(passing_example_record(), generated_at=RENDERED_AT))
    return Desk(folder, analyst, report, tmp_path / "data", tmp_path)


def _sign(
    desk: Desk, passphrase: str, registry: Path, *, trail: bool = True,
    meaning: Meaning = Meaning.PERFORMED,
) -> None:  # fmt: skip
    sign_with_key_file(
        desk.report, key_path=desk.analyst.key_path, passphrase=passphrase, meaning=meaning,
        registry=registry, now=at(10), trail=open_trail(desk.data) if trail else None,
    )  # fmt: skip


def _fail(desk: Desk, registry: Path, count: int) -> None:
    left = MAX_FAILURES - count
    tail = f"{left} more lock the key" if left else "the key is now locked"
    with pytest.raises(SignatureError) as caught:
        _sign(desk, WRONG, registry)
    assert caught.value.problem == f"wrong passphrase for this key ({count} in a row; {tail})"


def _assert_locked(desk: Desk, registry: Path) -> None:
    before = desk.report.read_bytes()
    with pytest.raises(SignatureError) as caught:
        _sign(desk, PASSPHRASE, registry)
    assert caught.value.problem == (
        "the key of aanalyst is locked after 5 wrong passphrases in a row (counted in the audit "
        "trail)"
    )
    assert "an admin unlocks it with `cytorelease keys unlock aanalyst`" in caught.value.one_line()
    assert desk.report.read_bytes() == before


def test_a_copied_registry_does_not_start_an_empty_count(desk: Desk) -> None:
    for count in (1, 2, 3):
        _fail(desk, desk.folder, count)
    elsewhere = desk.copy("elsewhere")
    _fail(desk, elsewhere, 4)
    _fail(desk, desk.copy("again"), 5)
    for registry in (desk.folder, elsewhere, desk.copy("fresh")):
        _assert_locked(desk, registry)
    # every row names the key identity (the encrypted key's, as beside the registry)
    identity = key_identity(desk.analyst.key_path.read_bytes())
    failed = [row for row in read_log(desk.data) if row.action == "sign-failed"]
    assert [row.details["failures_in_a_row"] for row in failed] == [1, 2, 3, 4, 5]
    assert {row.details["key_identity"] for row in failed} == {identity}
    # without the data folder only the copy's own count stands: that remains the site's SOP
    _sign(desk, PASSPHRASE, desk.copy("unaudited"), trail=False)


def test_a_sign_ends_the_run_in_the_trail(desk: Desk) -> None:
    for count in range(1, MAX_FAILURES):
        _fail(desk, desk.copy(f"copy{count}"), count)
    _sign(desk, PASSPHRASE, desk.copy("signing"))
    (signed,) = [row for row in read_log(desk.data) if row.action == "sign"]
    assert signed.details["key_identity"] == key_identity(desk.analyst.key_path.read_bytes())
    for count in range(1, MAX_FAILURES):
        _fail(desk, desk.copy(f"after{count}"), count)


def test_an_accepted_passphrase_the_policy_refuses_ends_the_run_too(desk: Desk) -> None:
    """As beside the registry: the right passphrase ends a run, whatever is refused after."""
    for count in range(1, MAX_FAILURES):
        _fail(desk, desk.folder, count)
    with pytest.raises(SignatureError, match="refused by the signature policy"):
        _sign(desk, PASSPHRASE, desk.copy("decide"), meaning=Meaning.APPROVED)
    refused = read_log(desk.data)[-1]
    assert (refused.action, refused.details["passphrase"]) == ("sign-refused", "accepted")
    _fail(desk, desk.copy("next"), 1)


def test_only_an_admin_unlock_lifts_the_trail_count(desk: Desk) -> None:
    for count in range(1, MAX_FAILURES + 1):
        _fail(desk, desk.folder, count)
    stale = desk.copy("stale")  # before the unlock
    unlock_key("aanalyst", registry=desk.folder, admin_key=admin_key(desk.folder), now=at(9))
    # a copy that lacks the unlock version is still locked by the trail
    _assert_locked(desk, stale)
    # the site's registry (and any copy of it) holds the unlock: the failures before it lapse
    _fail(desk, desk.copy("unlocked"), 1)
    _sign(desk, PASSPHRASE, desk.folder)
