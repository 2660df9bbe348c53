"""The reported backdating attack (issue 14): a signer's clock set back into an expired key's
validity, or a signature dated before its record was created.

Offline, what can be checked is that no signature predates the result record's ``created_at``
(which the release writes when it evaluates the lot) and that the signed registry held the key,
valid, at the signature's time. With a time-stamping authority the signature's moment is the
TSA's, not the signer's clock; and the registry itself refuses a key whose validity starts
before the version that registers it.
"""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from cytorelease.errors import SignatureError
from cytorelease.report import sign as sign_module
from cytorelease.report import trust as trust_module
from cytorelease.report.entry import Meaning, format_utc
from cytorelease.report.keys import generate_key
from cytorelease.report.registry import load_registry, signed_bytes, version_sha256
from cytorelease.report.registry_admin import add_tsa_certificate, register_key
from cytorelease.report.render import render_coa, stamp_rendering
from cytorelease.report.sign import sign_bytes
from cytorelease.report.verify import verify_bytes
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    evidence_text,
    site_registry,
    unstamped_record,
)

SERVER = Path(__file__).resolve().parents[2] / "scripts" / "tsa_server.py"


def _draft_created_at(created_at: str | None) -> bytes:
    record: dict[str, Any] = unstamped_record()
    if created_at is not None:
        record["created_at"] = created_at  # as lot/record.py writes it
    stamped = stamp_rendering(record, generated_at=RENDERED_AT)
    return render_coa(stamped, generated_at=RENDERED_AT).encode("utf-8")


def test_sign_refuses_a_clock_before_the_record(signers: dict[str, Signer]) -> None:
    draft = _draft_created_at("2026-11-20T10:30:00Z")
    analyst = signers["analyst"]
    with pytest.raises(SignatureError, match="before the result record was created"):
        sign_bytes(
            draft, private_key=analyst.private_key, signer=analyst.entry,
            meaning=Meaning.PERFORMED, now=at(10),
        )  # fmt: skip
    signed, _ = sign_bytes(
        draft, private_key=analyst.private_key, signer=analyst.entry,
        meaning=Meaning.PERFORMED, now=at(11),
    )  # fmt: skip
    registry = load_registry(analyst.registry_path)
    assert verify_bytes(signed, registry=registry, now=at(23)).failures() == []


