"""The signed signer registry (issue 14 item 1) tried as someone would attack it: a hand-edited
registry.yaml that makes its editor QA (a new version they signed themselves, or a role edited
in place), a user id given to another person, a second active key, the legacy unsigned
signers.yaml, a revoked key signing on, history rewritten, a key's validity backdated. Each is
refused when the registry is loaded, and so by `sign` and `verify`; and the admin commands
`keys register`, `keys show` and `keys revoke` through the CLI."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SignatureError
from cytorelease.report.entry import Meaning, format_utc
from cytorelease.report.keys import (
    KeyPair,
    fingerprint,
    generate_key,
    load_private_key,
    raw_public,
)
from cytorelease.report.registry import (
    REGISTRY_SCHEMA,
    load_registry,
    signed_bytes,
    version_sha256,
)
from cytorelease.report.registry_admin import register_key, revoke_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes, sign_with_key_file
from cytorelease.report.verify import verify_bytes, verify_report
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    ADMIN,
    EVIDENCE,
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    passing_example_record,
)
from tests.report.typed import run_typed

runner = CliRunner()


@dataclass
class Site:
    folder: Path
    analyst: Signer
    reviewer: Signer

    @property
    def path(self) -> Path:
        return self.analyst.registry_path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A registry: v1 init (aadmin), v2 register aanalyst (analyst), v3 rreviewer (reviewer)."""
    folder = tmp_path / "keys"
    analyst = Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST)
    reviewer = Signer(folder, "Rémy Réviseur", "rreviewer", Role.REVIEWER)
    return Site(folder, analyst, reviewer)


def _raws(path: Path) -> list[dict[str, Any]]:
    return copy.deepcopy(list(load_registry(path).raw))


def _write(path: Path, raws: list[dict[str, Any]]) -> None:
    """Write versions as they are, without the checks the admin tool runs before writing."""
    document = {"schema": REGISTRY_SCHEMA, "versions": raws}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def _signed(raw: dict[str, Any], key: Ed25519PrivateKey, user_id: str) -> dict[str, Any]:
    raw = {k: v for k, v in raw.items() if k not in ("signature",)}
    raw.update(signed_by=user_id, signer_fingerprint=fingerprint(raw_public(key)))
    raw["signature"] = base64.b64encode(key.sign(signed_bytes(raw))).decode("ascii")
    return raw


def _entry(pair: KeyPair, roles: list[Role], valid_from: datetime) -> dict[str, Any]:
    return {
        "user_id": pair.public.user_id,
        "name": pair.public.name,
        "roles": [str(r) for r in roles],
        "fingerprint": pair.public.fingerprint,
        "public_key": pair.public.public_key,
        "valid_from": format_utc(valid_from),
        "valid_until": format_utc(valid_from + timedelta(days=365)),
        "status": "active",
        "revoked_at": None,
        "revoked_reason": None,
        "identity_evidence": EVIDENCE,
    }


def _next_version(
    raws: list[dict[str, Any]], created: datetime, change: dict[str, Any], added: dict[str, Any]
) -> dict[str, Any]:
    head = raws[-1]
    return {
        "version": len(raws) + 1,
        "format": 2,
        "created_at": format_utc(created),
        "previous_sha256": version_sha256(head),
        "change": {"user_id": None, "detail": None, **change},
        "entries": [*copy.deepcopy(head["entries"]), added],
        "tsa_certificates": list(head["tsa_certificates"]),
    }


def _mallory(folder: Path, name: str = "Mallory Mole", user_id: str = "mallory") -> KeyPair:
    return generate_key(signer=name, user_id=user_id, passphrase=PASSPHRASE, out_dir=folder)


def _draft(folder: Path) -> Path:
    report = folder / "coa.html"
    report.write_text(render_coa(passing_example_record(), generated_at=RENDERED_AT))
    return report


def _refused_everywhere(site: Site, tmp_path: Path, key_path: Path, match: str) -> None:
    """The edited registry is refused at load, by `sign` (library and CLI) and by `verify`."""
    with pytest.raises(SignatureError, match=match):
        load_registry(site.path)
    report = _draft(tmp_path)
    with pytest.raises(SignatureError, match=match):
        sign_with_key_file(
            report, key_path=key_path, passphrase=PASSPHRASE, meaning=Meaning.PERFORMED,
            registry=site.folder, now=at(10),
        )  # fmt: skip
    refused = run_typed(
        ["sign", str(report), "--key", str(key_path), "--meaning", "approved",
         "--registry", str(site.path)],
        PASSPHRASE,
    )  # fmt: skip
    assert refused.exit_code == 2
    assert match in refused.stderr, refused.stderr
    with pytest.raises(SignatureError, match=match):
        verify_report(report, trust=site.path)


