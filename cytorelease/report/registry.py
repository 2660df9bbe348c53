"""The signed signer registry (``registry.yaml``): who holds which key, in which roles, when.

The file is an append-only list of versions. Each version holds the whole list of entries as it
stands after one change (init, register, revoke, unlock, add-tsa), names the hash of the
version before it and is signed by an admin who was active in that earlier version (the first
version by the admin it creates). So a verifier needs only this file, offline, to know which
keys could sign what at any moment, and any edit of a past version breaks the chain or a
signature. Between versions the loader enforces the rules Part 11 asks of identification codes
(11.300): an entry is never deleted or edited, only revoked; a user id is never given to another
person; a person has at most one active key; from format 2 on, every person added carries the
evidence of how their identity was verified (11.100(b)).

What the file cannot show is that the first version is the site's own: the verifier pins it by
``genesis_sha256`` (printed by ``keys init-registry`` and by ``verify``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cytorelease.errors import SignatureError
from cytorelease.provenance import canonical_json
from cytorelease.report.entry import parse_utc
from cytorelease.report.keys import USER_ID_PATTERN, fingerprint
from cytorelease.signature_policy import Role

if TYPE_CHECKING:
    from cytorelease._yaml import LineMap

__all__ = [
    "IDENTITY_EVIDENCE_MAX",
    "REGISTRY_FILE",
    "REGISTRY_FORMAT",
    "REGISTRY_SCHEMA",
    "Registry",
    "RegistryEntry",
    "RegistryVersion",
    "load_registry",
    "registry_path",
    "version_sha256",
]

REGISTRY_SCHEMA: Final = "cytorelease.registry/1"
REGISTRY_FILE: Final = "registry.yaml"
# The rules a version is written under: 1 (no ``format`` field, before identity evidence was
# recorded) or 2 (a person registered by the version names how their identity was verified).
REGISTRY_FORMAT: Final = 2
IDENTITY_EVIDENCE_MAX: Final = 500
_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_HEX64 = r"^[0-9a-f]{64}$"


class RegistryEntry(BaseModel):
    """One key and the person (or service) holding it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str = Field(pattern=USER_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    roles: tuple[Role, ...] = Field(min_length=1)
    fingerprint: str = Field(pattern=_HEX64)
    public_key: str
    valid_from: str = Field(pattern=_UTC)
    valid_until: str = Field(pattern=_UTC)
    status: Literal["active", "revoked"]
    revoked_at: str | None = Field(default=None, pattern=_UTC)
    revoked_reason: str | None = None
    # How the holder's identity was verified before the admin registered them (21 CFR
    # 11.100(b)), e.g. "badge 4411 and passport checked in person by aadmin". None in entries
    # written before format 2 and for a service key; signed with the version like every field.
    identity_evidence: str | None = Field(
        default=None, min_length=1, max_length=IDENTITY_EVIDENCE_MAX
    )

    @field_validator("name", "revoked_reason", "identity_evidence")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or "\r" in value or value != value.strip()):
            raise ValueError("one line without leading or trailing spaces")
        return value

    @field_validator("roles")
    @classmethod
    def _service_alone(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        if Role.SERVICE in roles and len(roles) > 1:
            raise ValueError("a service key holds no other role")
        return roles

    @property
    def valid_from_at(self) -> datetime:
        return parse_utc(self.valid_from)

    @property
    def valid_until_at(self) -> datetime:
        return parse_utc(self.valid_until)

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from_at <= moment <= self.valid_until_at

    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)


class RegistryChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["init", "register", "revoke", "unlock", "add-tsa"]
    user_id: str | None = None
    detail: str | None = None


