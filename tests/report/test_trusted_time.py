"""Trusted time on signatures (issue 14 item 4) against real TSAs on 127.0.0.1
(scripts/tsa_server.py, as in test_tsa.py): the admin trusts the site TSA's certificate with
`keys add-tsa`; a signature made with CYTORELEASE_TSA set carries the TSA's token and verify
reports its time; a token from a TSA the registry does not trust, a signer clock more than five
minutes from the TSA's, and a registry that trusts no TSA certificate are each refused by sign
and, hand-forged, named by verify."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SignatureError
from cytorelease.records.audit import read_log
from cytorelease.records.trail import Trail, open_trail
from cytorelease.report.area import read_entries, render_area, split_report
from cytorelease.report.entry import Meaning, SignatureEntry, format_utc
from cytorelease.report.registry import REGISTRY_SCHEMA, load_registry
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes, sign_with_key_file
from cytorelease.report.tsa import TSA_ENV, request_timestamp, verify_timestamp
from cytorelease.report.verify import verify_bytes, verify_report
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    ADMIN,
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    passing_example_record,
)
from tests.report.test_tsa import Tsa, running_tsas
from tests.report.typed import run_typed

runner = CliRunner()


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tsa, Tsa]]:
    yield from running_tsas(tmp_path_factory)


@dataclass
class Site:
    folder: Path
    analyst: Signer
    reviewer: Signer
    report: Path
    tsa: Tsa
    other: Tsa

    @property
    def admin_key(self) -> Path:
        return self.folder / f"{ADMIN[1]}.pem"


def _add_tsa(site: Site, certificate: Path, admin_key: Path | None = None) -> Any:
    return runner.invoke(
        app,
        ["keys", "add-tsa", str(certificate), "--registry", str(site.folder), "--admin-key",
         str(admin_key or site.admin_key), "--json"],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip


@pytest.fixture
def untrusting(tsas: tuple[Tsa, Tsa], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """A registry (admin, analyst, reviewer) that trusts no TSA yet, and a passing draft."""
    for name in ("CYTORELEASE_PASSPHRASE", "CYTORELEASE_DATA", TSA_ENV):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "keys"
    analyst = Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST)
    reviewer = Signer(folder, "Rémy Réviseur", "rreviewer", Role.REVIEWER)
    report = tmp_path / "coa.html"
    report.write_text(render_coa(passing_example_record(), generated_at=RENDERED_AT))
    return Site(folder, analyst, reviewer, report, *tsas)


@pytest.fixture
def site(untrusting: Site) -> Site:
    """The same registry after the admin ran `keys add-tsa` with the site TSA's certificate."""
    added = _add_tsa(untrusting, untrusting.tsa.folder / "tsa.crt")
    assert added.exit_code == 0, added.stderr
    return untrusting


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _sign(
    site: Site, *, tsa: str | None = None, now: datetime | None = None, trail: Trail | None = None
) -> SignatureEntry:
    return sign_with_key_file(
        site.report, key_path=site.analyst.key_path, passphrase=PASSPHRASE,
        meaning=Meaning.PERFORMED, registry=site.folder, tsa=tsa, now=now, trail=trail,
    )  # fmt: skip


def _with_token(data: bytes, token: bytes | None) -> bytes:
    """The report with its last signature's trusted_time replaced (not a signed field)."""
    parts = split_report(data)
    entries = [SignatureEntry.from_dict(raw) for raw in read_entries(parts.area)]
    encoded = base64.b64encode(token).decode("ascii") if token is not None else None
    entries[-1] = dataclasses.replace(entries[-1], trusted_time=encoded)
    return parts.with_area(render_area(entries))


