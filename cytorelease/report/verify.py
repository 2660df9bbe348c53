"""Offline verification of a signed CoA: every byte, every signature, every key's trust.

A report verifies only when all of this holds:

* every byte outside the signature area is what the embedded record renders to with the
  template the record names, at the content hash it records (:mod:`~cytorelease.report.shown`):
  what was signed is what the record says, not a draft edited before signing;
* it has exactly one signature area, and the bytes of that area are exactly what
  :func:`~cytorelease.report.area.render_area` makes of the signature entries it holds (so the
  visible name, time and meaning are the signed ones, and nothing else was added there);
* every signature's ``content_sha256`` is the hash of the rest of the file (so no byte outside
  the area changed) and its record, spec and input hashes are those of the embedded record;
* the signatures chain (each names the hash of the one before), in non-decreasing time;
* each Ed25519 signature is valid for the key it names, and the signed registry in force at the
  signature's (trusted) time holds that key, active, valid, for the same person, in the role it
  claims (:mod:`~cytorelease.report.trust`), and that registry holds the registry version
  each signature was made under (:mod:`~cytorelease.report.anchor`: a registry cut short fails);
* the spec's signature policy allows every signature after the ones before it: the roles, the
  review before the approval, different people, no approval of a lot that failed.

Removing the *latest* signatures gives back the report exactly as it was before they were
applied, which is a genuine earlier state and verifies as such; only the audit trail, which
records every signing, can tell that a later signature existed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cytorelease.errors import InputError, SignatureError
from cytorelease.report.anchor import anchor_problem
from cytorelease.report.area import (
    AREA_BEGIN,
    displayed_fields,
    expected_display,
    read_entries,
    render_area,
    split_report,
)
from cytorelease.report.entry import Meaning, SignatureEntry, entry_sha256, parse_utc
from cytorelease.report.keys import fingerprint
from cytorelease.report.policy import disposition_problem, policy_of
from cytorelease.report.record import (
    RECORD_ELEMENT_ID,
    RecordDigests,
    extract_record,
    is_addendum,
    is_impact,
    record_digests,
)
from cytorelease.report.shown import check_shown
from cytorelease.report.trust import check_policy, check_trust, trusted_moment
from cytorelease.report.verification import SignatureCheck, VerificationResult
from cytorelease.signature_policy import DEFAULT_POLICY, Role

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.registry import Registry

__all__ = [
    "ADDENDUM_UNCHECKED",
    "IMPACT_UNCHECKED",
    "ContentCheck",
    "SignatureCheck",
    "VerificationResult",
    "ensure_signable",
    "require_coa",
    "verify_bytes",
    "verify_report",
]

# Any one of these shows a file was rendered by cytorelease as a CoA (see require_coa).
_COA_MARKS = (
    b'<meta name="generator" content="cytorelease ',
    b"<!-- cytorelease:signature-area:",
    RECORD_ELEMENT_ID.encode(),
)
# An addendum's own checks: the problems with what it adds and its re-evaluation (none: fine).
ContentCheck = Callable[[dict[str, Any]], list[str]]
ADDENDUM_UNCHECKED = (
    "an addendum is verified with what it adds and the CoA it amends: "
    "`cytorelease verify ADDENDUM.html --coa COA.html --trust registry.yaml`"
)
IMPACT_UNCHECKED = (
    "an impact assessment is verified with its own checks (its summary derived again from its "
    "per-lot outcomes): `cytorelease verify REPORT.html --trust registry.yaml`"
)
# A signature time later than this past the verifier's clock is refused.
_CLOCK_SKEW = timedelta(minutes=5)
_DISPLAY_NAMES = {
    "signer": "printed name",
    "utc_time": "date and time",
    "meaning": "meaning",
    "user_id": "user id",
    "role": "role",
    "comment": "comment",
    "key_fingerprint": "key fingerprint",
}
_DISPLAYED_CHECKED = tuple(_DISPLAY_NAMES.items())


def verify_report(
    path: str | Path,
    *,
    trust: str | Path | None,
    now: datetime | None = None,
    trail: Trail | None = None,
    genesis: str | None = None,
    content_check: ContentCheck | None = None,
) -> VerificationResult:
    """Verify the CoA at ``path`` against the signed registry at ``trust`` (file or folder).

    ``genesis``: the site's pinned registry genesis SHA-256 (``keys init-registry`` prints it);
    a registry with another first version (a whole registry replaced) fails.

    With a ``trail``, the registry must also hold every registry head the trail's ``sign`` rows
    recorded (a registry cut short fails), and the outcome is appended to the audit trail (a
    failure names what failed).

    Without a registry the signatures' integrity is still checked, but the result is not ok:
    a signature by an unknown key proves nothing about who signed.
    """
    from cytorelease.report.registry import load_registry

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such report", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a report file", path=path) from None
    require_coa(data, path=path)
    registry = load_registry(trust) if trust is not None else None
    result = verify_bytes(
        data, registry=registry, path=str(path), now=now, content_check=content_check
    )
    if genesis is not None and registry is not None:
        pinned = genesis.strip().lower()
        if registry.genesis_sha256 != pinned:
            result.problems.append(
                f"the registry is not the site's: its genesis is {registry.genesis_sha256}, "
                f"not the pinned {pinned} (a registry created elsewhere?)"
            )
    if trail is not None and registry is not None:
        _check_trail_heads(trail, registry, result)
    if trail is not None:
        from cytorelease.records.audit import Action

        trail.record(
            Action.VERIFY if result.ok else Action.VERIFICATION_FAILED,
            str(path.absolute()),
            lot=result.lot_id,
            details={
                "signatures": len(result.signatures),
                "failures": result.failures(),
                "trust": str(trust),
            },
        )
    return result


def _check_trail_heads(trail: Trail, registry: Registry, result: VerificationResult) -> None:
    from cytorelease.records.store import open_data
    from cytorelease.report.anchor import trail_head_problems

    _, store = open_data(trail.data_dir)
    with store:
        result.trail_registry_heads, problems = trail_head_problems(store, registry)
    result.problems.extend(problems)


def require_coa(data: bytes, *, path: str | Path | None) -> None:
    """:class:`InputError` (bad input, exit 2) for a file that is no CoA at all.

    A file with none of a CoA's marks (the generator tag, the signature area, the embedded
    record) was never a cytorelease CoA (an empty file, another document, a binary): that is the
    wrong file, not a failed verification. A CoA with any part damaged or cut off still goes on
    to fail verification.
    """
    if not data.strip():
        raise InputError(f"the file is empty ({len(data)} bytes), not a CoA", path=path)
    if not any(mark in data for mark in _COA_MARKS):
        raise InputError(
            "not a cytorelease CoA: the file has none of a CoA's marks (generator tag, "
            "signature area, embedded result record)",
            path=path,
            hint="give the coa-<lot>.html that `cytorelease release` wrote",
        )


def verify_bytes(
    data: bytes,
    *,
    registry: Registry | None,
    path: str | None = None,
    require_trust: bool = True,
    require_signature: bool = True,
    now: datetime | None = None,
    check_clock: bool = True,
    content_check: ContentCheck | None = None,
) -> VerificationResult:
    """Verify a CoA given as bytes (see the module docstring for what is checked).

    ``now`` is the verifier's clock (default: the system clock); ``check_clock=False`` skips
    the "dated in the future" check. The record is also held to ``content_check``: the checks
    of the layers above (the manual records a CoA carries, :mod:`cytorelease.lot.manual_check`;
    what an addendum adds and its re-evaluation, :mod:`cytorelease.addendum`); an addendum
    checked without one fails, so no caller can take its page for granted.
    """
    if check_clock and now is None:
        now = datetime.now(UTC)
    result = VerificationResult(
        path=path,
        trust_checked=registry is not None,
        registry=registry.describe() if registry is not None else None,
    )
    try:
        parts = split_report(data)
    except ValueError as exc:
        result.problems.append(f"{exc}: the file is not a cytorelease CoA or was altered")
        return result
    result.content_sha256 = hashlib.sha256(parts.content).hexdigest()
    digests: RecordDigests | None = None
    created_at: datetime | None = None
    policy = DEFAULT_POLICY
    try:
        record = extract_record(parts.content)
    except InputError as exc:
        result.problems.append(f"content: {exc.problem}")
    else:
        digests = record_digests(record)
        created_at = record_created_at(record)
        result.record_sha256 = digests.record_sha256
        result.lot_id = str((record.get("lot") or {}).get("id"))
        result.disposition = (record.get("evaluation") or {}).get("disposition")
        shown = check_shown(parts.content, record)
        if shown is not None:
            result.problems.append(shown)
        if content_check is not None:
            result.problems.extend(content_check(record))
        elif is_addendum(record):
            result.problems.append(ADDENDUM_UNCHECKED)
        elif is_impact(record):
            result.problems.append(IMPACT_UNCHECKED)
        policy, policy_trouble = policy_of(record)
        for trouble in (policy_trouble, disposition_problem(record)):
            if trouble:
                result.problems.append(trouble)

    result.signatures = _parse_checks(parts.area)
    entries = [c.entry for c in result.signatures]
    if all(e is not None for e in entries):
        _check_area_bytes(
            parts.area, [e for e in entries if e is not None], len(parts.prefix), result
        )
    else:
        result.problems.append("the signature area cannot be rebuilt from unreadable entries")
    for index, check in enumerate(result.signatures):
        if check.entry is not None:
            previous = result.signatures[index - 1].entry if index else None
            _check_entry(
                check, index, previous, result, digests, registry, now if check_clock else None
            )
    for check in result.signatures:
        if check.entry is None:
            continue
        trusted = trusted_moment(check.entry, registry.tsa_certificates())[0] if registry else None
        if registry is not None and check.entry.token_bytes() is None:
            in_force = registry.in_force(parse_utc(check.entry.utc_time))
            if in_force is not None and in_force.tsa_certificates:
                check.problems.append(
                    "it carries no trusted time, but the registry in force at its time trusts a "
                    "time-stamping authority (signed around `sign`, or with its clock set back?)"
                )
        if trusted is not None:
            check.trusted_time = f"{trusted:%Y-%m-%dT%H:%M:%SZ}"
        moment = trusted or parse_utc(check.entry.utc_time)
        # A signature cannot predate the record it signs (judged at the trusted time if any).
        if created_at is not None and min(moment, parse_utc(check.entry.utc_time)) < created_at:
            check.problems.append(
                f"it is dated {check.entry.utc_time}, before the result record was created "
                f"({created_at:%Y-%m-%dT%H:%M:%SZ}): backdated"
            )
    check_policy(
        [c.entry for c in result.signatures],
        [c.problems for c in result.signatures],
        policy=policy,
        disposition=result.disposition,
    )
    if require_signature and not result.signatures:
        result.problems.append("the report carries no signature (a draft is not verifiable)")
    if require_trust and registry is None and result.signatures:
        result.problems.append(
            "no trust registry given: pass --trust registry.yaml, the site's signed registry"
        )
    return result


def _parse_checks(area: bytes) -> list[SignatureCheck]:
    checks = []
    for number, raw in enumerate(read_entries(area), start=1):
        check = SignatureCheck(number=number, entry=None)
        if isinstance(raw, ValueError):
            check.problems.append(str(raw))
        else:
            try:
                check.entry = SignatureEntry.from_dict(raw)
            except (ValueError, TypeError) as exc:
                check.problems.append(f"malformed signature entry: {exc}")
        checks.append(check)
    return checks


def _check_area_bytes(
    area: bytes, entries: list[SignatureEntry], area_offset: int, result: VerificationResult
) -> None:
    """The area must be byte-identical to what the signed entries render to."""
    shown = displayed_fields(area)
    for number, entry in enumerate(entries, start=1):
        values = shown.get(number, {})
        for name, label in _DISPLAYED_CHECKED:
            displayed = values.get(name)
            signed = expected_display(entry, name)
            if displayed != signed:
                result.signatures[number - 1].problems.append(
                    f"the displayed {label} {displayed!r} differs from the signed {signed!r}"
                )
    expected = render_area(entries)
    if expected != area:
        offset = next(
            (i for i, (a, b) in enumerate(zip(area, expected, strict=False)) if a != b),
            min(len(area), len(expected)),
        )
        at = area_offset + len(AREA_BEGIN.encode()) + offset
        result.problems.append(
            f"the signature area differs from what its signed entries render to, first at byte "
            f"{at} of the file (text edited or added outside the signed fields)"
        )


def record_created_at(record: Any) -> datetime | None:
    """The record's ``created_at`` (UTC), or None for a record that does not carry one."""
    raw = record.get("created_at") if isinstance(record, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def _check_entry(
    check: SignatureCheck,
    index: int,
    previous: SignatureEntry | None,
    result: VerificationResult,
    digests: RecordDigests | None,
    registry: Registry | None,
    now: datetime | None,
) -> None:
    entry = check.entry
    assert entry is not None
    problems = check.problems
    _check_cryptography(entry, problems)
    if entry.content_sha256 != result.content_sha256:
        problems.append(
            "it covers other content (sha256 "
            f"{entry.content_sha256[:12]}…, the report's is {str(result.content_sha256)[:12]}…): "
            "the report was changed after signing, or the signature was moved from another report"
        )
    if digests is not None:
        if entry.record_sha256 != digests.record_sha256:
            problems.append("it covers another result record than the one embedded")
        if entry.spec_sha256 != digests.spec_sha256:
            problems.append("it covers another spec hash than the record's")
        if tuple(entry.input_sha256s) != digests.input_sha256s:
            problems.append("it covers other input hashes than the record's")
    if index == 0 and entry.previous_signature is not None:
        problems.append("it names a previous signature but is the first: signatures were removed")
    if index > 0:
        expected = entry_sha256(previous) if previous is not None else None
        if entry.previous_signature != expected:
            problems.append(
                f"the chain is broken: it does not follow signature {index} "
                "(signatures removed, reordered or inserted)"
            )
        elif previous is not None and parse_utc(entry.utc_time) < parse_utc(previous.utc_time):
            problems.append("it is dated before the signature it follows")
    signed_at = parse_utc(entry.utc_time)
    if now is not None and signed_at > now + _CLOCK_SKEW:
        problems.append(f"it is dated in the future ({entry.utc_time})")
    meaning = Meaning(entry.meaning)
    if meaning.is_human == (entry.role == Role.SERVICE):
        problems.append(f"a {entry.role} key cannot sign the meaning '{entry.meaning}'")
    if registry is not None:
        check_trust(entry, registry, problems)
        cut = anchor_problem(entry, check.number, registry)
        if cut:
            problems.append(cut)


def _check_cryptography(entry: SignatureEntry, problems: list[str]) -> None:
    try:
        raw = entry.public_key_bytes()
        signature = entry.signature_bytes()
    except ValueError:
        problems.append("the public key or signature is not valid base64")
        return
    if fingerprint(raw) != entry.key_fingerprint:
        problems.append("the public key does not match its fingerprint")
        return
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, entry.signed_bytes())
    except (InvalidSignature, ValueError):
        problems.append("the Ed25519 signature is not valid for the signed fields")


def ensure_signable(
    data: bytes, *, path: str | None, content_check: ContentCheck | None = None
) -> VerificationResult:
    """The integrity check signing runs first; no trust needed, and a draft is fine.

    The clock is left out: signing compares its own time with the last signature's.
    """
    require_coa(data, path=path)
    result = verify_bytes(
        data,
        registry=None,
        path=path,
        require_trust=False,
        require_signature=False,
        check_clock=False,
        content_check=content_check,
    )
    if not result.ok:
        raise SignatureError(
            "refusing to sign a report that fails verification: " + "; ".join(result.failures()),
            path=path,
        )
    return result