class RegistryVersion(BaseModel):
    """The registry after one change, signed by the admin who made it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    format: Literal[1, 2] = 1
    created_at: str = Field(pattern=_UTC)
    previous_sha256: str | None = Field(default=None, pattern=_HEX64)
    change: RegistryChange
    entries: tuple[RegistryEntry, ...]
    tsa_certificates: tuple[str, ...] = ()
    signed_by: str
    signer_fingerprint: str = Field(pattern=_HEX64)
    signature: str

    @property
    def created(self) -> datetime:
        return parse_utc(self.created_at)

    def entry(self, key_fingerprint: str) -> RegistryEntry | None:
        return next((e for e in self.entries if e.fingerprint == key_fingerprint), None)

    def active_entry(self, user_id: str) -> RegistryEntry | None:
        return next(
            (e for e in self.entries if e.user_id == user_id and e.status == "active"), None
        )


def signed_bytes(raw_version: dict[str, Any]) -> bytes:
    """What the admin's Ed25519 key signs: the canonical JSON of the version without its
    signature (as parsed from the file, so formatting of the YAML does not matter)."""
    return canonical_json({k: v for k, v in raw_version.items() if k != "signature"}).encode()


def version_sha256(raw_version: dict[str, Any]) -> str:
    """The hash the next version names as ``previous_sha256``: the whole version, signed."""
    return hashlib.sha256(canonical_json(raw_version).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Registry:
    """A loaded registry whose whole chain verified."""

    path: Path | None
    versions: tuple[RegistryVersion, ...]
    raw: tuple[dict[str, Any], ...]

    @property
    def head(self) -> RegistryVersion:
        return self.versions[-1]

    @property
    def genesis_sha256(self) -> str:
        return version_sha256(self.raw[0])

    @property
    def head_sha256(self) -> str:
        return version_sha256(self.raw[-1])

    def in_force(self, moment: datetime) -> RegistryVersion | None:
        """The version in force at ``moment``: the last one created at or before it."""
        found = None
        for version in self.versions:
            if version.created <= moment:
                found = version
        return found

    def holder(self, key_fingerprint: str) -> RegistryEntry | None:
        """The key's entry as it stands now (any status), or None for an unknown key."""
        return self.head.entry(key_fingerprint)

    def tsa_certificates(self) -> tuple[bytes, ...]:
        return tuple(pem.encode("ascii") for pem in self.head.tsa_certificates)

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "versions": len(self.versions),
            "genesis_sha256": self.genesis_sha256,
            "head_sha256": self.head_sha256,
        }


def registry_path(location: str | Path) -> Path:
    """``DIR/registry.yaml`` for a folder, the file itself otherwise."""
    path = Path(location)
    return path / REGISTRY_FILE if path.is_dir() else path


def load_registry(location: str | Path) -> Registry:
    """Read ``registry.yaml`` (or ``DIR/registry.yaml``) and verify its whole chain.

    Any failure is one :class:`SignatureError` naming the version and the rule it breaks; a
    registry that does not verify is never used in part.
    """
    from cytorelease.library import read_file_document

    path = registry_path(location)
    if not path.exists() and not path.is_symlink():
        raise SignatureError("no such signer registry", path=path)
    # read like every versioned document (bounded, lines, the schema key; see library.py)
    loaded = read_file_document(
        path,
        what="signer registry",
        schema=REGISTRY_SCHEMA,
        error=SignatureError,
        not_mapping=f"expected a {REGISTRY_SCHEMA} mapping with the fields schema and versions",
        retired={"cytorelease.signers/1": _RETIRED_SIGNERS},
    )
    document = loaded.data
    extra = sorted(loaded.lines.line_of((key,)) or 0 for key in document if key not in _FIELDS)
    if extra or "versions" not in document:
        where = f"line {extra[0]}: " if extra else ""
        raise SignatureError(
            f"{where}a registry has exactly the fields schema and versions", path=path
        )
    raws = document["versions"]
    if not isinstance(raws, list) or not raws:
        line = loaded.lines.line_of(("versions",))
        raise SignatureError(
            f"versions (line {line}): a registry has at least one version", path=path
        )
    return registry_from_raw(raws, path=path, lines=loaded.lines)


