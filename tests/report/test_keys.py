"""Ed25519 keys: encrypted at rest (11.200), the public ``ID.pub`` an admin registers, the
signed registry that gives a key its roles, the lock-out after wrong passphrases, and their
error messages."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import SignatureError
from cytorelease.report.entry import Meaning
from cytorelease.report.keys import (
    KeyPair,
    WrongPassphrase,
    generate_key,
    load_private_key,
    load_public_key_file,
)
from cytorelease.report.registry import load_registry
from cytorelease.report.registry_admin import register_key, unlock_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_with_key_file
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    EVIDENCE,
    KEYS_FROM,
    PASSPHRASE,
    RENDERED_AT,
    Signer,
    admin_key,
    at,
    example_record,
    site_registry,
)


def _generate(folder: Path, user_id: str = "jdoe", **kwargs: Any) -> KeyPair:
    options: dict[str, Any] = {
        "signer": "Jane Doe",
        "user_id": user_id,
        "passphrase": PASSPHRASE,
        "out_dir": folder,
    }
    options.update(kwargs)
    return generate_key(**options)


def _register(pair: KeyPair, registry: Path, role: Role = Role.ANALYST, **kwargs: Any) -> Any:
    folder = registry.parent
    return register_key(
        pair.public_path, roles=[role], registry=registry, admin_key=admin_key(folder),
        now=KEYS_FROM, **{"identity_evidence": EVIDENCE, **kwargs},
    )  # fmt: skip


def test_generate_writes_an_encrypted_key_and_a_public_file(tmp_path: Path) -> None:
    made = _generate(tmp_path)
    pem = made.key_path.read_bytes()
    assert made.key_path == tmp_path / "jdoe.pem"
    assert made.public_path == tmp_path / "jdoe.pub"
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert made.key_path.stat().st_mode & 0o077 == 0  # owner-only
    key = load_private_key(made.key_path, PASSPHRASE)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = load_public_key_file(made.public_path)
    assert (public.name, public.user_id) == ("Jane Doe", "jdoe")
    assert public.fingerprint == hashlib.sha256(raw).hexdigest()
    assert base64.b64decode(public.public_key) == raw
    assert public == made.public
    document = yaml.safe_load(made.public_path.read_text())
    assert document["schema"] == "cytorelease.public-key/1"
    assert "BEGIN" not in made.public_path.read_text()  # no private material
    # generating gives a key no authority: there is no registry, signed or not
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jdoe.pem", "jdoe.pub"]


def test_registering_gives_the_key_its_role_and_validity(tmp_path: Path) -> None:
    registry = site_registry(tmp_path)
    made = _generate(tmp_path)
    _register(made, registry, Role.QA_APPROVER, valid_days=30)
    loaded = load_registry(registry)
    entry = loaded.head.active_entry("jdoe")
    assert entry is not None
    raw = base64.b64decode(made.public.public_key)
    assert entry.name == "Jane Doe"
    assert entry.roles == (Role.QA_APPROVER,)
    assert entry.fingerprint == hashlib.sha256(raw).hexdigest()
    assert base64.b64decode(entry.public_key) == raw
    assert entry.valid_from == "2026-01-01T00:00:00Z"
    assert entry.valid_until == "2026-01-31T00:00:00Z"
    assert entry.status == "active"
    document = yaml.safe_load(registry.read_text())
    assert document["schema"] == "cytorelease.registry/1"
    (head_entry,) = [e for e in document["versions"][-1]["entries"] if e["user_id"] == "jdoe"]
    assert head_entry["valid_until"] == "2026-01-31T00:00:00Z"
    assert head_entry["roles"] == ["qa-approver"]
    # signed by the admin, naming the version before it
    assert document["versions"][-1]["signed_by"] == "aadmin"
    assert document["versions"][-1]["change"]["action"] == "register"


def test_a_second_key_is_appended_as_a_new_signed_version(tmp_path: Path) -> None:
    registry = site_registry(tmp_path)
    _register(_generate(tmp_path, "jdoe"), registry)
    first_two = yaml.safe_load(registry.read_text())["versions"]
    _register(_generate(tmp_path, "rroe", signer="Richard Roe"), registry, Role.REVIEWER)
    loaded = load_registry(registry)
    assert [e.user_id for e in loaded.head.entries] == ["aadmin", "jdoe", "rroe"]
    assert [v.change.action for v in loaded.versions] == ["init", "register", "register"]
    # append-only: the earlier versions are carried over unchanged
    assert yaml.safe_load(registry.read_text())["versions"][:2] == first_two
    assert loaded.versions[1].entry(loaded.head.entries[1].fingerprint) is not None
    assert loaded.versions[1].active_entry("rroe") is None


def test_the_key_file_alone_does_not_unlock(tmp_path: Path) -> None:
    made = _generate(tmp_path)
    with pytest.raises(WrongPassphrase) as caught:
        load_private_key(made.key_path, "not the passphrase")
    assert isinstance(caught.value, SignatureError)
    assert caught.value.one_line() == f"{made.key_path}: wrong passphrase for this key"
    with pytest.raises(SignatureError, match="a passphrase is required"):
        load_private_key(made.key_path, "")


def _draft(folder: Path) -> Path:
    report = folder / "coa.html"
    report.write_bytes(render_coa(example_record(), generated_at=RENDERED_AT).encode("utf-8"))
    return report


def test_five_wrong_passphrases_lock_the_key_until_an_admin_unlocks_it(tmp_path: Path) -> None:
    ada = Signer(tmp_path / "keys", "Ada Analyst", "aanalyst", Role.ANALYST)
    report = _draft(tmp_path)
    draft = report.read_bytes()

    def sign(passphrase: str) -> Any:
        return sign_with_key_file(
            report, key_path=ada.key_path, passphrase=passphrase, meaning=Meaning.PERFORMED,
            registry=ada.registry_path, now=at(10),
        )  # fmt: skip

    # a correct passphrase resets the count: four wrong, one right, four wrong: still unlocked
    for attempt in range(1, 5):
        with pytest.raises(SignatureError, match=rf"wrong passphrase .*\({attempt} in a row"):
            sign("not the passphrase")
    before_unlock = load_registry(ada.registry_path)  # failures do not touch the registry
    report.write_bytes(draft)
    assert sign(PASSPHRASE).user_id == "aanalyst"
    report.write_bytes(draft)
    for attempt in range(1, 5):
        with pytest.raises(SignatureError, match=rf"\({attempt} in a row; {5 - attempt} more"):
            sign("not the passphrase")
    with pytest.raises(SignatureError, match=r"\(5 in a row; the key is now locked\)"):
        sign("not the passphrase")
    # locked: even the right passphrase is refused, and the report is not signed
    with pytest.raises(SignatureError) as caught:
        sign(PASSPHRASE)
    assert "the key of aanalyst is locked after 5 wrong passphrases in a row" in str(caught.value)
    assert "keys unlock aanalyst" in caught.value.one_line()
    assert report.read_bytes() == draft
    # a copy of the key file under another name is the same key: still locked
    copy = tmp_path / "copy.pem"
    copy.write_bytes(ada.key_path.read_bytes())
    with pytest.raises(SignatureError, match="is locked after 5 wrong passphrases"):
        sign_with_key_file(
            report, key_path=copy, passphrase=PASSPHRASE, meaning=Meaning.PERFORMED,
            registry=ada.registry_path, now=at(10),
        )  # fmt: skip
    # the unlock is a signed registry version, and the key signs again
    unlocked = unlock_key(
        "aanalyst", registry=ada.registry_path, admin_key=admin_key(ada.registry_path.parent),
        now=at(9),
    )  # fmt: skip
    assert len(unlocked.versions) == len(before_unlock.versions) + 1
    assert unlocked.head.change.action == "unlock"
    assert unlocked.head.change.user_id == "aanalyst"
    assert sign(PASSPHRASE).meaning == "performed"


def test_a_generated_key_signs_nothing_until_registered(tmp_path: Path) -> None:
    registry = site_registry(tmp_path / "keys")
    made = _generate(tmp_path / "mine")
    report = _draft(tmp_path)
    with pytest.raises(SignatureError, match="is not registered in this registry"):
        sign_with_key_file(
            report, key_path=made.key_path, passphrase=PASSPHRASE, meaning=Meaning.PERFORMED,
            registry=registry, now=at(10),
        )  # fmt: skip


def test_an_unencrypted_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SignatureError, match="not protected by a passphrase; refusing it"):
        load_private_key(path, PASSPHRASE)


def test_a_non_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.pem"
    path.write_text("hello")
    with pytest.raises(SignatureError, match="not a PEM-encoded private key"):
        load_private_key(path, PASSPHRASE)
    with pytest.raises(SignatureError, match="no such key file"):
        load_private_key(tmp_path / "absent.pem", PASSPHRASE)


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="the passphrase has 5 characters; at least 8"):
        _generate(tmp_path, passphrase="short")
    assert not (tmp_path / "jdoe.pem").exists()
    assert not (tmp_path / "jdoe.pub").exists()


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    made = _generate(tmp_path)
    before = made.key_path.read_bytes(), made.public_path.read_bytes()
    with pytest.raises(SignatureError, match="refusing to overwrite"):
        _generate(tmp_path)
    assert (made.key_path.read_bytes(), made.public_path.read_bytes()) == before
    # the public file alone also blocks a new key under that name
    made.key_path.unlink()
    with pytest.raises(SignatureError, match="refusing to overwrite") as caught:
        _generate(tmp_path)
    assert caught.value.path == str(made.public_path)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"user_id": "../evil"}, "invalid signer: user_id"),
        ({"signer": "Jane\nDoe"}, "invalid signer: name"),
        ({"signer": " Jane Doe"}, "invalid signer: name"),
    ],
)
def test_invalid_signer_details_are_refused(
    tmp_path: Path, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SignatureError, match=problem):
        _generate(tmp_path, **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("days", [0, -5])
def test_a_registration_needs_a_validity_of_a_day_or_more(tmp_path: Path, days: int) -> None:
    registry = site_registry(tmp_path)
    before = registry.read_bytes()
    with pytest.raises(SignatureError, match=f"--valid-days must be at least 1, not {days}"):
        _register(_generate(tmp_path), registry, valid_days=days)
    assert registry.read_bytes() == before


def test_a_registration_needs_a_role_and_an_admin(tmp_path: Path) -> None:
    registry = site_registry(tmp_path)
    made = _generate(tmp_path)
    with pytest.raises(SignatureError, match="name at least one --role"):
        register_key(
            made.public_path, roles=[], registry=registry, admin_key=admin_key(tmp_path),
            now=KEYS_FROM, identity_evidence=EVIDENCE,
        )  # fmt: skip
    # a registered analyst cannot register anyone (only an admin's key changes the registry)
    analyst = Signer(tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST)
    with pytest.raises(SignatureError, match="not an active admin's key in this registry"):
        register_key(
            made.public_path, roles=[Role.QA_APPROVER], registry=registry,
            admin_key=analyst.private_key, now=KEYS_FROM, identity_evidence=EVIDENCE,
        )  # fmt: skip
    assert load_registry(registry).head.active_entry("jdoe") is None


def test_a_hand_edited_registry_is_refused_naming_version_and_field(tmp_path: Path) -> None:
    registry = site_registry(tmp_path)
    _register(_generate(tmp_path), registry)
    text = registry.read_text()
    assert text.count("- analyst\n") == 1
    # a role the registry does not know
    edited = text.replace("- analyst\n", "- boss\n")
    registry.write_text(edited)
    line = (
        edited.splitlines().index(next(x for x in edited.splitlines() if x.endswith("- boss"))) + 1
    )
    with pytest.raises(
        SignatureError,
        match=rf"version 2: entries\[1\]\.roles\[0\] \(line {line}\): Input should be",
    ):
        load_registry(registry)
    # a real role, promoted by hand: the admin's signature no longer verifies
    registry.write_text(text.replace("- analyst\n", "- qa-approver\n"))
    with pytest.raises(SignatureError) as caught:
        load_registry(registry)
    assert caught.value.problem == (
        "version 2: the admin's signature does not verify: the version was edited after it "
        "was signed"
    )
    registry.write_text(text)
    assert load_registry(registry).head.active_entry("jdoe") is not None


def test_the_old_unsigned_signers_yaml_is_refused_by_name(tmp_path: Path) -> None:
    """Anyone could add themselves, with any role, to an unsigned signers.yaml."""
    path = tmp_path / "signers.yaml"
    made = _generate(tmp_path)
    path.write_text(
        yaml.safe_dump(
            {
                "schema": "cytorelease.signers/1",
                "signers": [
                    {"name": "Jane Doe", "user_id": "jdoe", "role": "qa",
                     "public_key": made.public.public_key, "fingerprint": made.public.fingerprint,
                     "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}
                ],
            }
        )
    )  # fmt: skip
    with pytest.raises(SignatureError) as caught:
        load_registry(path)
    assert "an unsigned signers.yaml is not a registry anyone can rely on" in caught.value.problem
    assert "cytorelease keys init-registry" in caught.value.one_line()
    # nor can it be used to sign
    with pytest.raises(SignatureError, match=r"an unsigned signers\.yaml is not a registry"):
        sign_with_key_file(
            _draft(tmp_path), key_path=made.key_path, passphrase=PASSPHRASE,
            meaning=Meaning.PERFORMED, registry=path, now=at(10),
        )  # fmt: skip


def test_registry_that_is_not_yaml_or_absent(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("versions: [unclosed\n")
    with pytest.raises(SignatureError, match="line 2: not valid YAML"):
        load_registry(path)
    with pytest.raises(SignatureError, match="no such signer registry"):
        load_registry(tmp_path / "absent.yaml")
    path.write_text("schema: cytorelease.registry/1\nversions: []\n")
    with pytest.raises(SignatureError, match="a registry has at least one version"):
        load_registry(path)


def test_the_registry_can_live_apart_from_the_private_keys(tmp_path: Path) -> None:
    public = site_registry(tmp_path / "public")
    made = _generate(tmp_path / "private")
    _register(made, public)
    assert not (tmp_path / "private" / "registry.yaml").exists()
    assert not (tmp_path / "public" / "jdoe.pem").exists()
    # the folder or the file names the registry
    assert load_registry(tmp_path / "public").head.active_entry("jdoe") is not None
    entry = sign_with_key_file(
        _draft(tmp_path), key_path=made.key_path, passphrase=PASSPHRASE,
        meaning=Meaning.PERFORMED, registry=tmp_path / "public", now=at(10),
    )  # fmt: skip
    assert (entry.user_id, entry.role) == ("jdoe", "analyst")
