"""Ed25519 signing keys: the encrypted private half and the public ``ID.pub`` an admin registers.

A private key is stored only as encrypted PKCS#8 PEM, so the file alone cannot sign: the
passphrase is the second component 21 CFR 11.200 asks for. Who may sign with a key is not
decided here but by the signed registry (:mod:`cytorelease.report.registry`), into which an
admin enters the ``ID.pub`` file after checking its fingerprint with the holder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import SignatureError

__all__ = [
    "PUBLIC_KEY_SCHEMA",
    "USER_ID_PATTERN",
    "KeyPair",
    "PublicKeyFile",
    "WrongPassphrase",
    "atomic_write",
    "fingerprint",
    "generate_key",
    "load_private_key",
    "load_public_key_file",
    "raw_public",
]

PUBLIC_KEY_SCHEMA: Final = "cytorelease.public-key/1"
MIN_PASSPHRASE_LENGTH = 8
USER_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_USER_ID = re.compile(USER_ID_PATTERN)
_NAME_MAX = 200
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_ENCRYPTED_PEM_END = b"-----END ENCRYPTED PRIVATE KEY-----"


class WrongPassphrase(SignatureError):
    """The passphrase does not decrypt the key (counted towards the lock-out)."""


@dataclass(frozen=True, slots=True)
class PublicKeyFile:
    """What ``ID.pub`` says: who generated the key, and its public half."""

    name: str
    user_id: str
    public_key: str  # base64 of the 32 raw bytes
    fingerprint: str

    def to_yaml(self) -> str:
        document = {
            "schema": PUBLIC_KEY_SCHEMA,
            "name": self.name,
            "user_id": self.user_id,
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
        }
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True, slots=True)
class KeyPair:
    key_path: Path
    public_path: Path
    public: PublicKeyFile


def fingerprint(public_key_raw: bytes) -> str:
    """The key fingerprint: sha256 (hex) of the 32 raw Ed25519 public-key bytes."""
    return hashlib.sha256(public_key_raw).hexdigest()


def raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_identity(name: str, user_id: str, *, path: Path | None) -> None:
    """A printed name is one line; a user id is a short plain token (it names files)."""
    if not _USER_ID.match(user_id):
        raise SignatureError(
            "invalid signer: user_id: letters, digits and . _ @ - only (at most 64), starting "
            "alphanumeric",
            path=path,
        )
    if not name or "\n" in name or "\r" in name or name != name.strip() or len(name) > _NAME_MAX:
        raise SignatureError(
            "invalid signer: name: a printed name is one line without leading or trailing "
            f"spaces, at most {_NAME_MAX} characters",
            path=path,
        )


def generate_key(*, signer: str, user_id: str, passphrase: str, out_dir: str | Path) -> KeyPair:
    """Create ``OUT/<user_id>.pem`` (encrypted PKCS#8) and ``OUT/<user_id>.pub``.

    The key cannot sign anything until an admin registers ``OUT/<user_id>.pub``.
    """
    out = Path(out_dir)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise SignatureError(
            f"the passphrase has {len(passphrase)} characters; at least "
            f"{MIN_PASSPHRASE_LENGTH} are required",
            path=out,
        )
    check_identity(signer, user_id, path=out)
    if out.exists() and not out.is_dir():
        raise SignatureError(
            "is a file, not a folder (--out is the folder for KEY.pem and KEY.pub)",
            path=out,
            hint="choose another --out folder",
        )
    key_path, public_path = out / f"{user_id}.pem", out / f"{user_id}.pub"
    for existing in (key_path, public_path):
        if existing.exists():
            raise SignatureError(
                "a key file already exists here; refusing to overwrite it",
                path=existing,
                hint="choose another --out folder",
            )
    private_key = Ed25519PrivateKey.generate()
    raw = raw_public(private_key)
    public = PublicKeyFile(
        name=signer,
        user_id=user_id,
        public_key=base64.b64encode(raw).decode("ascii"),
        fingerprint=fingerprint(raw),
    )
    out.mkdir(parents=True, exist_ok=True)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    atomic_write(key_path, pem, mode=0o600)
    atomic_write(public_path, public.to_yaml().encode("utf-8"))
    return KeyPair(key_path=key_path, public_path=public_path, public=public)


def load_public_key_file(path: str | Path) -> PublicKeyFile:
    """Read and check an ``ID.pub`` (the fingerprint must be the key's)."""
    from cytorelease._yaml import load_yaml_file

    path = Path(path)
    if not path.is_file():
        raise SignatureError("no such public key file", path=path)
    document = load_yaml_file(path, error=SignatureError, what="public key").data
    fields = ("schema", "name", "user_id", "public_key", "fingerprint")
    if not isinstance(document, dict) or set(document) != set(fields):
        raise SignatureError(
            f"not a {PUBLIC_KEY_SCHEMA} file (fields {', '.join(fields)})", path=path
        )
    if document["schema"] != PUBLIC_KEY_SCHEMA or not all(
        isinstance(document[f], str) for f in fields
    ):
        raise SignatureError(f"not a {PUBLIC_KEY_SCHEMA} file", path=path)
    check_identity(document["name"], document["user_id"], path=path)
    try:
        raw = base64.b64decode(document["public_key"], validate=True)
    except ValueError:
        raise SignatureError("public_key is not base64", path=path) from None
    if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != document["public_key"]:
        raise SignatureError("public_key is not the canonical base64 of 32 bytes", path=path)
    if fingerprint(raw) != document["fingerprint"]:
        raise SignatureError("the fingerprint is not the key's", path=path)
    return PublicKeyFile(
        name=document["name"],
        user_id=document["user_id"],
        public_key=document["public_key"],
        fingerprint=document["fingerprint"],
    )


def load_private_key(path: str | Path, passphrase: str) -> Ed25519PrivateKey:
    """Decrypt an Ed25519 private key; one-line :class:`SignatureError` for any failure."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SignatureError("no such key file", path=path) from None
    if not passphrase:
        raise SignatureError("a passphrase is required to unlock the key", path=path)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8"))
    except TypeError:
        raise SignatureError(
            "the key is not protected by a passphrase; refusing it (a key file alone must not "
            "be enough to sign)",
            path=path,
            hint="create keys with `cytorelease keys generate`",
        ) from None
    except ValueError:
        if _ENCRYPTED_PEM in data and _ENCRYPTED_PEM_END not in data:
            # a cut file is no wrong passphrase: it must not count towards the lock-out
            raise SignatureError(
                "the key file ends before its END line (truncated copy?)",
                path=path,
                hint="copy the key file again",
            ) from None
        if _ENCRYPTED_PEM in data:
            raise WrongPassphrase("wrong passphrase for this key", path=path) from None
        raise SignatureError("not a PEM-encoded private key", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("not an Ed25519 key", path=path)
    return key
