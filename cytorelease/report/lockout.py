"""Failed passphrase attempts and the lock-out after five in a row (Part 11.300(d)).

Signing happens offline, often with no data folder, so the count is kept beside the registry
(``DIR/lockout/``), which every signer of the site signs against; an attempt is also audited
when ``sign`` has a data folder. A wrong passphrase cannot tell whose key it was (the key is
still encrypted), so the count belongs to the key file's bytes (its sha256): renaming or copying
the file does not reset it. It also notes the user id the file is named after, which is what
``keys unlock USER_ID`` clears (every name the file was tried under: a renamed copy is
still unlocked by its holder's user id). A correct passphrase resets the count; five wrong
ones in a row lock the key until an admin unlocks it (``keys unlock``, a signed registry
version). The count is a safeguard, not evidence: someone who can delete files in the registry
folder, or copy the registry to a folder of their own, starts it afresh, which is why the site
keeps that folder writable by admins only.

With a data folder the count also comes from its audit trail (:func:`trail_failures`): the
``sign-failed`` rows of the same key identity since its last ``sign`` (or since the passphrase
was last accepted), less those an admin's later ``keys unlock`` lifted; the larger of the two
counts wins, so five in a row lock the key whichever folder the registry was copied to. Without
a data folder only the count beside the registry stands: keeping signing on the site's data
folder (``CYTORELEASE_DATA``) is the site's SOP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cytorelease.errors import SignatureError
from cytorelease.report.keys import atomic_write

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.registry import Registry

__all__ = [
    "MAX_FAILURES",
    "TrailRun",
    "check_not_locked",
    "clear_failures",
    "failures",
    "key_identity",
    "record_failure",
    "reset_failures",
    "trail_failures",
]

MAX_FAILURES = 5


def key_identity(data: bytes) -> str:
    """What the wrong-passphrase count of a key file is kept under: the SHA-256 of its
    encrypted key (the ciphertext inside the PEM), so a copy, a rename, an appended byte or a
    re-encoded PEM is still the same key; a file that is not an encrypted PEM key is
    identified by its bytes (loading it fails anyway)."""
    match = re.search(
        rb"-----BEGIN ENCRYPTED PRIVATE KEY-----(.*?)-----END ENCRYPTED PRIVATE KEY-----",
        data,
        re.DOTALL,
    )
    if match is not None:
        try:
            from asn1crypto.keys import EncryptedPrivateKeyInfo

            der = base64.b64decode(b"".join(match[1].split()), validate=True)
            info = EncryptedPrivateKeyInfo.load(der)
            ciphertext = bytes(info["encrypted_data"].native)
            return hashlib.sha256(b"encrypted-key:" + ciphertext).hexdigest()
        except (binascii.Error, ValueError, TypeError):
            pass
    return hashlib.sha256(data).hexdigest()


def _state_path(folder: Path, key_digest: str) -> Path:
    return folder / "lockout" / f"{key_digest}.json"


def _read(path: Path) -> dict[str, object] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def failures(folder: Path, key_digest: str) -> int:
    state = _read(_state_path(folder, key_digest))
    if state is None:
        return 0
    count = state.get("failures")
    # A damaged count must not unlock a key: it counts as locked.
    return count if isinstance(count, int) and count >= 0 else MAX_FAILURES


def _noted(state: dict[str, object] | None) -> list[str]:
    """The user ids a key file was tried under, first one first."""
    if not state:
        return []
    names = state.get("user_ids")
    if isinstance(names, list):
        return [n for n in names if isinstance(n, str)]
    first = state.get("user_id")
    return [first] if isinstance(first, str) else []


def check_not_locked(
    folder: Path, key_digest: str, user_id: str, *, trail_run: TrailRun | None = None
) -> None:
    """:class:`SignatureError` when the key is locked by the count beside the registry or,
    with a ``trail_run``, by the audit trail's count (the larger wins)."""
    if trail_run is not None and trail_run.failures >= MAX_FAILURES:
        user_id = next(iter(trail_run.user_ids), user_id)
        raise SignatureError(
            f"the key of {user_id} is locked after {MAX_FAILURES} wrong passphrases in a row "
            "(counted in the audit trail)",
            path=trail_run.data_dir,
            hint=f"an admin unlocks it with `cytorelease keys unlock {user_id}`",
        )
    path = _state_path(folder, key_digest)
    state = _read(path)
    count = state.get("failures") if state else None
    if state is not None and not (isinstance(count, int) and count >= 0 and _noted(state)):
        # a damaged record names nobody keys unlock could lift: say what an admin must do
        raise SignatureError(
            "the lock-out record of this key is damaged, so the key counts as locked",
            path=path,
            hint="an admin checks the file (the key's count of wrong passphrases) and removes "
            "it to lift the lock",
        )
    if failures(folder, key_digest) >= MAX_FAILURES:
        # a renamed copy is still the key first tried under its holder's name
        user_id = next(iter(_noted(_read(_state_path(folder, key_digest)))), user_id)
        raise SignatureError(
            f"the key of {user_id} is locked after {MAX_FAILURES} wrong passphrases in a row",
            path=_state_path(folder, key_digest),
            hint=f"an admin unlocks it with `cytorelease keys unlock {user_id}`",
        )