def test_the_admin_trusts_a_tsa_with_keys_add_tsa(untrusting: Site) -> None:
    site = untrusting
    certificate = site.tsa.folder / "tsa.crt"
    # a non-admin's key cannot add one
    refused = _add_tsa(site, certificate, site.analyst.key_path)
    assert refused.exit_code == 2
    assert "not an active admin's key" in refused.stderr
    assert load_registry(site.folder).head.tsa_certificates == ()
    added = _add_tsa(site, certificate)
    assert added.exit_code == 0, added.stderr
    document = json.loads(added.stdout)
    assert document["change"] == {"action": "add-tsa", "user_id": None, "detail": "CN=Site TSA"}
    registry = load_registry(site.folder)
    assert registry.head.signed_by == ADMIN[1]
    assert registry.tsa_certificates() == (certificate.read_bytes(),)
    again = _add_tsa(site, certificate)
    assert again.exit_code == 2
    assert "this TSA certificate is already trusted" in again.stderr
    # a certificate slipped into a version that is not an add-tsa change is refused at load
    raws = [dict(v) for v in registry.raw]
    raws[2] = {**raws[2], "tsa_certificates": [site.other.cert().decode("ascii")]}
    (site.folder / "registry.yaml").write_text(
        yaml.safe_dump({"schema": REGISTRY_SCHEMA, "versions": raws}, sort_keys=False)
    )
    with pytest.raises(SignatureError, match="version 3: the admin's signature does not verify"):
        load_registry(site.folder)


def test_a_signature_made_with_cytorelease_tsa_carries_trusted_time(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TSA_ENV, site.tsa.url)
    data = tmp_path / "data"
    before = _now()
    entry = _sign(site, trail=open_trail(data))
    assert entry.trusted_time is not None
    token = entry.token_bytes()
    assert token is not None
    stamped = verify_timestamp(
        token, hashlib.sha256(entry.signature_bytes()).digest(), site.tsa.cert()
    )
    assert before - timedelta(seconds=2) <= stamped <= _now() + timedelta(seconds=2)
    assert abs(stamped - datetime.fromisoformat(entry.utc_time)) <= timedelta(seconds=2)
    (row,) = [r for r in read_log(data) if r.action == "sign"]
    assert row.details["trusted_time"] is True
    # verify reports the TSA's time, library and CLI
    result = verify_report(site.report, trust=site.folder)
    assert result.ok, result.failures()
    assert result.signatures[0].trusted_time == format_utc(stamped)
    shown = runner.invoke(app, ["verify", str(site.report), "--trust", str(site.folder), "--json"])
    assert shown.exit_code == 0, shown.stderr
    (signature,) = json.loads(shown.stdout)["signatures"]
    assert signature["trusted_time"] == format_utc(stamped)
    text = runner.invoke(app, ["verify", str(site.report), "--trust", str(site.folder)])
    assert text.exit_code == 0, text.stderr
    assert "no trusted time" not in text.stdout
    # the reviewer signs through the CLI with the TSA from the environment
    signed = run_typed(
        ["sign", str(site.report), "--key", str(site.reviewer.key_path), "--meaning", "reviewed",
         "--registry", str(site.folder), "--json"],
        PASSPHRASE, env={TSA_ENV: site.tsa.url},
    )  # fmt: skip
    assert signed.exit_code == 0, signed.stderr
    assert json.loads(signed.stdout)["signature"]["trusted_time"]
    result = verify_report(site.report, trust=site.folder)
    assert result.ok, result.failures()
    assert all(check.trusted_time for check in result.signatures)


