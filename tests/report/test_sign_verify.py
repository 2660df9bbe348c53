"""Signing and verifying a CoA (21 CFR 11.10(a), 11.50, 11.70): every byte, every signature,
and every key against the signed registry in force when it signed."""

from __future__ import annotations

import copy
import itertools
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cytorelease.errors import SignatureError
from cytorelease.report import sign as sign_module
from cytorelease.report.area import split_report
from cytorelease.report.entry import Meaning
from cytorelease.report.registry import Registry, load_registry
from cytorelease.report.registry_admin import register_key, revoke_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes, sign_report
from cytorelease.report.verify import verify_bytes, verify_report
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    EVIDENCE,
    KEYS_FROM,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    example_record,
    passing_example_record,
    site_registry,
)

VERIFY_AT = at(23)


def _sign(data: bytes, who: Signer, meaning: Meaning, when: Any, **kwargs: Any) -> bytes:
    signed, _ = sign_bytes(
        data, private_key=who.private_key, signer=who.entry, meaning=meaning, now=when, **kwargs
    )
    return signed


def _draft(record: dict[str, Any] | None = None) -> bytes:
    """The CoA of ``record``; by default a lot that met its spec (the only kind approved)."""
    return render_coa(record or passing_example_record(), generated_at=RENDERED_AT).encode()


@pytest.fixture(scope="session")
def registry(signers: dict[str, Signer]) -> Registry:
    return load_registry(signers["analyst"].registry_path)


def _other_registry(
    folder: Path,
    signers: dict[str, Signer],
    *,
    qa_days: int = 3650,
    qa_at: datetime = KEYS_FROM,
    qa: bool = True,
) -> Registry:
    """Another signed registry holding the same public keys (their ``.pub`` files registered by
    its own admin): the analyst and reviewer from KEYS_FROM, the QA approver as given."""
    path = site_registry(folder)
    admin = admin_key(folder)
    for who, role in (("analyst", Role.ANALYST), ("reviewer", Role.REVIEWER)):
        register_key(
            signers[who].public_path, roles=[role], registry=path, admin_key=admin, now=KEYS_FROM,
            identity_evidence=EVIDENCE,
        )  # fmt: skip
    if qa:
        register_key(
            signers["qa"].public_path, roles=[Role.QA_APPROVER], registry=path, admin_key=admin,
            valid_days=qa_days, now=qa_at, identity_evidence=EVIDENCE,
        )  # fmt: skip
    return load_registry(path)


@pytest.fixture(scope="session")
def signed_report(signers: dict[str, Signer]) -> bytes:
    """Performed, reviewed and approved, by three people."""
    data = _sign(_draft(), signers["analyst"], Meaning.PERFORMED, at(10), comment="Gating checked")
    data = _sign(data, signers["reviewer"], Meaning.REVIEWED, at(11))
    return _sign(data, signers["qa"], Meaning.APPROVED, at(12), comment="Released <QA>")


def _verify(data: bytes, registry: Registry | None) -> list[str]:
    return verify_bytes(data, registry=registry, now=VERIFY_AT).failures()


def test_signed_report_verifies(signed_report: bytes, registry: Registry) -> None:
    result = verify_bytes(signed_report, registry=registry, now=VERIFY_AT)
    assert result.failures() == []
    assert result.ok
    assert [(c.entry.meaning, c.entry.role) for c in result.signatures if c.entry] == [
        ("performed", "analyst"),
        ("reviewed", "reviewer"),
        ("approved", "qa-approver"),
    ]
    assert result.lot_id == "CAR-0001"
    assert result.disposition == "PASS"
    assert result.registry is not None
    assert result.registry["genesis_sha256"] == registry.genesis_sha256


def test_each_signature_is_visible_with_name_time_and_meaning(signed_report: bytes) -> None:
    area = split_report(signed_report).area.decode()
    assert "1. Performed by Ada Analyst" in area
    assert "2. Reviewed by Rémy Réviseur" in area
    assert "3. Approved for release by Quinn Q. Approver" in area
    assert '<dd class="sig-utc-time" data-field="utc_time">2026-11-20 12:00:00 UTC</dd>' in area
    assert "Released &lt;QA&gt;" in area  # the comment is text
    assert "Not yet signed" not in area