def record_failure(
    folder: Path,
    key_digest: str,
    user_id: str,
    *,
    now: datetime | None = None,
    trail_run: TrailRun | None = None,
) -> int:
    """Count one more wrong passphrase for this key file; the count after it (one more than
    the larger of the registry folder's and the ``trail_run``'s count, which the folder then
    keeps)."""
    count = max(failures(folder, key_digest), trail_run.failures if trail_run else 0) + 1
    path = _state_path(folder, key_digest)
    noted = _noted(_read(path))
    names = noted if user_id in noted else [*noted, user_id]
    path.parent.mkdir(parents=True, exist_ok=True)
    moment = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = {"user_id": names[0], "user_ids": names, "failures": count, "last_failure": moment}
    atomic_write(path, json.dumps(state).encode("utf-8"), mode=0o600)
    return count


def reset_failures(folder: Path, key_digest: str) -> None:
    """A correct passphrase ends a run of failures (only below the lock-out)."""
    _state_path(folder, key_digest).unlink(missing_ok=True)


def clear_failures(folder: Path, user_id: str) -> int:
    """Lift every lock-out noted for ``user_id``; how many were lifted."""
    lifted = 0
    for path in sorted((folder / "lockout").glob("*.json")):
        state = _read(path)
        if user_id in _noted(state):
            path.unlink(missing_ok=True)
            lifted += 1
    return lifted


@dataclass(frozen=True, slots=True)
class TrailRun:
    """A key's run of wrong passphrases as the audit trail records it."""

    failures: int
    user_ids: tuple[str, ...]  # the names its key file was tried under, first one first
    data_dir: Path


def trail_failures(trail: Trail, key_digest: str, registry: Registry) -> TrailRun:
    """The ``sign-failed`` rows of key identity ``key_digest`` since its last ``sign`` row (or
    a refusal after its passphrase was accepted), without those an ``unlock`` version of
    ``registry`` lifted: a failure recorded under a registry version before the last unlock of
    a user id the key was tried under. A failure under a registry head this one does not hold
    (a copy that grew apart, or is longer) is never lifted by it."""
    from cytorelease.records.audit import Action, entries_of
    from cytorelease.records.store import open_data
    from cytorelease.report.registry import version_sha256

    # a manual entry, verification or mismatch is a signing with the key too: it ends a run
    signings = (Action.MANUAL_ENTER, Action.MANUAL_VERIFY, Action.MANUAL_MISMATCH)
    _, store = open_data(trail.data_dir)
    with store:
        rows = entries_of(store, Action.SIGN, Action.SIGN_FAILED, Action.SIGN_REFUSED, *signings)
    run = []
    for row in rows:
        if row.details.get("key_identity") != key_digest:
            continue
        if row.action == Action.SIGN_FAILED:
            run.append(row)
        elif row.action in (Action.SIGN, *signings) or row.details.get("passphrase") == "accepted":
            run = []
    names = list(dict.fromkeys(str(r.details.get("user_id")) for r in run))
    unlocked = max(
        (v.version for v in registry.versions
         if v.change.action == "unlock" and v.change.user_id in names),
        default=0,
    )  # fmt: skip
    held = {version_sha256(raw): index for index, raw in enumerate(registry.raw, start=1)}
    counted = [
        r for r in run if held.get(str(r.details.get("registry_head_sha256")), unlocked) >= unlocked
    ]
    return TrailRun(len(counted), tuple(names), trail.data_dir)