_FIELDS = ("schema", "versions")
_RETIRED_SIGNERS = (
    "an unsigned signers.yaml is not a registry anyone can rely on (anyone could add "
    "themselves to it); it is no longer accepted",
    "create a signed registry with `cytorelease keys init-registry` and register "
    "each key with `cytorelease keys register`",
)


def registry_from_raw(
    raws: list[Any], *, path: Path | None, lines: LineMap | None = None
) -> Registry:
    """Validate and chain-check parsed versions (used by the loader and before every write);
    with the file's ``lines``, a field's error names its line."""
    from cytorelease.report.registry_rules import check_transition

    versions: list[RegistryVersion] = []
    for index, raw in enumerate(raws, start=1):
        where = f"version {index}"
        if not isinstance(raw, dict):
            raise SignatureError(f"{where}: not a mapping", path=path)
        try:
            version = RegistryVersion.model_validate(raw)
        except ValidationError as exc:
            first = _version_problem(lines, raw, index, exc.errors(include_url=False)[0])
            raise SignatureError(f"{where}: {first}", path=path) from None
        if version.version != index:
            raise SignatureError(f"{where}: numbered {version.version}", path=path)
        previous = versions[-1] if versions else None
        expected_previous = version_sha256(raws[index - 2]) if previous else None
        if version.previous_sha256 != expected_previous:
            raise SignatureError(
                f"{where}: previous_sha256 does not name version {index - 1}: the registry's "
                "history was edited, reordered or cut",
                path=path,
            )
        _check_admin_signature(raw, version, previous, path, where)
        problem = check_transition(previous, version)
        if problem:
            raise SignatureError(f"{where} ({version.change.action}): {problem}", path=path)
        versions.append(version)
    return Registry(path=path, versions=tuple(versions), raw=tuple(raws))


def _version_problem(
    lines: LineMap | None, raw: dict[str, Any], index: int, error: Mapping[str, Any]
) -> str:
    """``field.path (line N): problem`` of version ``index``, in the words every versioned
    document uses (an unknown key is not named: see ``cytorelease._yaml``); without the file's
    lines (a version about to be written) no line is given."""
    from cytorelease._yaml import document_path, error_message, format_path, problem_text

    path = document_path(raw, error["loc"], missing=error["type"] == "missing")
    shown = path
    if error["type"] == "extra_forbidden" and path and isinstance(path[-1], str):
        shown = path[:-1]
    line = lines.line_of(("versions", index - 1, *path)) if lines is not None else None
    return problem_text(format_path(shown), line, error_message(error))


def _check_admin_signature(
    raw: dict[str, Any],
    version: RegistryVersion,
    previous: RegistryVersion | None,
    path: Path | None,
    where: str,
) -> None:
    # The first version is signed by the admin it creates; every later one by an admin who was
    # already active, so no one can make themselves admin.
    authority = previous if previous is not None else version
    admin = authority.entry(version.signer_fingerprint)
    if (
        admin is None
        or admin.user_id != version.signed_by
        or admin.status != "active"
        or Role.ADMIN not in admin.roles
        or not admin.valid_at(version.created)
    ):
        raise SignatureError(
            f"{where}: signed by {version.signed_by}, who was not an active admin of "
            f"{'the registry it creates' if previous is None else f'version {version.version - 1}'}",
            path=path,
        )
    try:
        signature = base64.b64decode(version.signature, validate=True)
        Ed25519PublicKey.from_public_bytes(admin.public_key_bytes()).verify(
            signature, signed_bytes(raw)
        )
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{where}: the admin's signature does not verify: the version was edited after "
            "it was signed",
            path=path,
        ) from None
    if fingerprint(admin.public_key_bytes()) != admin.fingerprint:
        raise SignatureError(f"{where}: {admin.user_id}'s key does not match its fingerprint")
