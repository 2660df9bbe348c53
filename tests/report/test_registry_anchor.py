"""A registry cut short must not undo a revocation (found by attack, issue 14).

The attack: an analyst's key is revoked (a new registry version); the analyst signs with a copy
of registry.yaml whose last versions are cut off, so their key is active in it, and hands the
verifier that copy. Every version in it is genuine and chained and its genesis is the site's,
so `verify --trust cut.yaml --genesis G` passed. Now each signature signs the registry head it
was made under, and the audit trail's sign rows record theirs: a verifier holding a registry
without that head fails, naming the signature (or the trail's row).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SignatureError
from cytorelease.records.audit import read_log
from cytorelease.records.trail import open_trail
from cytorelease.report.entry import Meaning, SignatureEntry
from cytorelease.report.registry import REGISTRY_SCHEMA, Registry, load_registry
from cytorelease.report.registry_admin import register_key, revoke_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes, sign_with_key_file
from cytorelease.report.verify import verify_bytes, verify_report
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    example_record,
)

runner = CliRunner()


@dataclass
class Site:
    folder: Path
    analyst: Signer
    reviewer: Signer
    colleague: Signer  # another analyst, active throughout
    before_revocation: int  # how many versions the registry had before the analyst's revocation
    cut: Path  # a folder whose registry.yaml stops before the revocation
    data: Path


def _copy(registry: Registry, versions: int, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {"schema": REGISTRY_SCHEMA, "versions": list(registry.raw[:versions])}
    (folder / "registry.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    for name in ("CYTORELEASE_PASSPHRASE", "CYTORELEASE_DATA", "CYTORELEASE_TSA"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "keys"
    analyst = Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST)
    reviewer = Signer(folder, "Rémy Réviseur", "rreviewer", Role.REVIEWER)
    colleague = Signer(folder, "Carl Colleague", "ccolleague", Role.ANALYST)
    count = len(load_registry(folder).versions)
    revoke_key("aanalyst", reason="left the site", registry=folder,
               admin_key=admin_key(folder), now=at(9))  # fmt: skip
    cut = _copy(load_registry(folder), count, tmp_path / "cut")
    return Site(folder, analyst, reviewer, colleague, count, cut, tmp_path / "data")


def _report(folder: Path, name: str = "coa.html") -> Path:
    path = folder / name
    path.write_text(render_coa(example_record(), generated_at=RENDERED_AT))
    return path


def _sign(
    report: Path, signer: Signer, meaning: Meaning, registry: Path, hour: int, data: Path | None
) -> SignatureEntry:
    return sign_with_key_file(
        report, key_path=signer.key_path, passphrase=PASSPHRASE, meaning=meaning,
        registry=registry, now=at(hour), trail=open_trail(data) if data else None,
    )  # fmt: skip


def _lines(result: Any) -> list[str]:
    return list(result.failures())


def test_a_later_honest_signature_anchors_the_revocation(site: Site, tmp_path: Path) -> None:
    report = _report(tmp_path)
    # the revoked analyst signs with the cut copy, where their key is still active
    first = _sign(report, site.analyst, Meaning.PERFORMED, site.cut, 10, None)
    assert first.registry_anchor is not None
    assert first.registry_anchor[0] == site.before_revocation
    # an honest reviewer signs with the site's registry: its head holds the revocation
    second = _sign(report, site.reviewer, Meaning.REVIEWED, site.folder, 11, None)
    assert second.registry_anchor == (
        site.before_revocation + 1,
        load_registry(site.folder).head_sha256,
    )
    genesis = load_registry(site.folder).genesis_sha256
    cut = verify_report(report, trust=site.cut, genesis=genesis)
    assert not cut.ok
    assert _lines(cut) == [
        f"signature 2 (Rémy Réviseur, reviewed): the registry given ends at version "
        f"{site.before_revocation} but signature 2 was made under version "
        f"{site.before_revocation + 1}: a registry cut short"
    ]
    # the whole registry judges the analyst's signature at its time: revoked
    whole = verify_report(report, trust=site.folder, genesis=genesis)
    assert not whole.ok
    assert any("the key was revoked at" in line for line in _lines(whole)), _lines(whole)
    # the CLI: exit 1, the signature named; the JSON keeps its keys and adds the anchor
    shown = runner.invoke(app, ["verify", str(report), "--trust", str(site.cut), "--json"])
    assert shown.exit_code == 1
    assert "signature 2 was made under version" in shown.stderr
    document = json.loads(shown.stdout)
    assert document["signatures"][1]["registry_version"] == site.before_revocation + 1
    assert document["signatures"][1]["registry_sha256"] == second.registry_anchor[1]
    assert {"ok", "signatures", "failures", "registry", "trust_checked"} <= set(document)


def test_a_registry_grown_apart_after_the_cut_is_refused(site: Site, tmp_path: Path) -> None:
    """Cut, then a version appended in place of the revocation: as many versions as the
    anchor names, but not the version the signature was made under."""
    report = _report(tmp_path)
    _sign(report, site.colleague, Meaning.PERFORMED, site.folder, 10, None)  # anchors the head
    other = Signer(tmp_path / "other", "Otto Other", "oother", Role.ANALYST)
    register_key(other.public_path, roles=[Role.ANALYST], registry=site.cut,
                 admin_key=admin_key(site.folder), now=at(9),
                 identity_evidence="synthetic test identity oother")  # fmt: skip
    grown = load_registry(site.cut)
    assert len(grown.versions) == site.before_revocation + 1
    result = verify_report(report, trust=site.cut)
    assert _lines(result) == [
        f"signature 1 (Carl Colleague, performed): the registry given holds another version "
        f"{site.before_revocation + 1} (sha256 {grown.head_sha256[:16]}…) than the one "
        f"signature 1 was made under ({load_registry(site.folder).head_sha256[:16]}…): a "
        "registry rewritten or replaced"
    ]


def test_sign_refuses_a_registry_older_than_an_earlier_signature(
    site: Site, tmp_path: Path
) -> None:
    report = _report(tmp_path)
    newcomer = Signer(site.folder, "Nia Newcomer", "nnewcomer", Role.ANALYST, now=at(9))
    _sign(report, newcomer, Meaning.PERFORMED, site.folder, 10, None)
    before = report.read_bytes()
    with pytest.raises(SignatureError) as caught:
        _sign(report, site.reviewer, Meaning.REVIEWED, site.cut, 11, None)
    assert caught.value.problem == (
        f"the registry given ends at version {site.before_revocation} but signature 1 was "
        f"made under version {site.before_revocation + 2}: a registry cut short"
    )
    assert "sign with the site's current registry.yaml" in caught.value.one_line()
    assert report.read_bytes() == before
    _sign(report, site.reviewer, Meaning.REVIEWED, site.folder, 11, None)  # the control


def test_the_trail_anchors_the_registry_head_of_every_signing(site: Site, tmp_path: Path) -> None:
    """The revoked analyst's signature is the report's only one, so the report itself cannot
    tell; but someone signed another report at the site after the revocation."""
    other_report = _report(tmp_path, "other.html")
    _sign(other_report, site.colleague, Meaning.PERFORMED, site.folder, 10, site.data)
    report = _report(tmp_path)
    _sign(report, site.analyst, Meaning.PERFORMED, site.cut, 11, site.data)
    # without the trail the cut registry is believed (what the file alone cannot tell)
    assert verify_report(report, trust=site.cut).ok
    with_trail = verify_report(report, trust=site.cut, trail=open_trail(site.data))
    assert not with_trail.ok
    sign_rows = [row for row in read_log(site.data) if row.action == "sign"]
    assert [row.details["registry_version"] for row in sign_rows] == [
        site.before_revocation + 1,
        site.before_revocation,
    ]
    assert with_trail.failures() == [
        f"report: the registry given ends at version {site.before_revocation} but the audit "
        f"trail (row {sign_rows[0].sequence}) recorded a signing under version "
        f"{site.before_revocation + 1}: a registry cut short"
    ]
    assert with_trail.trail_registry_heads == 2
    # the verification failure is itself audited, naming the cut
    last = read_log(site.data)[-1]
    assert last.action == "verification-failed"
    assert any("a registry cut short" in line for line in last.details["failures"])
    shown = runner.invoke(app, ["verify", str(report), "--trust", str(site.cut),
                                "--data-dir", str(site.data), "--json"])  # fmt: skip
    assert shown.exit_code == 1
    assert json.loads(shown.stdout)["trail_registry_heads"] == 2
    # the site's registry holds every head the trail recorded (and fails the revoked key)
    whole = verify_report(report, trust=site.folder, trail=open_trail(site.data))
    assert not any("cut short" in line for line in whole.failures())
    assert any("the key was revoked at" in line for line in whole.failures())


def test_an_entry_without_an_anchor_still_verifies(site: Site, tmp_path: Path) -> None:
    """Entries signed before the anchor existed carry none: they verify as before (and prove
    nothing about the registry's length)."""
    data = render_coa(example_record(), generated_at=RENDERED_AT).encode()
    signed, entry = sign_bytes(
        data, private_key=site.colleague.private_key, signer=site.colleague.entry,
        meaning=Meaning.PERFORMED, now=at(10),
    )  # fmt: skip
    assert entry.registry_anchor is None
    assert "registry_version" not in entry.to_dict()
    assert b'"registry_version"' not in signed
    assert verify_bytes(signed, registry=load_registry(site.cut)).ok


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"registry_sha256": None}, "registry_version and registry_sha256 go together"),
        ({"registry_version": True}, "registry_version must be a version number"),
        ({"registry_version": 0}, "registry_version must be a version number"),
        ({"registry_sha256": "ABC"}, "registry_sha256 must be 64 lowercase hex digits"),
    ],
)
def test_a_malformed_anchor_is_refused(
    site: Site, tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    entry = _sign(_report(tmp_path), site.colleague, Meaning.PERFORMED, site.folder, 10, None)
    data = entry.to_dict()
    for name, value in change.items():
        if value is None:
            del data[name]
        else:
            data[name] = value
    with pytest.raises(ValueError, match=problem):
        SignatureEntry.from_dict(data)
    assert SignatureEntry.from_dict(entry.to_dict()) == entry