def test_the_site_registry_loads_and_holds_what_the_admin_entered(site: Site) -> None:
    registry = load_registry(site.path)
    assert [v.change.action for v in registry.versions] == ["init", "register", "register"]
    assert [(e.user_id, e.roles) for e in registry.head.entries] == [
        ("aadmin", (Role.ADMIN,)),
        ("aanalyst", (Role.ANALYST,)),
        ("rreviewer", (Role.REVIEWER,)),
    ]
    assert {v.signed_by for v in registry.versions} == {ADMIN[1]}


def test_self_registering_as_qa_is_refused_at_load_and_at_sign(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_PASSPHRASE", raising=False)
    mallory = _mallory(tmp_path / "mallory")
    key = load_private_key(mallory.key_path, PASSPHRASE)
    original = _raws(site.path)
    added = _entry(mallory, [Role.QA_APPROVER], at(9))
    version = _next_version(original, at(9), {"action": "register", "user_id": "mallory"}, added)
    # signed with her own key: she is not in the registry at all
    _write(site.path, [*original, _signed(version, key, "mallory")])
    _refused_everywhere(
        site,
        tmp_path,
        mallory.key_path,
        "version 4: signed by mallory, who was not an active admin",
    )
    # signed by a registered analyst: registered, but no admin
    _write(site.path, [*original, _signed(version, site.analyst.private_key, "aanalyst")])
    _refused_everywhere(
        site,
        tmp_path,
        mallory.key_path,
        "version 4: signed by aanalyst, who was not an active admin",
    )
    # the admin tool itself refuses a non-admin's key
    _write(site.path, original)
    with pytest.raises(SignatureError, match="not an active admin's key"):
        register_key(
            mallory.public_path, roles=[Role.QA_APPROVER], registry=site.folder,
            admin_key=site.analyst.private_key, now=at(9), identity_evidence=EVIDENCE,
        )  # fmt: skip
    assert len(load_registry(site.path).versions) == 3


def test_a_version_naming_the_admin_but_signed_by_another_key_is_refused(
    site: Site, tmp_path: Path
) -> None:
    mallory = _mallory(tmp_path / "mallory")
    key = load_private_key(mallory.key_path, PASSPHRASE)
    original = _raws(site.path)
    added = _entry(mallory, [Role.QA_APPROVER], at(9))
    version = _next_version(original, at(9), {"action": "register", "user_id": "mallory"}, added)
    forged = _signed(version, key, ADMIN[1])  # claims aadmin, carries mallory's fingerprint
    _write(site.path, [*original, forged])
    with pytest.raises(SignatureError, match="version 4: signed by aadmin, who was not an active"):
        load_registry(site.path)
    # the admin's own fingerprint, but mallory's signature bytes
    forged = _signed(version, admin_key(site.folder), ADMIN[1])
    forged["signature"] = base64.b64encode(key.sign(signed_bytes(forged))).decode("ascii")
    _write(site.path, [*original, forged])
    with pytest.raises(SignatureError, match="version 4: the admin's signature does not verify"):
        load_registry(site.path)
    # control: the same version signed by the admin loads, and mallory is QA
    _write(site.path, [*original, _signed(version, admin_key(site.folder), ADMIN[1])])
    assert load_registry(site.path).head.active_entry("mallory") is not None


def test_a_role_edited_into_a_signed_version_is_refused(site: Site, tmp_path: Path) -> None:
    original = _raws(site.path)
    # the newest version: the reviewer made qa-approver in place
    edited = copy.deepcopy(original)
    edited[2]["entries"][2]["roles"] = ["qa-approver"]
    _write(site.path, edited)
    _refused_everywhere(
        site, tmp_path, site.reviewer.key_path, "version 3: the admin's signature does not verify"
    )
    # an older version: the analyst made qa-approver in every version that lists her
    edited = copy.deepcopy(original)
    for raw in edited[1:]:
        raw["entries"][1]["roles"] = ["analyst", "qa-approver"]
    _write(site.path, edited)
    with pytest.raises(SignatureError, match="version 2: the admin's signature does not verify"):
        load_registry(site.path)


def test_editing_an_old_version_breaks_the_chain_even_re_signed_by_the_admin(
    site: Site,
) -> None:
    before = load_registry(site.path)
    original = _raws(site.path)
    edited = copy.deepcopy(original)
    # the analyst made qa-approver in every version listing her, each re-signed by the admin,
    # but version 3 still names the hash version 2 had
    for index in (1, 2):
        edited[index]["entries"][1]["roles"] = ["qa-approver"]
        edited[index] = _signed(edited[index], admin_key(site.folder), ADMIN[1])
    _write(site.path, edited)
    with pytest.raises(
        SignatureError, match="version 3: previous_sha256 does not name version 2: the registry's"
    ):
        load_registry(site.path)
    # a version cut out of the middle breaks it too
    _write(site.path, [original[0], original[2]])
    with pytest.raises(SignatureError, match="version 2: numbered 3"):
        load_registry(site.path)
    # an admin re-chaining every later version makes a loadable file, but not the same one:
    # the head hash (which each signing audits as registry_head_sha256) changes
    for index in range(2, len(edited)):
        edited[index]["previous_sha256"] = version_sha256(edited[index - 1])
        edited[index] = _signed(edited[index], admin_key(site.folder), ADMIN[1])
    _write(site.path, edited)
    rewritten = load_registry(site.path)
    assert rewritten.genesis_sha256 == before.genesis_sha256
    assert rewritten.head_sha256 != before.head_sha256
    # and a rewritten first version changes the genesis hash the verifier pins
    for raw in edited:
        raw["entries"][0]["valid_until"] = "2099-01-01T00:00:00Z"
    edited[0] = _signed(edited[0], admin_key(site.folder), ADMIN[1])
    for index in range(1, len(edited)):
        edited[index]["previous_sha256"] = version_sha256(edited[index - 1])
        edited[index] = _signed(edited[index], admin_key(site.folder), ADMIN[1])
    _write(site.path, edited)
    regenerated = load_registry(site.path)
    assert regenerated.genesis_sha256 != before.genesis_sha256
    shown = runner.invoke(app, ["keys", "show", "--registry", str(site.path), "--json"])
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["registry"]["genesis_sha256"] == regenerated.genesis_sha256


def test_a_user_id_is_never_given_to_another_person(site: Site, tmp_path: Path) -> None:
    revoke_key("aanalyst", reason="left the company", registry=site.folder,
               admin_key=admin_key(site.folder), now=at(8))  # fmt: skip
    eve = _mallory(tmp_path / "eve", name="Eve Other", user_id="aanalyst")
    with pytest.raises(
        SignatureError,
        match="the user id aanalyst names both 'Ada Analyst' and 'Eve Other': a user id is never",
    ):
        register_key(eve.public_path, roles=[Role.QA_APPROVER], registry=site.folder,
                     admin_key=admin_key(site.folder), now=at(9), identity_evidence=EVIDENCE)  # fmt: skip
    assert len(load_registry(site.path).versions) == 4  # nothing written
    # hand-written and signed by the admin, the loader refuses it the same
    raws = _raws(site.path)
    added = _entry(eve, [Role.QA_APPROVER], at(9))
    version = _next_version(raws, at(9), {"action": "register", "user_id": "aanalyst"}, added)
    _write(site.path, [*raws, _signed(version, admin_key(site.folder), ADMIN[1])])
    with pytest.raises(SignatureError, match="version 5 \\(register\\): the user id aanalyst"):
        load_registry(site.path)
    # control: the same person's new key under her user id is a normal key rotation
    _write(site.path, raws)
    ada = _mallory(tmp_path / "ada", name="Ada Analyst", user_id="aanalyst")
    rotated = register_key(ada.public_path, roles=[Role.ANALYST], registry=site.folder,
                           admin_key=admin_key(site.folder), now=at(9), identity_evidence=EVIDENCE)  # fmt: skip
    assert rotated.head.active_entry("aanalyst").fingerprint == ada.public.fingerprint  # type: ignore[union-attr]


def test_a_person_has_one_active_key(site: Site, tmp_path: Path) -> None:
    second = _mallory(tmp_path / "second", name="Ada Analyst", user_id="aanalyst")
    with pytest.raises(SignatureError, match="aanalyst has two active keys"):
        register_key(second.public_path, roles=[Role.QA_APPROVER], registry=site.folder,
                     admin_key=admin_key(site.folder), now=at(9), identity_evidence=EVIDENCE)  # fmt: skip
    assert len(load_registry(site.path).versions) == 3
    raws = _raws(site.path)
    added = _entry(second, [Role.QA_APPROVER], at(9))
    version = _next_version(raws, at(9), {"action": "register", "user_id": "aanalyst"}, added)
    _write(site.path, [*raws, _signed(version, admin_key(site.folder), ADMIN[1])])
    with pytest.raises(SignatureError, match="version 4 \\(register\\): aanalyst has two active"):
        load_registry(site.path)
    _write(site.path, raws)
    # revoked first, the second key registers and the first stays listed, revoked
    revoke_key("aanalyst", reason="key rotation", registry=site.folder,
               admin_key=admin_key(site.folder), now=at(8))  # fmt: skip
    updated = register_key(second.public_path, roles=[Role.ANALYST], registry=site.folder,
                           admin_key=admin_key(site.folder), now=at(9), identity_evidence=EVIDENCE)  # fmt: skip
    statuses = [(e.status, e.fingerprint) for e in updated.head.entries if e.user_id == "aanalyst"]
    assert statuses == [
        ("revoked", site.analyst.entry.fingerprint),
        ("active", second.public.fingerprint),
    ]


def test_a_legacy_unsigned_signers_yaml_is_refused_with_what_to_do(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_PASSPHRASE", raising=False)
    legacy = tmp_path / "signers.yaml"
    entry = site.analyst.entry
    legacy.write_text(
        yaml.safe_dump(
            {
                "schema": "cytorelease.signers/1",
                "signers": [
                    {"name": entry.name, "user_id": entry.user_id, "role": "qa",
                     "fingerprint": entry.fingerprint, "public_key": entry.public_key,
                     "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}
                ],
            }
        )
    )  # fmt: skip
    with pytest.raises(SignatureError) as caught:
        load_registry(legacy)
    message = caught.value.one_line()
    assert "unsigned signers.yaml" in message and "no longer accepted" in message
    assert "`cytorelease keys init-registry`" in message
    assert "`cytorelease keys register`" in message
    report = _draft(tmp_path)
    signed = run_typed(
        ["sign", str(report), "--key", str(site.analyst.key_path), "--meaning", "approved",
         "--registry", str(legacy)],
        PASSPHRASE,
    )  # fmt: skip
    assert signed.exit_code == 2
    assert "no longer accepted" in signed.stderr and "keys init-registry" in signed.stderr
    assert "Signed" not in signed.stdout


def test_a_signature_after_revocation_fails_one_before_stays_valid(
    site: Site, tmp_path: Path
) -> None:
    draft = _draft(tmp_path).read_bytes()
    analyst, reviewer = site.analyst, site.reviewer
    performed, _ = sign_bytes(draft, private_key=analyst.private_key, signer=analyst.entry,
                              meaning=Meaning.PERFORMED, now=at(10))  # fmt: skip
    before, _ = sign_bytes(performed, private_key=reviewer.private_key, signer=reviewer.entry,
                           meaning=Meaning.REVIEWED, now=at(10, 15))  # fmt: skip
    registry = revoke_key("rreviewer", reason="key file lost", registry=site.folder,
                          admin_key=admin_key(site.folder), now=at(10, 30))  # fmt: skip
    # signed before the revocation: still valid, judged by the version in force then
    assert verify_bytes(before, registry=registry, now=at(18)).failures() == []
    # made after it with the key (the entry as it stood before): refused by verify
    after, _ = sign_bytes(performed, private_key=reviewer.private_key, signer=reviewer.entry,
                          meaning=Meaning.REVIEWED, now=at(11))  # fmt: skip
    failures = verify_bytes(after, registry=registry, now=at(18)).failures()
    assert failures == [
        "signature 2 (Rémy Réviseur, reviewed): the key was revoked at 2026-11-20T10:30:00Z "
        "(key file lost), before 2026-11-20T11:00:00Z"
    ]
    # and sign refuses the revoked key outright
    report = tmp_path / "coa.html"
    report.write_bytes(performed)
    with pytest.raises(
        SignatureError, match="the key of rreviewer was revoked at 2026-11-20T10:30"
    ):
        sign_with_key_file(report, key_path=reviewer.key_path, passphrase=PASSPHRASE,
                           meaning=Meaning.REVIEWED, registry=site.folder, now=at(11))  # fmt: skip
    assert report.read_bytes() == performed


def test_a_key_s_validity_cannot_be_backdated(site: Site, tmp_path: Path) -> None:
    mallory = _mallory(tmp_path / "mallory", name="Quinn Late", user_id="qlate")
    raws = _raws(site.path)
    # registered at 09:00, but valid from two days earlier: it could sign the past
    added = _entry(mallory, [Role.QA_APPROVER], at(9) - timedelta(days=2))
    version = _next_version(raws, at(9), {"action": "register", "user_id": "qlate"}, added)
    _write(site.path, [*raws, _signed(version, admin_key(site.folder), ADMIN[1])])
    with pytest.raises(
        SignatureError,
        match="qlate's key is valid from 2026-11-18T09:00:00Z, before it was registered "
        "\\(2026-11-20T09:00:00Z\\): a key's validity cannot be backdated",
    ):
        load_registry(site.path)
    # nor the version itself dated before the one it follows (here a revocation at 09:00)
    _write(site.path, raws)
    revoke_key("rreviewer", reason="left", registry=site.folder,
               admin_key=admin_key(site.folder), now=at(9))  # fmt: skip
    later = _raws(site.path)
    added = _entry(mallory, [Role.QA_APPROVER], at(8))
    version = _next_version(later, at(8), {"action": "register", "user_id": "qlate"}, added)
    _write(site.path, [*later, _signed(version, admin_key(site.folder), ADMIN[1])])
    with pytest.raises(
        SignatureError,
        match="version 5 \\(register\\): created 2026-11-20T08:00:00Z, before version 4",
    ):
        load_registry(site.path)
    # the admin tool refuses a clock before the registry's last change
    _write(site.path, later)
    with pytest.raises(SignatureError, match="before the registry's last change"):
        register_key(mallory.public_path, roles=[Role.QA_APPROVER], registry=site.folder,
                     admin_key=admin_key(site.folder), now=at(8), identity_evidence=EVIDENCE)  # fmt: skip
    _write(site.path, raws)
    # control: valid from its registration, it loads
    added = _entry(mallory, [Role.QA_APPROVER], at(9))
    version = _next_version(raws, at(9), {"action": "register", "user_id": "qlate"}, added)
    _write(site.path, [*raws, _signed(version, admin_key(site.folder), ADMIN[1])])
    assert load_registry(site.path).head.active_entry("qlate") is not None


def test_keys_register_show_revoke_on_the_cli(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CYTORELEASE_PASSPHRASE", raising=False)
    quinn = _mallory(tmp_path / "quinn", name="Quinn Q. Approver", user_id="qapprover")
    admin = str(site.folder / f"{ADMIN[1]}.pem")
    registered = runner.invoke(
        app,
        ["keys", "register", str(quinn.public_path), "--role", "qa-approver", "--registry",
         str(site.folder), "--admin-key", admin, "--valid-days", "30", "--json",
         "--identity-evidence", "badge 4411 checked in person by aadmin"],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert registered.exit_code == 0, registered.stderr
    document = json.loads(registered.stdout)
    assert document["version"] == 4
    assert document["change"] == {"action": "register", "user_id": "qapprover", "detail": None}
    (entry,) = [e for e in document["entries"] if e["user_id"] == "qapprover"]
    assert entry["roles"] == ["qa-approver"] and entry["status"] == "active"
    assert entry["fingerprint"] == quinn.public.fingerprint
    assert entry["identity_evidence"] == "badge 4411 checked in person by aadmin"
    # a non-admin's key cannot register anyone
    other = _mallory(tmp_path / "other", name="Otto Other", user_id="oother")
    refused = runner.invoke(
        app,
        ["keys", "register", str(other.public_path), "--role", "admin", "--registry",
         str(site.folder), "--admin-key", str(site.analyst.key_path), "--json",
         "--identity-evidence", "passport checked by aanalyst"],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "the admin key is not an active admin's key in this registry" in refused.stderr
    revoked = runner.invoke(
        app,
        ["keys", "revoke", "qapprover", "--reason", "left the site", "--registry",
         str(site.path), "--admin-key", admin, "--json"],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert revoked.exit_code == 0, revoked.stderr
    (entry,) = [e for e in json.loads(revoked.stdout)["entries"] if e["user_id"] == "qapprover"]
    assert entry["status"] == "revoked" and entry["revoked_reason"] == "left the site"
    shown = runner.invoke(app, ["keys", "show", "--registry", str(site.folder), "--json"])
    assert shown.exit_code == 0, shown.stderr
    listing = json.loads(shown.stdout)
    assert [(v["version"], v["action"], v["signed_by"]) for v in listing["versions"]] == [
        (1, "init", "aadmin"),
        (2, "register", "aadmin"),
        (3, "register", "aadmin"),
        (4, "register", "aadmin"),
        (5, "revoke", "aadmin"),
    ]
    assert listing["registry"]["head_sha256"] == load_registry(site.path).head_sha256
    assert [(e["user_id"], e["status"]) for e in listing["entries"]] == [
        ("aadmin", "active"),
        ("aanalyst", "active"),
        ("rreviewer", "active"),
        ("qapprover", "revoked"),
    ]
    # revoking again: nothing active to revoke
    again = runner.invoke(
        app,
        ["keys", "revoke", "qapprover", "--reason", "twice", "--registry", str(site.path),
         "--admin-key", admin],
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert again.exit_code == 2
    assert "qapprover has no active key to revoke" in again.stderr