def test_verify_names_a_backdated_signature(
    signers: dict[str, Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attacker's own signer: the library's created_at check removed, the clock set back.
    monkeypatch.setattr(sign_module, "record_created_at", lambda record: None)
    draft = _draft_created_at("2026-11-20T10:30:00Z")
    analyst = signers["analyst"]
    forged, _ = sign_bytes(
        draft, private_key=analyst.private_key, signer=analyst.entry,
        meaning=Meaning.PERFORMED, now=at(10),
    )  # fmt: skip
    registry = load_registry(analyst.registry_path)
    failures = verify_bytes(forged, registry=registry, now=at(23)).failures()
    assert any("before the result record was created" in f and "backdated" in f for f in failures)


def test_an_expired_key_cannot_be_set_back_into_validity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack as reported: a key that expired long before the lot was evaluated."""
    expired = Signer(tmp_path, "Eve Expired", "eexpired", Role.ANALYST, valid_days=30)
    assert expired.entry.valid_until == "2026-01-31T00:00:00Z"
    draft = _draft_created_at("2026-11-20T10:30:00Z")

    def sign(moment: datetime) -> bytes:
        signed, _ = sign_bytes(
            draft, private_key=expired.private_key, signer=expired.entry,
            meaning=Meaning.PERFORMED, now=moment,
        )  # fmt: skip
        return signed

    with pytest.raises(SignatureError, match="is valid from 2026-01-01T00:00:00Z to 2026-01-31"):
        sign(at(11))  # the true time: the key has expired
    set_back = datetime(2026, 1, 15, 12, tzinfo=UTC)  # inside the key's validity
    with pytest.raises(SignatureError, match="before the result record was created"):
        sign(set_back)
    # Forged past sign's check: the registry held the key, valid, at the claimed time, so only
    # the record's creation time gives the signature away.
    monkeypatch.setattr(sign_module, "record_created_at", lambda record: None)
    forged = sign(set_back)
    failures = verify_bytes(forged, registry=expired.registry, now=at(23)).failures()
    assert failures == [
        "signature 1 (Eve Expired, performed): it is dated 2026-01-15T12:00:00Z, before the "
        "result record was created (2026-11-20T10:30:00Z): backdated"
    ]


def test_a_signature_from_before_its_key_was_registered_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key registered at 09:00 cannot have signed at 08:00, whatever the signer's clock says."""
    site_registry(tmp_path)
    late = Signer(tmp_path, "Lee Late", "llate", Role.ANALYST, now=at(9))
    assert late.entry.valid_from == "2026-11-20T09:00:00Z"
    draft = _draft_created_at(None)  # an older record: no created_at to compare with
    with pytest.raises(SignatureError, match="is valid from 2026-11-20T09:00:00Z"):
        sign_bytes(
            draft, private_key=late.private_key, signer=late.entry,
            meaning=Meaning.PERFORMED, now=at(8),
        )  # fmt: skip
    # a forger's signer that pretends the key was valid earlier
    pretended = late.entry.model_copy(update={"valid_from": "2026-11-01T00:00:00Z"})
    forged, _ = sign_bytes(
        draft, private_key=late.private_key, signer=pretended,
        meaning=Meaning.PERFORMED, now=at(8),
    )  # fmt: skip
    (failure,) = verify_bytes(forged, registry=late.registry, now=at(23)).failures()
    assert failure.startswith("signature 1 (Lee Late, performed): key ")
    assert "was not in the registry in force at 2026-11-20T08:00:00Z (version 1)" in failure
    assert "it was registered later, for llate" in failure


def _registered_by_hand(folder: Path, valid_from: str, created_at: str) -> Path:
    """``folder``'s registry with a version 2 written and signed by its admin, not by the tool:
    it registers ``jdoe`` at ``created_at`` with a key valid from ``valid_from``."""
    path = site_registry(folder)
    pair = generate_key(signer="Jane Doe", user_id="jdoe", passphrase=PASSPHRASE, out_dir=folder)
    document = yaml.safe_load(path.read_text())
    (first,) = document["versions"]
    admin = admin_key(folder)
    version: dict[str, Any] = {
        "version": 2,
        "format": 2,
        "created_at": created_at,
        "previous_sha256": version_sha256(first),
        "change": {"action": "register", "user_id": "jdoe", "detail": None},
        "entries": [
            *copy.deepcopy(first["entries"]),
            {
                "user_id": "jdoe", "name": "Jane Doe", "roles": ["analyst"],
                "fingerprint": pair.public.fingerprint, "public_key": pair.public.public_key,
                "valid_from": valid_from, "valid_until": "2027-11-20T09:00:00Z",
                "status": "active", "revoked_at": None, "revoked_reason": None,
                "identity_evidence": "synthetic: badge checked in person by aadmin",
            },
        ],
        "tsa_certificates": [],
        "signed_by": first["signed_by"],
        "signer_fingerprint": first["signer_fingerprint"],
    }  # fmt: skip
    version["signature"] = base64.b64encode(admin.sign(signed_bytes(version))).decode()
    document["versions"].append(version)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


def test_the_registry_refuses_a_key_validity_backdated_before_its_registration(
    tmp_path: Path,
) -> None:
    # valid from when it was registered: the hand-made version is accepted
    honest = _registered_by_hand(
        tmp_path / "honest", "2026-11-20T09:00:00Z", "2026-11-20T09:00:00Z"
    )
    entry = load_registry(honest).head.active_entry("jdoe")
    assert entry is not None and entry.valid_from == "2026-11-20T09:00:00Z"
    # the same, signed by the admin, but valid from three weeks earlier
    backdated = _registered_by_hand(
        tmp_path / "backdated", "2026-11-01T00:00:00Z", "2026-11-20T09:00:00Z"
    )
    with pytest.raises(SignatureError) as caught:
        load_registry(backdated)
    assert caught.value.problem == (
        "version 2 (register): jdoe's key is valid from 2026-11-01T00:00:00Z, before it was "
        "registered (2026-11-20T09:00:00Z): a key's validity cannot be backdated"
    )
    # nor dated back before the registry existed (its admin was not valid then to sign it)
    before_init = _registered_by_hand(
        tmp_path / "before-init", "2025-12-01T00:00:00Z", "2025-12-01T00:00:00Z"
    )
    with pytest.raises(SignatureError, match="version 2: signed by aadmin, who was not an active"):
        load_registry(before_init)


def test_the_admin_tool_refuses_a_clock_before_the_registry_s_last_change(
    tmp_path: Path,
) -> None:
    Signer(tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST, now=at(9))
    pair = generate_key(signer="Jane Doe", user_id="jdoe", passphrase=PASSPHRASE, out_dir=tmp_path)
    before = (tmp_path / "registry.yaml").read_bytes()
    with pytest.raises(SignatureError, match="before the registry's last change"):
        register_key(
            pair.public_path, roles=[Role.ANALYST], registry=tmp_path,
            admin_key=admin_key(tmp_path), now=at(8), identity_evidence=evidence_text("jdoe"),
        )  # fmt: skip
    assert (tmp_path / "registry.yaml").read_bytes() == before


class _Tsa:
    """scripts/tsa_server.py on 127.0.0.1 (openssl ts -reply; times from the real clock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), str(folder), "--name", "Site TSA"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("READY "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Tsa]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (the test TSA runs openssl ts -reply)")
    server = _Tsa(tmp_path_factory.mktemp("tsa"))
    try:
        yield server
    finally:
        server.stop()


def test_with_trusted_time_the_signer_s_clock_cannot_be_set_back(
    tsa: _Tsa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record without created_at, and a key that expired five days ago: setting the clock
    back into its validity is caught by the TSA's time, at signing and at verification."""
    now = datetime.now(UTC).replace(microsecond=0)
    registered = now - timedelta(days=10)
    site_registry(tmp_path, now=registered)
    add_tsa_certificate(
        (tsa.folder / "tsa.crt").read_bytes(), registry=tmp_path,
        admin_key=admin_key(tmp_path), now=registered,
    )  # fmt: skip
    expired = Signer(
        tmp_path, "Eve Expired", "eexpired", Role.ANALYST, now=registered, valid_days=5
    )
    registry = expired.registry
    draft = _draft_created_at(None)
    set_back = now - timedelta(days=8)

    def sign(moment: datetime) -> bytes:
        signed, _ = sign_bytes(
            draft, private_key=expired.private_key, signer=expired.entry,
            meaning=Meaning.PERFORMED, now=moment, registry=registry, tsa=tsa.url,
        )  # fmt: skip
        return signed

    with pytest.raises(SignatureError, match=r"is valid from .* not at"):
        sign(now)
    with pytest.raises(SignatureError, match=r"but the TSA says .*more than 5 minutes apart"):
        sign(set_back)
    # A forger's signer that keeps the TSA's token whatever its time: verify compares the
    # claimed time with the token's and refuses the signature.
    monkeypatch.setattr(trust_module, "MAX_TIME_DIFFERENCE", timedelta(days=365))
    forged = sign(set_back)
    monkeypatch.undo()
    failures = verify_bytes(forged, registry=registry).failures()
    assert len(failures) == 1, failures
    assert failures[0].startswith(
        f"signature 1 (Eve Expired, performed): it claims {format_utc(set_back)} but its "
        "trusted time is "
    )
    assert "(more than 5 minutes apart)" in failures[0]
    # The same key signing honestly inside its validity, stamped: verifies with trusted time.
    honest = Signer(
        tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST, now=now - timedelta(minutes=1)
    )
    signed, entry = sign_bytes(
        draft, private_key=honest.private_key, signer=honest.entry,
        meaning=Meaning.PERFORMED, registry=honest.registry, tsa=tsa.url,
    )  # fmt: skip
    assert entry.trusted_time is not None
    result = verify_bytes(signed, registry=honest.registry)
    assert result.failures() == []
    assert result.signatures[0].trusted_time is not None
