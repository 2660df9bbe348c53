"""Release authority, tried as the audit found it broken (issue 14: an analyst's key alone
signed `approved` and verify passed; `approved` was applied to a FAIL lot; no review was
required; reviewer and approver could be one person). Each attack is tried twice: through
`sign`, which must refuse, and as a hand-forged signature block, which `verify` must reject
naming the rule."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SignatureError
from cytorelease.report.area import read_entries, render_area, split_report
from cytorelease.report.entry import Meaning, SignatureEntry, entry_sha256, format_utc
from cytorelease.report.keys import raw_public
from cytorelease.report.record import extract_record, record_digests
from cytorelease.report.render import render_coa, stamp_rendering
from cytorelease.report.sign import sign_bytes
from cytorelease.report.verify import verify_bytes
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    at,
    example_record,
    passing_example_record,
    unstamped_record,
)
from tests.report.typed import run_typed

runner = CliRunner()


def _draft(record: dict[str, Any]) -> bytes:
    return render_coa(record, generated_at=RENDERED_AT).encode("utf-8")


def _sign(data: bytes, who: Signer, meaning: Meaning, when: datetime, **kw: Any) -> bytes:
    signed, _ = sign_bytes(
        data, private_key=who.private_key, signer=who.entry, meaning=meaning, now=when, **kw
    )
    return signed


def _forge(data: bytes, who: Signer, meaning: str, role: str, when: datetime) -> bytes:
    """One more signature written by hand, valid Ed25519, skipping every check `sign` makes."""
    parts = split_report(data)
    existing = [SignatureEntry.from_dict(raw) for raw in read_entries(parts.area)]
    digests = record_digests(extract_record(parts.content))
    unsigned = SignatureEntry(
        signer=who.entry.name, user_id=who.entry.user_id, role=role,
        key_fingerprint=who.entry.fingerprint,
        public_key=base64.b64encode(raw_public(who.private_key)).decode("ascii"),
        meaning=meaning, utc_time=format_utc(when), comment=None,
        content_sha256=hashlib.sha256(parts.content).hexdigest(),
        record_sha256=digests.record_sha256, spec_sha256=digests.spec_sha256,
        input_sha256s=digests.input_sha256s,
        previous_signature=entry_sha256(existing[-1]) if existing else None,
        signature="", trusted_time=None,
    )  # fmt: skip
    signature = base64.b64encode(who.private_key.sign(unsigned.signed_bytes())).decode()
    entry = SignatureEntry(
        **{**unsigned.to_dict(), "input_sha256s": unsigned.input_sha256s, "signature": signature}
    )
    return parts.with_area(render_area([*existing, entry]))


def _failures(data: bytes, signers: dict[str, Signer]) -> list[str]:
    result = verify_bytes(data, registry=signers["analyst"].registry, now=at(18))
    return result.failures()


@pytest.fixture(scope="module")
def passing() -> bytes:
    return _draft(passing_example_record())


def _failing(policy: dict[str, Any] | None = None) -> bytes:
    """The example lot with mycoplasma detected: disposition FAIL."""
    record = unstamped_record()
    for criterion in record["evaluation"]["criteria"]:
        if criterion["id"] == "mycoplasma":
            criterion.update(reported="detected", verdict="FAIL")
    record["evaluation"]["disposition"] = "FAIL"
    if policy is not None:
        record["evaluation"]["signature_policy"] = policy
    return _draft(stamp_rendering(record, generated_at=RENDERED_AT))


@pytest.fixture(scope="module")
def failing() -> bytes:
    return _failing()


@pytest.fixture(scope="module")
def reviewed(passing: bytes, signers: dict[str, Signer]) -> bytes:
    data = _sign(passing, signers["analyst"], Meaning.PERFORMED, at(10))
    return _sign(data, signers["reviewer"], Meaning.REVIEWED, at(11))


def test_the_policy_s_own_path_verifies(reviewed: bytes, signers: dict[str, Signer]) -> None:
    data = _sign(reviewed, signers["qa"], Meaning.APPROVED, at(12))
    assert _failures(data, signers) == []
    result = verify_bytes(data, registry=signers["qa"].registry, now=at(18))
    assert [s.entry.role for s in result.signatures if s.entry] == [
        "analyst",
        "reviewer",
        "qa-approver",
    ]
    # the CoA names the certifying person in the approval's heading
    assert b"3. Approved for release by Quinn Q. Approver</h3>" in data


def test_an_analyst_key_cannot_approve(reviewed: bytes, signers: dict[str, Signer]) -> None:
    with pytest.raises(SignatureError, match="lets only qa-approver apply 'approved'"):
        _sign(reviewed, signers["analyst"], Meaning.APPROVED, at(12))
    # forged, claiming the analyst role: the policy names the rule
    forged = _forge(reviewed, signers["analyst"], "approved", "analyst", at(12))
    assert any(
        "signature policy" in f and "lets only qa-approver apply 'approved'" in f
        for f in _failures(forged, signers)
    ), _failures(forged, signers)
    # forged, claiming a role the registry never gave the analyst
    forged = _forge(reviewed, signers["analyst"], "approved", "qa-approver", at(12))
    assert any(
        "aanalyst held the roles analyst" in f and "not qa-approver" in f
        for f in _failures(forged, signers)
    ), _failures(forged, signers)


def test_a_fail_lot_is_never_approved_only_rejected(
    failing: bytes, signers: dict[str, Signer]
) -> None:
    data = _sign(failing, signers["analyst"], Meaning.PERFORMED, at(10))
    data = _sign(data, signers["reviewer"], Meaning.REVIEWED, at(11))
    with pytest.raises(SignatureError, match="the disposition is FAIL: 'approved' is only"):
        _sign(data, signers["qa"], Meaning.APPROVED, at(12))
    forged = _forge(data, signers["qa"], "approved", "qa-approver", at(12))
    assert any("the disposition is FAIL" in f for f in _failures(forged, signers))
    rejected = _sign(data, signers["qa"], Meaning.REJECTED, at(12))
    assert _failures(rejected, signers) == []
    assert b"Rejected (not for release) by Quinn Q. Approver" in rejected
    # a decided CoA takes no more signatures
    with pytest.raises(SignatureError, match="already rejected by qapprover"):
        _sign(rejected, signers["analyst"], Meaning.PERFORMED, at(13))


def test_an_incomplete_lot_is_not_approved(signers: dict[str, Signer]) -> None:
    data = _sign(_draft(example_record()), signers["analyst"], Meaning.PERFORMED, at(10))
    data = _sign(data, signers["reviewer"], Meaning.REVIEWED, at(11))
    with pytest.raises(SignatureError, match="the disposition is INCOMPLETE"):
        _sign(data, signers["qa"], Meaning.APPROVED, at(12))


def test_approval_needs_a_review(passing: bytes, signers: dict[str, Signer]) -> None:
    data = _sign(passing, signers["analyst"], Meaning.PERFORMED, at(10))
    with pytest.raises(SignatureError, match="needs a review first"):
        _sign(data, signers["qa"], Meaning.APPROVED, at(12))
    forged = _forge(data, signers["qa"], "approved", "qa-approver", at(12))
    assert any("needs a review first" in f for f in _failures(forged, signers))


def test_reviewer_and_approver_are_two_people(
    passing: bytes, signers: dict[str, Signer], tmp_path: Path
) -> None:
    # one person holding both roles, in the same registry as the others
    both = Signer(
        signers["analyst"].registry_path.parent, "Bo Both", f"bboth-{tmp_path.name[-6:]}",
        [Role.REVIEWER, Role.QA_APPROVER], now=at(9),
    )  # fmt: skip
    data = _sign(passing, signers["analyst"], Meaning.PERFORMED, at(10))
    data = _sign(data, both, Meaning.REVIEWED, at(11))
    with pytest.raises(SignatureError, match="different people"):
        _sign(data, both, Meaning.APPROVED, at(12))
    forged = _forge(data, both, "approved", "qa-approver", at(12))
    assert any("different people" in f for f in _failures(forged, signers))
    # the performer may not review either
    alone = _sign(passing, signers["analyst"], Meaning.PERFORMED, at(10))
    with pytest.raises(SignatureError, match="lets only reviewer or qa-approver"):
        _sign(alone, signers["analyst"], Meaning.REVIEWED, at(11))


def test_approval_with_a_deviation_only_where_the_spec_allows_it(
    failing: bytes, signers: dict[str, Signer]
) -> None:
    data = _sign(failing, signers["analyst"], Meaning.PERFORMED, at(10))
    data = _sign(data, signers["reviewer"], Meaning.REVIEWED, at(11))
    with pytest.raises(SignatureError, match="does not allow approval with a deviation"):
        _sign(data, signers["qa"], Meaning.APPROVED_WITH_DEVIATION, at(12), deviation="DEV-42")
    data = _sign(
        _failing({"approval_with_deviation": True}), signers["analyst"], Meaning.PERFORMED, at(10)
    )
    data = _sign(data, signers["reviewer"], Meaning.REVIEWED, at(11))
    with pytest.raises(SignatureError, match="names the deviation"):
        _sign(data, signers["qa"], Meaning.APPROVED_WITH_DEVIATION, at(12))
    approved = _sign(
        data, signers["qa"], Meaning.APPROVED_WITH_DEVIATION, at(12), deviation="DEV-42"
    )
    assert _failures(approved, signers) == []
    assert b'data-field="deviation">DEV-42</dd>' in approved


def _cli_sign(
    report: Path, who: Signer, meaning: str, *, env: dict[str, str] | None = None, **kw: Any
) -> Any:
    command = ["sign", str(report), "--key", str(who.key_path), "--meaning", meaning,
               "--registry", str(who.registry_path.parent)]  # fmt: skip
    for name, value in kw.items():
        flag = f"--{name.replace('_', '-')}"
        command += [flag] if value is True else [flag, str(value)]
    if meaning != "performed":  # a person's decision: typed at a terminal
        return run_typed(command, PASSPHRASE, env=env)
    return runner.invoke(app, command, env=env, input=f"{PASSPHRASE}\n")


def test_cli_refuses_the_environment_passphrase_for_a_decision(
    passing: bytes, signers: dict[str, Signer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_PASSPHRASE", raising=False)
    report = tmp_path / "coa.html"
    # drafts rendered at RENDERED_AT; the CLI signs at the real clock, which is later
    report.write_bytes(passing)
    env = {"CYTORELEASE_PASSPHRASE": PASSPHRASE}
    assert _cli_sign(report, signers["analyst"], "performed", env=env).exit_code == 0
    for meaning, who in (("reviewed", "reviewer"), ("approved", "qa"), ("rejected", "qa")):
        refused = _cli_sign(report, signers[who], meaning, env=env)
        assert refused.exit_code == 2
        assert "never taken from CYTORELEASE_PASSPHRASE" in refused.stderr
    # typed at the prompt, the same person signs
    typed = _cli_sign(report, signers["reviewer"], "reviewed")
    assert typed.exit_code == 0, typed.stderr
    data = tmp_path / "data"
    denied = _cli_sign(report, signers["analyst"], "approved", data_dir=data)
    assert denied.exit_code == 2
    assert "refused by the signature policy" in denied.stderr
    log = runner.invoke(app, ["audit", "log", "--data-dir", str(data), "--json"])
    assert '"sign-refused"' in log.stdout
    approved = _cli_sign(report, signers["qa"], "approved", json=True)
    assert approved.exit_code == 0, approved.stderr
    ok = runner.invoke(app, ["verify", str(report), "--trust", str(signers["qa"].registry_path)])
    assert ok.exit_code == 0, ok.stderr
    assert "no trusted time: signature 1, 2, 3" in ok.stdout
