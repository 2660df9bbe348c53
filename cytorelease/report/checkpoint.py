"""Audit checkpoints: the chain head signed (and RFC 3161-timestamped) outside the database.

A hash chain alone can be rebuilt by anyone with write access to the database (drop the trigger,
rewrite a row, recompute every later hash). A checkpoint is a file in ``D/checkpoints/`` that
names the head row's sequence number and hash, signed with an Ed25519 key whose private half is
not in the database, and, with ``CYTORELEASE_TSA`` set, time-stamped by the site's TSA over the
same bytes. ``audit verify`` then holds the chain against every checkpoint: a rewritten row
changes the hash at the checkpoint's sequence, a cut tail removes that row, and an edited
checkpoint no longer verifies. Files are created once (a hard link: never overwritten).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json
from cytorelease.records.audit import Action, append, os_user
from cytorelease.records.datadir import PRIVATE_FILE, PRIVATE_FOLDER, DataDir
from cytorelease.records.store import Store
from cytorelease.report.keys import fingerprint, raw_public

__all__ = [
    "CHECKPOINT_SCHEMA",
    "NAME_PATTERN",
    "SIGNED_FIELDS",
    "checkpoint_files",
    "checkpoints_dir",
    "latest_checkpoint",
    "load_checkpoint",
    "maybe_checkpoint",
    "signed_bytes",
    "write_checkpoint",
]

CHECKPOINT_SCHEMA = "cytorelease.audit-checkpoint/1"
NAME_PATTERN = re.compile(
    r"^(\d+)-(\d{8}T\d{6}\d{6}Z)\.json$"
)  # <seq>-<UTC to the microsecond>.json
_MAX_FILE = 1 << 20  # a checkpoint is about 1 kB (a few kB with a token)


def checkpoints_dir(data: DataDir) -> Path:
    return data.root / "checkpoints"


def _head(store: Store) -> tuple[int, str, int]:
    row = store.one("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
    if row is None:
        raise InputError(
            "the audit trail has no rows yet: nothing to checkpoint", path=store.location
        )
    count = int(store.scalar("SELECT COUNT(*) FROM audit_log"))
    return int(row["sequence"]), str(row["hash"]), count


# the fields the key signs and the token stamps; the token itself is outside them
SIGNED_FIELDS = ("schema", "sequence", "row_hash", "rows", "utc_time", "database")


def signed_bytes(document: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature (and its token) cover: its signed fields."""
    return canonical_json({k: document.get(k) for k in SIGNED_FIELDS}).encode("utf-8")


def _write_once(folder: Path, name: str, data: bytes) -> Path:
    """Write ``folder/name`` atomically and only if it does not exist (a hard link fails then)."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    target = folder / name
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, PRIVATE_FILE)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise InputError(
                "a checkpoint of this name exists; never overwritten", path=target
            ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _timestamp(signed: bytes, tsa: str | None) -> dict[str, Any] | None:
    if tsa is None:
        return None
    from cytorelease.report.tsa import request_timestamp, token_time

    token = request_timestamp(hashlib.sha256(signed).digest(), tsa)
    moment = token_time(token.token)
    return {
        "token": base64.b64encode(token.token).decode("ascii"),
        "gen_time": None if moment is None else moment.isoformat(),
        "nonce": token.nonce,
    }


def write_checkpoint(
    store: Store,
    data: DataDir,
    key: Ed25519PrivateKey,
    *,
    actor: str | None = None,
    tsa: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign the chain head into ``D/checkpoints/<seq>-<UTC>.json``; audited as a CHECKPOINT row.

    ``tsa``: a TSA URL (default ``CYTORELEASE_TSA``); without one ``trusted_time`` is null.
    Returns the summary :func:`latest_checkpoint` gives, plus ``file``.
    """
    from cytorelease.report.tsa import tsa_url

    tsa = tsa if tsa is not None else tsa_url()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    with store.write():
        sequence, head_hash, rows = _head(store)
        database = store.scalar("SELECT value FROM meta WHERE key = 'database_id'")
        body = {
            "schema": CHECKPOINT_SCHEMA,
            "sequence": sequence,
            "row_hash": head_hash,
            "rows": rows,
            "utc_time": moment.isoformat(timespec="microseconds"),
            "database": database,
        }
        signed = signed_bytes(body)
        raw = raw_public(key)
        document = {
            **body,
            "public_key": base64.b64encode(raw).decode("ascii"),
            "signer_fingerprint": fingerprint(raw),
            "signature": base64.b64encode(key.sign(signed)).decode("ascii"),
            "trusted_time": _timestamp(signed, tsa),
        }
        name = f"{sequence}-{moment:%Y%m%dT%H%M%S%fZ}.json"
        path = _write_once(
            checkpoints_dir(data), name, (json.dumps(document, indent=1) + "\n").encode("utf-8")
        )
        append(
            store,
            actor=actor or os_user(),
            action=Action.CHECKPOINT,
            object=f"checkpoints/{name}",
            details={
                "sequence": sequence,
                "row_hash": head_hash,
                "signer_fingerprint": document["signer_fingerprint"],
                "trusted_time": document["trusted_time"] is not None,
            },
        )
    return {**_summary(document), "file": str(path)}


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    trusted = document.get("trusted_time")
    return {
        "sequence": document["sequence"],
        "row_hash": document["row_hash"],
        "utc_time": document["utc_time"],
        "signer_fingerprint": document["signer_fingerprint"],
        "trusted_time": trusted.get("gen_time") if isinstance(trusted, dict) else None,
    }


