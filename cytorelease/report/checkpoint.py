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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json
from cytorelease.records.audit import Action, append, os_user
from cytorelease.records.datadir import PRIVATE_FILE, PRIVATE_FOLDER, DataDir
from cytorelease.records.store import Store

__all__ = [
    "CHECKPOINT_SCHEMA",
    "CheckpointCheck",
    "latest_checkpoint",
    "maybe_checkpoint",
    "verify_checkpoints",
    "verify_data_checkpoints",
    "write_checkpoint",
]

CHECKPOINT_SCHEMA = "cytorelease.audit-checkpoint/1"
_NAME = re.compile(r"^(\d+)-(\d{8}T\d{6}\d{6}Z)\.json$")  # <seq>-<UTC to the microsecond>.json
_MAX_FILE = 1 << 20  # a checkpoint is about 1 kB (a few kB with a token)


def checkpoints_dir(data: DataDir) -> Path:
    return data.root / "checkpoints"


def _raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _fingerprint(raw: bytes) -> str:
    from cytorelease.report.keys import fingerprint

    return fingerprint(raw)


def _head(store: Store) -> tuple[int, str, int]:
    row = store.one("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
    if row is None:
        raise InputError(
            "the audit trail has no rows yet: nothing to checkpoint", path=store.location
        )
    count = int(store.scalar("SELECT COUNT(*) FROM audit_log"))
    return int(row["sequence"]), str(row["hash"]), count


def _signed_bytes(body: dict[str, Any]) -> bytes:
    return canonical_json(body).encode("utf-8")


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
        signed = _signed_bytes(body)
        raw = _raw_public(key)
        document = {
            **body,
            "public_key": base64.b64encode(raw).decode("ascii"),
            "signer_fingerprint": _fingerprint(raw),
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


def _files(folder: Path) -> list[tuple[int, str, Path]]:
    """(sequence, UTC stamp, path) of every checkpoint file, oldest first; names only (cheap)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match[1]), match[2], path))
    return sorted(found)


def latest_checkpoint(data_dir: str | Path | DataDir | None) -> dict[str, Any] | None:
    """The newest checkpoint's summary (sequence, row_hash, utc_time, signer_fingerprint,
    trusted_time, file), or None when there is none. Not verified: ``audit verify`` does that."""
    data = data_dir if isinstance(data_dir, DataDir) else DataDir.open(data_dir, create=False)
    files = _files(checkpoints_dir(data))
    if not files:
        return None
    path = files[-1][2]
    return {**_summary(_load(path)), "file": str(path)}


def _load(path: Path) -> dict[str, Any]:
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
        files = _files(checkpoints_dir(data))
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


@dataclass(frozen=True, slots=True)
class CheckpointCheck:
    """One checkpoint held against the chain; ``problem`` names what fails."""

    file: str
    sequence: int | None
    row_hash: str | None
    signer_fingerprint: str | None
    trusted_time: str | None
    problem: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sequence": self.sequence,
            "row_hash": self.row_hash,
            "signer_fingerprint": self.signer_fingerprint,
            "trusted_time": self.trusted_time,
            "ok": self.ok,
            "problem": self.problem,
            "note": self.note,
        }


def _check_signature(document: dict[str, Any]) -> str | None:
    body = {k: document.get(k) for k in
            ("schema", "sequence", "row_hash", "rows", "utc_time", "database")}  # fmt: skip
    try:
        raw = base64.b64decode(document["public_key"], validate=True)
        signature = base64.b64decode(document["signature"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return "its public key or signature is not base64 of an Ed25519 key/signature"
    if _fingerprint(raw) != document["signer_fingerprint"]:
        return "its signer fingerprint is not its public key's (edited checkpoint)"
    try:
        public.verify(signature, _signed_bytes(body))
    except InvalidSignature:
        return "its signature does not verify (the checkpoint file was edited or forged)"
    return None


def _check_token(
    document: dict[str, Any], certificates: Sequence[bytes]
) -> tuple[str | None, str | None, str | None]:
    """(verified genTime, problem, note) for the checkpoint's trusted-time token."""
    trusted = document.get("trusted_time")
    if trusted is None:
        if certificates:
            # the token lies outside the signed body: stripping it leaves the signature valid,
            # so an auditor who asks for trusted time must get a failure, not a note
            return None, "it carries no trusted-time token, but a TSA certificate was given", None
        return None, None, "no trusted time"
    if not isinstance(trusted, dict) or not isinstance(trusted.get("token"), str):
        return None, "its trusted_time is not a token", None
    if not certificates:
        return None, None, "trusted-time token not verified (no TSA certificate given)"
    from cytorelease.report.tsa import TimestampError, verify_timestamp

    body = {k: document.get(k) for k in
            ("schema", "sequence", "row_hash", "rows", "utc_time", "database")}  # fmt: skip
    digest = hashlib.sha256(_signed_bytes(body)).digest()
    try:
        token = base64.b64decode(trusted["token"], validate=True)
    except ValueError:
        return None, "its trusted-time token is not base64", None
    last = "no certificate"
    for certificate in certificates:
        try:
            moment = verify_timestamp(token, digest, certificate)
        except TimestampError as exc:
            last = str(exc)
            continue
        return moment.isoformat(), None, None
    return None, f"its trusted-time token does not verify ({last})", None


def _stated_in_trail(store: Store, name: str) -> dict[str, Any] | None:
    """The details of the trail's checkpoint row that wrote the file ``name``, if any."""
    row = store.one(
        "SELECT details FROM audit_log WHERE action = ? AND object = ? ORDER BY sequence",
        (str(Action.CHECKPOINT), f"checkpoints/{name}"),
    )
    if row is None:
        return None
    details = json.loads(row["details"]) if isinstance(row["details"], str) else row["details"]
    return details if isinstance(details, dict) else None


def _check_one(
    store: Store, path: Path, trusted: set[str] | None, certificates: Sequence[bytes]
) -> CheckpointCheck:
    name = path.name
    try:
        document = _load(path)
    except InputError as exc:
        return CheckpointCheck(name, None, None, None, None, problem=exc.problem)
    sequence, expected = int(document["sequence"]), str(document["row_hash"])
    signer = str(document["signer_fingerprint"])

    def failed(problem: str, moment: str | None = None) -> CheckpointCheck:
        return CheckpointCheck(name, sequence, expected, signer, moment, problem=problem)

    problem = _check_signature(document)
    if problem:
        return failed(problem)
    if trusted is not None and signer not in trusted:
        return failed(f"signed by key {signer[:16]}…, which is not in the trust list")
    moment, problem, note = _check_token(document, certificates)
    if problem:
        return failed(problem)
    named = _NAME.match(name)
    if named is not None and int(named[1]) != sequence:
        # a genuine checkpoint copied over a later one's name would hide a rewrite after it
        return failed(f"its name says row {named[1]} but it signs row {sequence}")
    stated = _stated_in_trail(store, name)
    if stated is not None and (
        stated.get("sequence") != sequence or stated.get("row_hash") != expected
    ):
        return failed(
            f"the trail's checkpoint row for this file records row {stated.get('sequence')} "
            f"and hash {str(stated.get('row_hash'))[:16]}…, not what the file signs (the file "
            "was replaced by another checkpoint)"
        )
    row = store.one("SELECT hash FROM audit_log WHERE sequence = ?", (sequence,))
    if row is None:
        return failed(f"row {sequence} is missing from the trail (rows removed after it?)", moment)
    if str(row["hash"]) != expected:
        return failed(
            f"row {sequence}'s hash differs from the checkpoint's (the trail was rewritten)", moment
        )
    return CheckpointCheck(name, sequence, expected, signer, moment, note=note)


def verify_checkpoints(
    store: Store,
    data: DataDir,
    *,
    trusted_fingerprints: Iterable[str] | None = None,
    tsa_certificates: Sequence[bytes] = (),
    folder: Path | None = None,
) -> list[CheckpointCheck]:
    """Every checkpoint in ``folder`` (default ``D/checkpoints``) against the chain in ``store``,
    oldest first.

    ``trusted_fingerprints``: when given, a checkpoint signed by another key fails (an insider
    with their own key cannot forge one); otherwise its signer's fingerprint is only reported.
    ``tsa_certificates``: the TSA certificates every token must verify with (PEM or DER); when
    given, a checkpoint without a token fails. ``folder``: a copy kept where the database's
    administrators cannot write (another host, a WORM volume). In the data folder's own
    checkpoints, a checkpoint row of the trail whose file is gone fails too.
    """
    trusted = None if trusted_fingerprints is None else set(trusted_fingerprints)
    own = folder is None
    folder = checkpoints_dir(data) if folder is None else folder
    if not own and not folder.is_dir():
        raise InputError("no such checkpoints folder", path=folder)
    paths = [p for _, _, p in _files(folder)]
    if folder.is_dir():  # a file that looks like a checkpoint but is misnamed is reported too
        named = set(paths)
        paths += sorted(p for p in folder.glob("*.json") if p not in named)
    checks = [_check_one(store, p, trusted, tsa_certificates) for p in paths]
    if own:
        checks += _files_gone(store, {p.name for p in paths})
    return checks


def _files_gone(store: Store, present: set[str]) -> list[CheckpointCheck]:
    """A checkpoint row of the trail whose file is no longer in the data folder's checkpoints:
    deleting checkpoint files is how a rewrite would hide from them."""
    gone = []
    for row in store.rows(
        "SELECT sequence, object, details FROM audit_log WHERE action = ? ORDER BY sequence",
        (str(Action.CHECKPOINT),),
    ):
        name = str(row["object"]).removeprefix("checkpoints/")
        if name in present:
            continue
        try:
            details = json.loads(row["details"]) if isinstance(row["details"], str) else {}
        except ValueError:
            details = {}
        gone.append(
            CheckpointCheck(
                name,
                details.get("sequence") if isinstance(details.get("sequence"), int) else None,
                details.get("row_hash") if isinstance(details.get("row_hash"), str) else None,
                None,
                None,
                problem=f"the trail's row {row['sequence']} records this checkpoint, but its file "
                "is gone from the data folder's checkpoints (deleted?)",
            )
        )
    return gone


def read_tsa_certificate(path: Path) -> bytes:
    """A TSA certificate file (PEM or DER) for checking tokens; anything else is refused, so a
    mistyped --tsa-cert is not silently a certificate that verifies nothing."""
    from cryptography import x509

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {(exc.strerror or str(exc)).lower()}", path=path) from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            x509.load_pem_x509_certificate(data)
        else:
            x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputError("not an X.509 certificate (PEM or DER)", path=path) from None
    return data


def check_fingerprints(values: Iterable[str]) -> list[str]:
    """Key fingerprints as given to --trust-fingerprint (64 hex digits), lower-cased."""
    found = []
    for value in values:
        text = value.strip().lower()
        if re.fullmatch(r"[0-9a-f]{64}", text) is None:
            raise InputError(
                "a --trust-fingerprint is a key's SHA-256 fingerprint (64 hex digits); "
                f"this one has {len(text)} characters",
                path="--trust-fingerprint",
            )
        found.append(text)
    return found


def verify_data_checkpoints(
    data_dir: str | Path | None,
    *,
    trusted_fingerprints: Iterable[str] | None = None,
    tsa_certificates: Sequence[bytes] = (),
    folder: Path | None = None,
) -> list[CheckpointCheck]:
    """The data folder's checkpoints (or the copy in ``folder``) against its store (``audit
    verify``); a failing one is audited as a verification-failed row naming it and its problem."""
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir, existing=True)
    with store:
        checks = verify_checkpoints(
            store,
            data,
            trusted_fingerprints=trusted_fingerprints,
            tsa_certificates=tsa_certificates,
            folder=folder,
        )
        failed = [c for c in checks if not c.ok]
        if failed:
            with store.write():
                append(
                    store,
                    actor=os_user(),
                    action=Action.VERIFICATION_FAILED,
                    object="checkpoints",
                    details={
                        "checkpoints": [{"file": c.file, "problem": c.problem} for c in failed]
                    },
                )
    return checks
