"""Ed25519 signing keys and the public registry of signers (``signers.yaml``).

A private key is stored only as encrypted PKCS#8 PEM, so the file alone cannot sign: the
passphrase is the second component 21 CFR 11.200 asks for. The registry holds what a verifier
needs years later and offline: printed name, user id, role, the public key, its fingerprint
(sha256 of the 32 raw public-key bytes) and the period in which the key may sign.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from cytorelease.errors import SignatureError

__all__ = [
    "REGISTRY_SCHEMA",
    "GeneratedKey",
    "SignerEntry",
    "SignerRegistry",
    "SignerRole",
    "add_signer",
    "find_signer",
    "fingerprint",
    "generate_key",
    "load_private_key",
    "load_registry",
]

REGISTRY_SCHEMA: Final = "cytorelease.signers/1"
MIN_PASSPHRASE_LENGTH = 8
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class SignerRole(StrEnum):
    """The function a key holder signs in; a service key never applies a human meaning."""

    ANALYST = "analyst"
    REVIEWER = "reviewer"
    QA = "qa"
    SERVICE = "service"


class SignerEntry(BaseModel):
    """One public key in the registry and the person (or service) it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    user_id: str
    role: SignerRole
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    public_key: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime

    @field_validator("user_id")
    @classmethod
    def _user_id_shape(cls, value: str) -> str:
        if not _USER_ID.match(value):
            raise ValueError("letters, digits and . _ @ - only (at most 64), starting alphanumeric")
        return value

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value or value != value.strip():
            raise ValueError("a printed name is one line without leading or trailing spaces")
        return value

    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment <= self.valid_until


class SignerRegistry(BaseModel):
    """The ``signers.yaml`` document."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["cytorelease.signers/1"] = Field(default=REGISTRY_SCHEMA, alias="schema")
    signers: list[SignerEntry] = Field(default_factory=list)

    def to_yaml(self) -> str:
        rows = []
        for entry in self.signers:
            row = entry.model_dump(mode="json")
            for key in ("valid_from", "valid_until"):
                row[key] = getattr(entry, key).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append(row)
        document = {"schema": REGISTRY_SCHEMA, "signers": rows}
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key_path: Path
    registry_path: Path
    entry: SignerEntry


def fingerprint(public_key_raw: bytes) -> str:
    """The key fingerprint: sha256 (hex) of the 32 raw Ed25519 public-key bytes."""
    return hashlib.sha256(public_key_raw).hexdigest()


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_key(
    *,
    signer: str,
    user_id: str,
    passphrase: str,
    out_dir: str | Path,
    role: SignerRole = SignerRole.ANALYST,
    valid_days: int = 730,
    now: datetime | None = None,
    registry_path: str | Path | None = None,
) -> GeneratedKey:
    """Create ``OUT/<user_id>.pem`` (encrypted PKCS#8) and add its public entry to the registry.

    The registry is ``OUT/signers.yaml`` unless ``registry_path`` names another file (the demo
    keeps throw-away private keys apart from the public registry it hands to ``verify``).
    """
    out = Path(out_dir)
    registry_path = Path(registry_path) if registry_path else out / "signers.yaml"
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise SignatureError(
            f"the passphrase has {len(passphrase)} characters; at least "
            f"{MIN_PASSPHRASE_LENGTH} are required",
            path=out,
        )
    if valid_days < 1:
        raise SignatureError(f"--valid-days must be at least 1, not {valid_days}", path=out)
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    private_key = Ed25519PrivateKey.generate()
    raw = _raw_public(private_key)
    try:
        entry = SignerEntry(
            name=signer,
            user_id=user_id,
            role=role,
            fingerprint=fingerprint(raw),
            public_key=base64.b64encode(raw).decode("ascii"),
            valid_from=start,
            valid_until=start + timedelta(days=valid_days),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise SignatureError(f"invalid signer: {problems}", path=out) from None
    if out.exists() and not out.is_dir():
        raise SignatureError(
            "is a file, not a folder (--out is the folder for KEY.pem and signers.yaml)",
            path=out,
            hint="choose another --out folder",
        )
    key_path = out / f"{user_id}.pem"
    if key_path.exists():
        raise SignatureError(
            "a key file already exists here; refusing to overwrite it",
            path=key_path,
            hint="choose another --out folder",
        )
    registry = load_registry(registry_path) if registry_path.exists() else SignerRegistry()
    out.mkdir(parents=True, exist_ok=True)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    _atomic_write(key_path, pem, mode=0o600)
    add_signer(registry_path, entry, registry=registry)
    return GeneratedKey(key_path=key_path, registry_path=registry_path, entry=entry)


def add_signer(
    registry_path: str | Path, entry: SignerEntry, *, registry: SignerRegistry | None = None
) -> SignerRegistry:
    """Append ``entry`` to the registry file (created when absent); a fingerprint appears once."""
    path = Path(registry_path)
    if registry is None:
        registry = load_registry(path) if path.exists() else SignerRegistry()
    if find_signer(registry, entry.fingerprint) is not None:
        raise SignatureError(f"key {entry.fingerprint[:16]}… is already registered", path=path)
    updated = SignerRegistry(signers=[*registry.signers, entry])
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, updated.to_yaml().encode("utf-8"))
    return updated


def load_registry(path: str | Path) -> SignerRegistry:
    """Read and validate ``signers.yaml``; errors name the field path and line."""
    from cytorelease._yaml import load_yaml_file, locate

    path = Path(path)
    if not path.exists():
        raise SignatureError("no such signer registry", path=path)
    parsed = load_yaml_file(path, error=SignatureError, what="signer registry")
    document, lines = parsed.data, parsed.lines
    try:
        return SignerRegistry.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field, line = locate(document, lines, first["loc"])
        where = f"line {line}: " if line else ""
        raise SignatureError(
            f"{where}{field}: {first['msg']}",
            path=path,
            hint=f"expected a {REGISTRY_SCHEMA} document as written by `cytorelease keys generate`",
        ) from None


def find_signer(registry: SignerRegistry, key_fingerprint: str) -> SignerEntry | None:
    return next((s for s in registry.signers if s.fingerprint == key_fingerprint), None)


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
        if _ENCRYPTED_PEM in data:
            raise SignatureError("wrong passphrase for this key", path=path) from None
        raise SignatureError("not a PEM-encoded private key", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("not an Ed25519 key", path=path)
    return key