def test_signing_changes_only_the_signature_area(signed_report: bytes) -> None:
    assert split_report(signed_report).content == split_report(_draft()).content


def test_signatures_bind_record_spec_and_inputs(signed_report: bytes, registry: Any) -> None:
    record = passing_example_record()
    entries = [c.entry for c in verify_bytes(signed_report, registry=registry).signatures]
    for entry in entries:
        assert entry is not None
        assert entry.spec_sha256 == record["evaluation"]["spec"]["sha256"]
        assert list(entry.input_sha256s) == [i["sha256"] for i in record["inputs"]]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_flipping_any_single_byte_fails(
    signed_report: bytes, registry: Registry, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(signed_report) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="xor")
    tampered = bytearray(signed_report)
    tampered[position] ^= mask
    assert not verify_bytes(bytes(tampered), registry=registry, now=VERIFY_AT).ok


def test_flipping_a_byte_in_each_region_fails(signed_report: bytes, registry: Any) -> None:
    parts = split_report(signed_report)
    begin = len(parts.prefix)
    machine = signed_report.index(b'class="cytorelease-signature">') + 40
    name = signed_report.index(b">Quinn Q. Approver</dd>") + 1
    for label, position in {
        "first byte": 0,
        "record json": signed_report.index(b'"chain_of_identity"') + 3,
        "begin marker": begin + 5,
        "visible signer": name,
        "machine block": machine,
        "end marker": len(signed_report) - len(parts.suffix) - 3,
        "last byte": len(signed_report) - 1,
    }.items():
        tampered = bytearray(signed_report)
        tampered[position] ^= 0x01
        assert _verify(bytes(tampered), registry), label


def test_appending_or_truncating_bytes_fails(signed_report: bytes, registry: Any) -> None:
    assert _verify(signed_report + b"\n", registry)
    assert _verify(signed_report[:-1], registry)
    assert _verify(b" " + signed_report, registry)


def test_changed_content_names_every_signature(signed_report: bytes, registry: Any) -> None:
    tampered = signed_report.replace(b"93.4", b"95.4", 1)
    page, *signatures = _verify(tampered, registry)
    assert page.startswith("report: the page does not show its record: ")
    assert len(signatures) == 3
    assert all("it covers other content" in f for f in signatures)
    assert signatures[0].startswith("signature 1 (Ada Analyst, performed): ")


def _area_of(data: bytes) -> bytes:
    return split_report(data).area


def _articles(area: bytes) -> list[bytes]:
    return re.findall(rb'<article class="sig".*?</article>\n', area, re.S)


def test_a_signature_transplanted_from_another_report_fails(
    signed_report: bytes, signers: dict[str, Signer], registry: Any
) -> None:
    other_record = example_record()
    other_record["lot"]["id"] = "CAR-0002"
    other = _sign(_draft(other_record), signers["analyst"], Meaning.PERFORMED, at(10))
    # The whole area of the other report onto this one, and one block into this one's area.
    moved = split_report(signed_report).with_area(_area_of(other))
    failures = _verify(moved, registry)
    assert any("it covers other content" in f for f in failures)
    assert any("another result record" in f for f in failures)
    area = _area_of(signed_report)
    first = _articles(area)[0]
    foreign = _articles(_area_of(other))[0]
    spliced = split_report(signed_report).with_area(area.replace(first, foreign))
    assert any("signature 1" in f and "other content" in f for f in _verify(spliced, registry))


def test_reordered_signatures_fail(signed_report: bytes, registry: Any) -> None:
    area = _area_of(signed_report)
    first, second, _third = _articles(area)
    swapped = area.replace(first + second, second + first)
    failures = _verify(split_report(signed_report).with_area(swapped), registry)
    assert any("chain is broken" in f or "names a previous signature" in f for f in failures)