def test_where_the_registry_trusts_a_tsa_a_signature_without_its_time_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by attack: a revoked key signed with the clock set back and no token, and verify
    passed with the note 'no trusted time'. Where the registry in force trusts a TSA, a
    signature without trusted time is refused by sign and fails verify."""
    monkeypatch.delenv(TSA_ENV, raising=False)
    draft = site.report.read_bytes()
    with pytest.raises(SignatureError, match=r"CYTORELEASE_TSA .* is not set"):
        _sign(site)
    assert site.report.read_bytes() == draft
    _sign(site, tsa=site.tsa.url)
    stamped = site.report.read_bytes()
    assert verify_bytes(stamped, registry=load_registry(site.folder)).ok
    stripped = _with_token(stamped, None)  # the token is not under the signature
    result = verify_bytes(stripped, registry=load_registry(site.folder))
    assert any(
        "it carries no trusted time, but the registry in force" in f for f in result.failures()
    )


def test_a_token_from_an_untrusted_tsa_is_refused(site: Site) -> None:
    draft = site.report.read_bytes()
    with pytest.raises(
        SignatureError, match="the TSA's token does not verify with the registry's certificates"
    ):
        _sign(site, tsa=site.other.url)
    assert site.report.read_bytes() == draft
    # forged: a signature stamped by the site TSA, its token swapped for the other TSA's
    _sign(site, tsa=site.tsa.url)
    signed = site.report.read_bytes()
    registry = load_registry(site.folder)
    assert verify_bytes(signed, registry=registry).ok
    (entry,) = [SignatureEntry.from_dict(raw) for raw in read_entries(split_report(signed).area)]
    digest = hashlib.sha256(entry.signature_bytes()).digest()
    foreign = request_timestamp(digest, site.other.url).token
    result = verify_bytes(_with_token(signed, foreign), registry=registry)
    assert not result.ok
    assert result.signatures[0].trusted_time is None
    (problem,) = result.signatures[0].problems
    assert problem.startswith("its trusted-time token does not verify ("), problem
    # the site TSA's own token, but over another signature: moved from elsewhere
    moved = request_timestamp(hashlib.sha256(b"another signature").digest(), site.tsa.url).token
    result = verify_bytes(_with_token(signed, moved), registry=registry)
    assert result.signatures[0].trusted_time is None
    assert any("trusted-time token does not verify" in p for p in result.signatures[0].problems)


def test_a_signer_clock_more_than_five_minutes_off_is_refused(site: Site) -> None:
    draft = site.report.read_bytes()
    slow = _now() - timedelta(minutes=10)
    with pytest.raises(SignatureError, match="more than 5 minutes apart; check the system time"):
        _sign(site, tsa=site.tsa.url, now=slow)
    assert site.report.read_bytes() == draft
    # forged: the signer's clock set back, the signature stamped by the trusted TSA anyway
    analyst = site.analyst
    registry = load_registry(site.folder)
    backdated, entry = sign_bytes(draft, private_key=analyst.private_key, signer=analyst.entry,
                                  meaning=Meaning.PERFORMED, now=slow)  # fmt: skip
    token = request_timestamp(hashlib.sha256(entry.signature_bytes()).digest(), site.tsa.url)
    result = verify_bytes(_with_token(backdated, token.token), registry=registry)
    (problem,) = result.signatures[0].problems
    assert problem.startswith(f"it claims {entry.utc_time} but its trusted time is "), problem
    assert problem.endswith("(more than 5 minutes apart)")
    assert result.signatures[0].trusted_time is None
    # a clock two minutes slow is within the tolerance
    within = _sign(site, tsa=site.tsa.url, now=_now() - timedelta(minutes=2))
    assert within.trusted_time is not None
    assert verify_report(site.report, trust=site.folder).ok


def test_a_registry_without_a_tsa_certificate_does_not_trust_the_token(
    untrusting: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = untrusting
    monkeypatch.setenv(TSA_ENV, site.tsa.url)
    with pytest.raises(SignatureError) as caught:
        _sign(site)
    message = caught.value.one_line()
    assert "a TSA is configured but the registry trusts no TSA certificate" in message
    assert "`cytorelease keys add-tsa`" in message
    # the same keys, a registry that trusts the TSA: the signature gets its token
    before = load_registry(site.folder)
    assert _add_tsa(site, site.tsa.folder / "tsa.crt").exit_code == 0
    _sign(site)
    # verified against the registry as it stood before add-tsa, the token is not trusted
    (site.folder / "registry.yaml").write_text(
        yaml.safe_dump(
            {"schema": REGISTRY_SCHEMA, "versions": list(before.raw)},
            sort_keys=False,
            allow_unicode=True,
        )
    )
    result = verify_report(site.report, trust=site.folder)
    assert not result.ok
    assert result.signatures[0].trusted_time is None
    assert result.signatures[0].problems == [
        "it carries a trusted-time token but the registry trusts no TSA certificate",
        # the signature names the registry head it was made under: this one is cut short
        f"the registry given ends at version {len(before.versions)} but signature 1 was made "
        f"under version {len(before.versions) + 1}: a registry cut short",
    ]
    shown = runner.invoke(app, ["verify", str(site.report), "--trust", str(site.folder)])
    assert shown.exit_code == 1
    assert "registry trusts no TSA certificate" in shown.stderr
