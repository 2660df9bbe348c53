"""Audit checkpoints held against the chain (``audit verify``): each file's signature, its
signer against a trust list, its RFC 3161 token against the TSA certificates given, the row it
names against the trail, and the trail's checkpoint rows against the files still there.

Writing checkpoints is :mod:`cytorelease.report.checkpoint`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cytorelease.errors import InputError
from cytorelease.records.audit import Action, entries_of, record_verification_failure
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.report.checkpoint import (
    NAME_PATTERN,
    checkpoint_files,
    checkpoints_dir,
    load_checkpoint,
    signed_bytes,
)
from cytorelease.report.keys import fingerprint

__all__ = [
    "CheckpointCheck",
    "check_fingerprints",
    "read_tsa_certificate",
    "verify_checkpoints",
    "verify_data_checkpoints",
]


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
    try:
        raw = base64.b64decode(document["public_key"], validate=True)
        signature = base64.b64decode(document["signature"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return "its public key or signature is not base64 of an Ed25519 key/signature"
    if fingerprint(raw) != document["signer_fingerprint"]:
        return "its signer fingerprint is not its public key's (edited checkpoint)"
    try:
        public.verify(signature, signed_bytes(document))
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

    digest = hashlib.sha256(signed_bytes(document)).digest()
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
    rows = entries_of(store, Action.CHECKPOINT, object=f"checkpoints/{name}")
    return rows[0].details if rows else None


def _check_one(
    store: Store, path: Path, trusted: set[str] | None, certificates: Sequence[bytes]
) -> CheckpointCheck:
    name = path.name
    try:
        document = load_checkpoint(path)
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
    named = NAME_PATTERN.match(name)
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
    paths = [p for _, _, p in checkpoint_files(folder)]
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
    for row in entries_of(store, Action.CHECKPOINT):
        name = row.object.removeprefix("checkpoints/")
        if name in present:
            continue
        sequence, row_hash = row.details.get("sequence"), row.details.get("row_hash")
        gone.append(
            CheckpointCheck(
                name,
                sequence if isinstance(sequence, int) else None,
                row_hash if isinstance(row_hash, str) else None,
                None,
                None,
                problem=f"the trail's row {row.sequence} records this checkpoint, but its file "
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
            record_verification_failure(
                store,
                "checkpoints",
                {"checkpoints": [{"file": c.file, "problem": c.problem} for c in failed]},
            )
    return checks