@pytest.mark.parametrize("which", [0, 1])
def test_removed_signatures_fail(signed_report: bytes, registry: Any, which: int) -> None:
    area = _area_of(signed_report)
    removed = area.replace(_articles(area)[which], b"")
    failures = _verify(split_report(signed_report).with_area(removed), registry)
    assert any("chain is broken" in f or "names a previous signature" in f for f in failures)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            b'data-field="signer">Quinn Q. Approver<',
            b'data-field="signer">Quinn Q. Approved<',
            "signature 3 (Quinn Q. Approver, approved): the displayed printed name "
            "'Quinn Q. Approved' differs from the signed 'Quinn Q. Approver'",
        ),
        (
            b'data-field="utc_time">2026-11-20 12:00:00 UTC<',
            b'data-field="utc_time">2026-11-19 12:00:00 UTC<',
            "the displayed date and time '2026-11-19 12:00:00 UTC' differs from the signed "
            "'2026-11-20 12:00:00 UTC'",
        ),
        (
            b'data-field="meaning">reviewed<',
            b'data-field="meaning">approved<',
            "the displayed meaning 'approved' differs from the signed 'reviewed'",
        ),
    ],
)
def test_displayed_values_must_equal_the_signed_ones(
    signed_report: bytes, registry: Any, old: bytes, new: bytes, problem: str
) -> None:
    assert signed_report.count(old) == 1
    failures = _verify(signed_report.replace(old, new), registry)
    assert any(problem in f for f in failures), failures
    assert any(
        "signature area differs from what its signed entries render to" in f for f in failures
    )


def test_an_edited_machine_block_fails(signed_report: bytes, registry: Any) -> None:
    tampered = signed_report.replace(b'"meaning":"reviewed"', b'"meaning":"approved"')
    failures = _verify(tampered, registry)
    assert any("signature 2" in f and "Ed25519 signature is not valid" in f for f in failures)


def test_untrusted_key_fails(
    signed_report: bytes, signers: dict[str, Signer], tmp_path: Path
) -> None:
    """Another registry, signed by its own admin, that never registered the QA approver."""
    partial = _other_registry(tmp_path, signers, qa=False)
    failures = _verify(signed_report, partial)
    assert len(failures) == 1, failures
    assert re.match(
        r"signature 3 \(Quinn Q\. Approver, approved\): key [0-9a-f]{16}… was not in the registry "
        r"in force at 2026-11-20T12:00:00Z \(version 3\)$",
        failures[0],
    )
    # with every key registered, the same report verifies against that registry too
    assert _verify(signed_report, _other_registry(tmp_path / "full", signers)) == []


def test_no_trust_registry_fails(signed_report: bytes) -> None:
    assert _verify(signed_report, None) == [
        "report: no trust registry given: pass --trust registry.yaml, the site's signed registry"
    ]


def test_expired_key_fails(
    signed_report: bytes, signers: dict[str, Signer], tmp_path: Path
) -> None:
    # the QA approver's key registered for 323 days: it expired at midnight before approving
    expired = _other_registry(tmp_path, signers, qa_days=323)
    (failure,) = _verify(signed_report, expired)
    assert failure == (
        "signature 3 (Quinn Q. Approver, approved): the key was not valid at "
        "2026-11-20T12:00:00Z (valid 2026-01-01T00:00:00Z to 2026-11-20T00:00:00Z: expired or "
        "not yet valid)"
    )


def test_a_key_registered_after_the_signature_fails(
    signed_report: bytes, signers: dict[str, Signer], tmp_path: Path
) -> None:
    # the QA approver's key registered (so valid) only from 12:30, half an hour after approving
    later = _other_registry(tmp_path, signers, qa_at=at(12, 30))
    (failure,) = _verify(signed_report, later)
    assert failure.startswith("signature 3 (Quinn Q. Approver, approved): key ")
    assert failure.endswith(
        "was not in the registry in force at 2026-11-20T12:00:00Z (version 3); it was "
        "registered later, for qapprover"
    )