def checkpoint_files(folder: Path) -> list[tuple[int, str, Path]]:
    """(sequence, UTC stamp, path) of every checkpoint file, oldest first; names only (cheap)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = NAME_PATTERN.match(path.name)
        if match:
            found.append((int(match[1]), match[2], path))
    return sorted(found)


def latest_checkpoint(data_dir: str | Path | DataDir | None) -> dict[str, Any] | None:
    """The newest checkpoint's summary (sequence, row_hash, utc_time, signer_fingerprint,
    trusted_time, file), or None when there is none. Not verified: ``audit verify`` does that."""
    data = data_dir if isinstance(data_dir, DataDir) else DataDir.open(data_dir, create=False)
    files = checkpoint_files(checkpoints_dir(data))
    if not files:
        return None
    path = files[-1][2]
    return {**_summary(load_checkpoint(path)), "file": str(path)}


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > _MAX_FILE:
            raise ValueError("too large")
        document = json.loads(path.read_bytes())
        if not isinstance(document, dict) or document.get("schema") != CHECKPOINT_SCHEMA:
            raise ValueError("not a checkpoint")
        for field, kind in (("sequence", int), ("row_hash", str), ("utc_time", str),
                            ("signer_fingerprint", str), ("public_key", str), ("signature", str),
                            ("rows", int)):  # fmt: skip
            if not isinstance(document.get(field), kind):
                raise ValueError(field)
        for field in ("sequence", "rows"):  # a row number a database can hold
            if not 0 <= document[field] < 2**63:
                raise ValueError(f"{field} out of range")
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable {CHECKPOINT_SCHEMA} file ({exc})", path=path) from None
    return document


def maybe_checkpoint(
    data_dir_or_store: str | Path | DataDir | Store,
    key: str | Path | Ed25519PrivateKey,
    passphrase: str | None = None,
    *,
    every_rows: int | None = None,
    every_seconds: float | None = None,
    actor: str | None = None,
    data: DataDir | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Write a checkpoint when ``every_rows`` rows or ``every_seconds`` passed since the last
    one (for the worker, after each item); None when nothing is due.

    Cheap when nothing is due: one query for the head and a listing of the folder's file names;
    the key is decrypted only when a checkpoint is written. A checkpoint's own audit row does
    not count as new, so an idle trail is not checkpointed again and again. Pass a Store with
    ``data`` (its data folder) to reuse an open connection.
    """
    if every_rows is None and every_seconds is None:
        raise InputError("maybe_checkpoint needs every_rows or every_seconds")
    own = not isinstance(data_dir_or_store, Store)
    if isinstance(data_dir_or_store, Store):
        if data is None:
            raise InputError("maybe_checkpoint with a Store needs its data folder (data=)")
        store = data_dir_or_store
    else:
        from cytorelease.records.store import open_data

        root = (
            data_dir_or_store.root if isinstance(data_dir_or_store, DataDir) else data_dir_or_store
        )
        data, store = open_data(root, existing=True)
    try:
        head = store.scalar("SELECT MAX(sequence) FROM audit_log")
        if head is None:
            return None
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        files = checkpoint_files(checkpoints_dir(data))
        if files:
            last_sequence, stamp, _ = files[-1]
            new_rows = int(head) - (last_sequence + 1)  # the checkpoint's own row is not new
            age = moment - datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
            due = new_rows > 0 and (
                (every_rows is not None and new_rows >= every_rows)
                or (every_seconds is not None and age.total_seconds() >= every_seconds)
            )
        else:
            due = True
        if not due:
            return None
        if not isinstance(key, Ed25519PrivateKey):
            from cytorelease.report.keys import load_private_key

            key = load_private_key(key, passphrase or "")
        return write_checkpoint(store, data, key, actor=actor, now=now)
    finally:
        if own:
            store.close()
