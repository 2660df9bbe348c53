"""Ed25519 keys: encrypted at rest (11.200), the public registry, and their error messages."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import SignatureError
from cytorelease.report.keys import (
    SignerRole,
    generate_key,
    load_private_key,
    load_registry,
)
from tests.report.conftest import KEYS_FROM, PASSPHRASE


def _generate(folder: Path, user_id: str = "jdoe", **kwargs: object) -> object:
    options: dict[str, object] = {
        "signer": "Jane Doe",
        "user_id": user_id,
        "passphrase": PASSPHRASE,
        "out_dir": folder,
        "now": KEYS_FROM,
    }
    options.update(kwargs)
    return generate_key(**options)  # type: ignore[arg-type]


def test_generate_writes_an_encrypted_key_and_a_registry_entry(tmp_path: Path) -> None:
    made = _generate(tmp_path, role=SignerRole.QA, valid_days=30)
    pem = made.key_path.read_bytes()
    assert made.key_path == tmp_path / "jdoe.pem"
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert made.key_path.stat().st_mode & 0o077 == 0  # owner-only
    key = load_private_key(made.key_path, PASSPHRASE)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    registry = load_registry(tmp_path / "signers.yaml")
    (entry,) = registry.signers
    assert entry.name == "Jane Doe"
    assert entry.role is SignerRole.QA
    assert entry.fingerprint == hashlib.sha256(raw).hexdigest()
    assert base64.b64decode(entry.public_key) == raw
    assert entry.valid_from == KEYS_FROM
    assert entry.valid_until - entry.valid_from == timedelta(days=30)
    document = yaml.safe_load((tmp_path / "signers.yaml").read_text())
    assert document["schema"] == "cytorelease.signers/1"
    assert document["signers"][0]["valid_until"] == "2026-01-31T00:00:00Z"


def test_a_second_key_is_appended_to_the_registry(tmp_path: Path) -> None:
    _generate(tmp_path, "jdoe")
    _generate(tmp_path, "rroe", signer="Richard Roe")
    names = [s.user_id for s in load_registry(tmp_path / "signers.yaml").signers]
    assert names == ["jdoe", "rroe"]


def test_the_key_file_alone_does_not_unlock(tmp_path: Path) -> None:
    made = _generate(tmp_path)
    with pytest.raises(SignatureError) as caught:
        load_private_key(made.key_path, "not the passphrase")
    assert caught.value.one_line() == f"{made.key_path}: wrong passphrase for this key"
    with pytest.raises(SignatureError, match="a passphrase is required"):
        load_private_key(made.key_path, "")


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


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    made = _generate(tmp_path)
    before = made.key_path.read_bytes()
    with pytest.raises(SignatureError, match="refusing to overwrite"):
        _generate(tmp_path)
    assert made.key_path.read_bytes() == before


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"user_id": "../evil"}, "invalid signer: user_id"),
        ({"signer": "Jane\nDoe"}, "invalid signer: name"),
        ({"valid_days": 0}, "--valid-days must be at least 1"),
    ],
)
def test_invalid_signer_details_are_refused(
    tmp_path: Path, options: dict[str, object], problem: str
) -> None:
    with pytest.raises(SignatureError, match=problem):
        _generate(tmp_path, **options)


def test_registry_errors_name_field_and_line(tmp_path: Path) -> None:
    _generate(tmp_path)
    path = tmp_path / "signers.yaml"
    text = path.read_text().replace("role: analyst", "role: boss")
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "role: boss" in t)
    with pytest.raises(SignatureError, match=rf"line {line}: signers\[0\]\.role: Input should be"):
        load_registry(path)


def test_registry_that_is_not_yaml_or_absent(tmp_path: Path) -> None:
    path = tmp_path / "signers.yaml"
    path.write_text("signers: [unclosed\n")
    with pytest.raises(SignatureError, match="line 2: not valid YAML"):
        load_registry(path)
    with pytest.raises(SignatureError, match="no such signer registry"):
        load_registry(tmp_path / "absent.yaml")


def test_the_registry_can_live_apart_from_the_private_keys(tmp_path: Path) -> None:
    public = tmp_path / "public" / "signers.yaml"
    made = _generate(tmp_path / "private", registry_path=public)
    assert made.registry_path == public
    assert not (tmp_path / "private" / "signers.yaml").exists()
    assert load_registry(public).signers[0].user_id == "jdoe"