@pytest.mark.parametrize(
    ("claimed", "problem"),
    [
        ({"name": "Someone Else"}, "not Someone Else (aanalyst)"),
        (
            {"name": "Quinn Q. Approver", "user_id": "qapprover"},
            "not Quinn Q. Approver (qapprover)",
        ),
    ],
)
def test_registry_name_must_match_signed_name(
    signers: dict[str, Signer], registry: Registry, claimed: dict[str, str], problem: str
) -> None:
    """A signer whose library lies about who holds the key: verify asks the registry."""
    analyst = signers["analyst"]
    forged, _ = sign_bytes(
        _draft(), private_key=analyst.private_key,
        signer=analyst.entry.model_copy(update=claimed), meaning=Meaning.PERFORMED, now=at(10),
    )  # fmt: skip
    (failure,) = _verify(forged, registry)
    assert f"the registry lists this key for Ada Analyst (aanalyst), {problem}" in failure


def test_unsigned_draft_does_not_verify(registry: Any) -> None:
    assert _verify(_draft(), registry) == [
        "report: the report carries no signature (a draft is not verifiable)"
    ]


def test_not_a_coa_fails_cleanly(registry: Any) -> None:
    (failure,) = _verify(b"<html>hello</html>", registry)
    assert "expected one signature area" in failure


def test_future_dated_signature_fails(signers: dict[str, Signer], registry: Any) -> None:
    data = _sign(_draft(), signers["analyst"], Meaning.PERFORMED, at(10))
    result = verify_bytes(data, registry=registry, now=at(9))
    assert any("dated in the future" in f for f in result.failures())


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Signer]:
    """One person registered as analyst and QA approver, and a reviewer, in their own registry."""
    folder = tmp_path_factory.mktemp("both")
    return {
        "both": Signer(folder, "Pat Both", "pboth", [Role.ANALYST, Role.QA_APPROVER]),
        "reviewer": Signer(folder, "Rita Reviewer", "rreviewer", Role.REVIEWER),
    }


def _performed_and_reviewed(both: dict[str, Signer]) -> bytes:
    data = _sign(_draft(), both["both"], Meaning.PERFORMED, at(10))
    return _sign(data, both["reviewer"], Meaning.REVIEWED, at(11))


def test_approval_by_the_performer_is_refused(both: dict[str, Signer]) -> None:
    data = _performed_and_reviewed(both)
    with pytest.raises(SignatureError) as caught:
        _sign(data, both["both"], Meaning.APPROVED, at(12))
    assert caught.value.problem == (
        "refused by the signature policy: pboth already signed this report as performed; "
        "performer, reviewer and approver must be different people (segregation of duties)"
    )


