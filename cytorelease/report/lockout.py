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
folder can reset it, which is why the site keeps that folder writable by admins only and why
each failure also goes to the audit trail when there is one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from cytorelease.errors import SignatureError
from cytorelease.report.keys import atomic_write

__all__ = [
    "MAX_FAILURES",
    "check_not_locked",
    "clear_failures",
    "failures",
    "record_failure",
    "reset_failures",
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


def check_not_locked(folder: Path, key_digest: str, user_id: str) -> None:
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
    folder: Path, key_digest: str, user_id: str, *, now: datetime | None = None
) -> int:
    """Count one more wrong passphrase for this key file; the count after it."""
    count = failures(folder, key_digest) + 1
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