def test_a_forged_self_approval_is_caught_by_verify(
    both: dict[str, Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _performed_and_reviewed(both)
    monkeypatch.setattr(sign_module, "policy_problem", lambda *args, **kwargs: None)
    forged = _sign(data, both["both"], Meaning.APPROVED, at(12))
    failures = _verify(forged, both["both"].registry)
    assert failures == [
        "signature 3 (Pat Both, approved): signature policy: pboth already signed this report as "
        "performed; performer, reviewer and approver must be different people (segregation of "
        "duties)"
    ]


def test_the_same_meaning_twice_by_one_user_is_refused(signers: dict[str, Signer]) -> None:
    data = _sign(_draft(), signers["analyst"], Meaning.PERFORMED, at(10))
    with pytest.raises(SignatureError, match="already signed this report as performed"):
        _sign(data, signers["analyst"], Meaning.PERFORMED, at(11))


def test_computer_generated_meaning_needs_the_library_flag(
    signers: dict[str, Signer], registry: Any
) -> None:
    with pytest.raises(SignatureError, match="reserved for the unattended evaluation service"):
        _sign(_draft(), signers["service"], Meaning.COMPUTER_GENERATED, at(9))
    data = _sign(
        _draft(), signers["service"], Meaning.COMPUTER_GENERATED, at(9),
        allow_computer_generated=True,
    )  # fmt: skip
    data = _sign(data, signers["analyst"], Meaning.PERFORMED, at(10))
    assert _verify(data, registry) == []
    assert "1. Computer-generated evaluation by Release evaluation service" in data.decode()


def test_a_service_key_never_applies_a_human_meaning(signers: dict[str, Signer]) -> None:
    with pytest.raises(SignatureError, match="holds a service key, which may not apply"):
        _sign(_draft(), signers["service"], Meaning.APPROVED, at(9))
    with pytest.raises(
        SignatureError,
        match="the signature policy lets only service apply 'computer-generated-evaluation'; "
        "aanalyst holds analyst",
    ):
        _sign(
            _draft(), signers["analyst"], Meaning.COMPUTER_GENERATED, at(9),
            allow_computer_generated=True,
        )  # fmt: skip


def test_signing_outside_the_key_validity_is_refused(signers: dict[str, Signer]) -> None:
    analyst = signers["analyst"]
    too_late = analyst.entry.valid_until_at + timedelta(seconds=1)
    with pytest.raises(SignatureError) as caught:
        _sign(_draft(), analyst, Meaning.PERFORMED, too_late)
    assert caught.value.problem == (
        "the key of aanalyst is valid from 2026-01-01T00:00:00Z to 2035-12-30T00:00:00Z, not at "
        "2035-12-30T00:00:01Z"
    )
    too_early = KEYS_FROM - timedelta(seconds=1)  # not yet valid
    with pytest.raises(
        SignatureError, match="to 2035-12-30T00:00:00Z, not at 2025-12-31T23:59:59Z"
    ):
        _sign(_draft(), analyst, Meaning.PERFORMED, too_early)
    # the last second of the validity still signs
    assert _sign(_draft(), analyst, Meaning.PERFORMED, analyst.entry.valid_until_at)


def test_a_revoked_key_signs_no_more_and_its_earlier_signatures_stand(tmp_path: Path) -> None:
    ada = Signer(tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST)
    before = _sign(_draft(), ada, Meaning.PERFORMED, at(10))
    revoke_key(
        "aanalyst", reason="left the company", registry=ada.registry_path,
        admin_key=admin_key(tmp_path), now=at(11),
    )  # fmt: skip
    revoked = ada.registry.head.entry(ada.entry.fingerprint)
    assert revoked is not None and revoked.status == "revoked"
    assert _verify(before, ada.registry) == []  # signed while the key was active
    with pytest.raises(SignatureError, match="the key of aanalyst was revoked at 2026-11-20T11:00"):
        sign_bytes(
            _draft(), private_key=ada.private_key, signer=revoked, meaning=Meaning.PERFORMED,
            now=at(12),
        )  # fmt: skip
    # signed after the revocation by a signer that still holds the old, active entry
    after = _sign(_draft(), ada, Meaning.PERFORMED, at(12))
    (failure,) = _verify(after, ada.registry)
    assert failure == (
        "signature 1 (Ada Analyst, performed): the key was revoked at 2026-11-20T11:00:00Z "
        "(left the company), before 2026-11-20T12:00:00Z"
    )


def test_a_key_that_is_not_the_registered_one_is_refused(signers: dict[str, Signer]) -> None:
    with pytest.raises(SignatureError, match="does not belong to Ada Analyst"):
        sign_bytes(
            _draft(), private_key=signers["qa"].private_key, signer=signers["analyst"].entry,
            meaning=Meaning.PERFORMED, now=at(9),
        )  # fmt: skip


def test_a_tampered_report_is_not_signed(signed_report: bytes, signers: dict[str, Signer]) -> None:
    tampered = signed_report.replace(b"93.4", b"95.4", 1)
    with pytest.raises(SignatureError, match="refusing to sign a report that fails verification"):
        _sign(tampered, signers["analyst"], Meaning.REVIEWED, at(13))


def test_signing_before_the_last_signature_is_refused(signers: dict[str, Signer]) -> None:
    data = _sign(_draft(), signers["analyst"], Meaning.PERFORMED, at(10))
    with pytest.raises(SignatureError, match="before the last signature"):
        _sign(data, signers["reviewer"], Meaning.REVIEWED, at(9))


def test_overlong_comment_is_refused(signers: dict[str, Signer]) -> None:
    with pytest.raises(SignatureError, match="the comment has 501 characters; at most 500"):
        _sign(_draft(), signers["analyst"], Meaning.PERFORMED, at(9), comment="x" * 501)


def test_sign_and_verify_files(tmp_path: Path, signers: dict[str, Signer]) -> None:
    path = tmp_path / "coa.html"
    path.write_bytes(_draft())
    for who, meaning, hour in (
        ("analyst", Meaning.PERFORMED, 10),
        ("reviewer", Meaning.REVIEWED, 11),
        ("qa", Meaning.APPROVED, 12),
    ):
        entry = sign_report(path, private_key=signers[who].private_key,
                            signer=signers[who].entry, meaning=meaning, now=at(hour))  # fmt: skip
        assert entry.meaning == meaning
    # the registry named by its file or by its folder
    for trust in (signers["analyst"].registry_path, signers["analyst"].registry_path.parent):
        result = verify_report(path, trust=trust, now=VERIFY_AT)
        assert result.ok, result.failures()
        assert len(result.signatures) == 3
        assert result.to_dict()["signatures"][2]["signer"] == "Quinn Q. Approver"
        assert result.to_dict()["signatures"][2]["role"] == "qa-approver"


def test_signature_entries_chain(signed_report: bytes, registry: Any) -> None:
    from cytorelease.report.entry import entry_sha256

    entries = [c.entry for c in verify_bytes(signed_report, registry=registry).signatures]
    assert entries[0] is not None and entries[0].previous_signature is None
    for before, after in itertools.pairwise(entries):
        assert after is not None and before is not None
        assert after.previous_signature == entry_sha256(before)


def test_record_deep_copy_is_unchanged_by_rendering() -> None:
    record = example_record()
    before = copy.deepcopy(record)
    render_coa(record)
    assert record == before


def test_a_non_canonical_base64_spelling_of_the_signature_fails(
    signed_report: bytes, registry: Any
) -> None:
    """base64 has spare bits: a changed byte that decodes to the same signature must still fail."""
    import base64

    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    start = signed_report.rindex(b'"signature":"') + len(b'"signature":"')
    end = signed_report.index(b'"', start)
    value = signed_report[start:end]
    assert value.endswith(b"==")
    spare = alphabet[alphabet.index(value[-3]) ^ 0b1]  # flips an unused low bit
    twin = value[:-3] + bytes([spare]) + b"=="
    assert base64.b64decode(twin) == base64.b64decode(value)
    tampered = signed_report[:start] + twin + signed_report[end:]
    failures = _verify(tampered, registry)
    assert any("signature 3" in f and "not the canonical base64" in f for f in failures)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_flipping_any_byte_of_the_signature_area_fails(
    signed_report: bytes, registry: Registry, data: st.DataObject
) -> None:
    parts = split_report(signed_report)
    first = len(parts.prefix)
    last = len(signed_report) - len(parts.suffix) - 1
    position = data.draw(st.integers(first, last), label="position")
    tampered = bytearray(signed_report)
    tampered[position] ^= data.draw(st.integers(1, 255), label="xor")
    assert not verify_bytes(bytes(tampered), registry=registry, now=VERIFY_AT).ok


@pytest.mark.slow
def test_flipping_every_byte_fails(signed_report: bytes, registry: Registry) -> None:
    """Exhaustive over positions (one bit each); minutes, so marked slow."""
    survivors = []
    for position in range(len(signed_report)):
        tampered = bytearray(signed_report)
        tampered[position] ^= 0x01
        if verify_bytes(bytes(tampered), registry=registry, now=VERIFY_AT).ok:
            survivors.append(position)
    assert survivors == []
