"""``cytorelease addendum``: issue a signed addendum to a signed CoA.

The issuer names the result (attribute and value, typed again: a third check of the verified
record); the value itself must already be entered and verified blind by two people in the lot's
manual record. The CoA (and every earlier addendum given) must verify against the registry. The
lot is re-evaluated with the CoA's spec version, found in the library by id and version and
held to the CoA's spec hash. The addendum is checked as a verifier will before it is signed
(``performed``) and written; an existing file is never replaced.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.addendum.chain import Amended, chain_problems, open_amended, rejected_by
from cytorelease.addendum.content import content_problems
from cytorelease.addendum.record import (
    ADDABLE,
    Addition,
    build_addendum_record,
    criteria_of,
    reevaluate,
)
from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.provenance import canonical_json

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.entry import SignatureEntry
    from cytorelease.report.registry import Registry
    from cytorelease.report.unlock import Unlocked
    from cytorelease.spec.loader import LoadedSpec

__all__ = ["IssuedAddendum", "issue_addendum"]

_ADDED_KEYS = ("attribute", "criteria", "value", "unit", "entered_by", "verified_by")


@dataclass(frozen=True, slots=True)
class IssuedAddendum:
    path: Path
    record: dict[str, Any]
    signature: SignatureEntry

    def to_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "addendum": str(self.path),
            "number": record["number"],
            "lot": record["lot"].get("id"),
            "amends": record["amends"],
            "added": [{k: a[k] for k in _ADDED_KEYS} for a in record["added"]],
            "changes": record["changes"],
            "disposition": record["disposition"],
            "signature": self.signature.to_dict(),
        }


def _spec_of(amended: Amended) -> tuple[LoadedSpec, str]:
    """The CoA's spec version from the library, with its text, held to the CoA's hash."""
    from cytorelease._yaml import read_document_text
    from cytorelease.errors import SpecError
    from cytorelease.spec.loader import parse_spec_text
    from cytorelease.spec.registry import resolve_spec

    spec = (amended.coa.record.get("evaluation") or {}).get("spec") or {}
    reference = f"{spec.get('id')}@{spec.get('version')}"
    found = resolve_spec(reference)
    text = read_document_text(found.path, error=SpecError, what="spec file")
    loaded = parse_spec_text(text, found.path)
    if loaded.sha256 != spec.get("sha256"):
        raise SpecError(
            f"{reference} in the library has sha256 {loaded.sha256[:12]}…, the CoA was judged "
            f"against {str(spec.get('sha256'))[:12]}…: not the CoA's spec",
            path=found.path,
            hint="issue the addendum with the library the CoA was released from",
        )
    return loaded, text


def _check_base(amended: Amended, loaded: LoadedSpec) -> None:
    """The CoA's own measurements must give its own verdicts again, so every change the
    addendum shows comes from what it adds."""
    base = amended.base.record
    definitions = [d for d in base.get("definitions") or [] if isinstance(d, dict)]
    again = reevaluate(loaded, base.get("measurements") or [], definitions)
    before = base.get("evaluation") or {}
    for key in ("criteria", "disposition"):
        if canonical_json(again.get(key)) != canonical_json(before.get(key)):
            raise InputError(
                f"re-evaluating its own measurements with {loaded.ref} does not give its "
                f"{key} again; an addendum would show changes it did not make",
                path=amended.base.path,
            )


def _addition(
    amended: Amended,
    attribute: str,
    value: str,
    unit: str | None,
    lot_dir: Path,
    registry: Registry,
) -> Addition:
    from cytorelease.attributes import ATTRIBUTES
    from cytorelease.lot.manual_inputs import manual_measurement
    from cytorelease.lot.record import canonical_form
    from cytorelease.manual.checking import State, check_record
    from cytorelease.manual.events import MANUAL_DIR, events_path
    from cytorelease.manual.values import parse_value, values_match

    if attribute not in ATTRIBUTES or not attribute.startswith("manual."):
        raise InputError(f"{attribute!r} is not a manual attribute", path=amended.base.path,
                         hint="an addendum adds a manual result, e.g. manual.sterility")  # fmt: skip
    criteria = criteria_of(amended.base.record.get("evaluation") or {}, attribute)
    if not criteria:
        raise InputError(f"the CoA's spec has no criterion on {attribute}",
                         path=amended.base.path)  # fmt: skip
    judged = [c for c in criteria if str(c.get("verdict")).lower() not in ADDABLE]
    if judged:
        raise InputError(
            f"{attribute} already has a result ({judged[0].get('verdict')}, "
            f"{judged[0].get('reported')!r}); an addendum adds results, it never replaces one",
            path=amended.base.path,
            hint="a result found wrong after release is a deviation: investigate it, and "
            "release the lot again",
        )
    path = events_path(lot_dir, attribute)
    lot = amended.coa.record.get("lot") or {}
    # the reading, bounds and checks a release applies to the same file
    result = check_record(path, lot_id=str(lot.get("id")),
                         chain_of_identity=str(lot.get("chain_of_identity")),
                         attribute=attribute, registry=registry)  # fmt: skip
    if result is None:
        raise InputError(
            f"no manual record of {attribute} in {lot_dir / MANUAL_DIR}",
            path=path,
            hint="enter it with `cytorelease manual enter` and have a second person verify it",
        )
    if result.state is not State.VERIFIED or result.verified is None:
        raise InputError(f"{attribute} is {result.state}: {result.note}", path=path,
                         hint="a second person verifies it with `cytorelease manual verify`")  # fmt: skip
    typed, typed_unit = parse_value(attribute, value, unit)
    if not values_match(result.value, result.unit, typed, typed_unit):
        raise InputError(
            f"{attribute}: the value given differs from the one entered and verified",
            path=path,
            hint="give the verified value; a changed value is entered again (--reason) and "
            "verified by a second person first",
        )
    measurement = canonical_form(manual_measurement(attribute, result).to_dict())
    was = [m for m in amended.base.record.get("measurements") or []
           if m.get("attribute") == attribute]  # fmt: skip
    if was and was[0].get("value") != measurement["value"]:
        raise InputError(
            f"{attribute} shows {was[0].get('value')!r} (not verified) on the CoA, and the "
            f"verified value is {measurement['value']!r}: a correction, not an addendum",
            path=path,
            hint="investigate it as a deviation, and release the lot again",
        )
    return Addition(
        attribute=attribute,
        measurement=measurement,
        value=result.value,
        unit=result.unit,
        entered_by=result.entered.user_id,
        entered_at=result.entered.utc_time,
        verified_by=result.verified.user_id,
        verified_at=result.verified.utc_time,
        record_file=f"{MANUAL_DIR}/{path.name}",
        record_sha256=result.file_sha256,
        record_text=result.text,
    )


def _refuse_fork(trail: Trail | None, amended: Amended) -> None:
    """With a data folder: an addendum already issued at this place of the chain (the same CoA,
    the same number) makes this one a fork; the next one follows it (--previous)."""
    if trail is None:
        return
    from cytorelease.records.audit import Action, entries_of
    from cytorelease.records.store import open_data

    coa_sha = amended.coa.result.content_sha256
    _, store = open_data(trail.data_dir)
    with store:
        rows = entries_of(store, Action.ADDENDUM)
    for row in rows:
        number = row.details.get("number")
        if (
            row.details.get("coa_content_sha256") == coa_sha
            and isinstance(number, int)
            and (number >= amended.number)
        ):
            raise InputError(
                f"addendum {number} to this CoA was already issued ({row.object}, audit row "
                f"{row.sequence}); this one would fork the chain",
                path=amended.coa.path,
                hint="issue the next one with --previous naming each earlier addendum",
            )


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a file that must not exist yet (an addendum is never replaced)."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError("exists; an addendum is never replaced", path=path,
                         hint="choose another --out file") from None  # fmt: skip
    with os.fdopen(handle, "wb") as out:
        out.write(data)


def _prepare_and_sign(
    amended: Amended,
    unlocked: Unlocked,
    *,
    attribute: str,
    value: str,
    unit: str | None,
    lot_dir: Path,
    comment: str | None,
    now: datetime | None,
    out: Path,
) -> tuple[dict[str, Any], bytes, SignatureEntry]:
    """The addendum record, checked as a verifier will check it, and its signed page."""
    from cytorelease.report.addendum_page import ADDENDUM_TEMPLATE
    from cytorelease.report.entry import Meaning
    from cytorelease.report.render import render_coa, stamp_rendering
    from cytorelease.report.sign import sign_bytes

    signers = unlocked.registry
    loaded, spec_text = _spec_of(amended)
    _check_base(amended, loaded)
    addition = _addition(amended, attribute, value, unit, lot_dir, signers)
    record = build_addendum_record(base=amended.base.record, links=amended.links(),
                                   number=amended.number, loaded=loaded, spec_text=spec_text,
                                   additions=[addition], created_at=now)  # fmt: skip
    record = stamp_rendering(record, template=ADDENDUM_TEMPLATE, generated_at=now)

    def check(candidate: dict[str, Any]) -> list[str]:
        return content_problems(candidate, signers) + chain_problems(candidate, amended)

    problems = check(record)
    if problems:  # what a verifier would find; never signed
        raise InputError("the addendum would not verify: " + "; ".join(problems), path=out)
    signed, entry = sign_bytes(
        render_coa(record).encode("utf-8"), private_key=unlocked.private_key,
        signer=unlocked.signer, meaning=Meaning.PERFORMED, comment=comment, now=now,
        path=str(out), registry=signers, tsa=unlocked.tsa, content_check=check,
    )  # fmt: skip
    return record, signed, entry


def issue_addendum(
    coa: str | Path,
    *,
    attribute: str,
    value: str,
    lot_dir: str | Path,
    key_path: str | Path,
    passphrase: str,
    registry: str | Path,
    out: str | Path,
    unit: str | None = None,
    previous: Sequence[str | Path] = (),
    comment: str | None = None,
    trail: Trail | None = None,
    now: datetime | None = None,
    tsa: str | None = None,
) -> IssuedAddendum:
    """Issue, sign (``performed``) and write the next addendum to ``coa`` at ``out``."""
    from cytorelease.records.audit import Action
    from cytorelease.report.sign import signed_details
    from cytorelease.report.unlock import audit_signing, unlock_signer

    out = Path(out)
    if out.exists():
        raise InputError("exists; an addendum is never replaced", path=out,
                         hint="choose another --out file")  # fmt: skip
    # the key first, as `sign` does: a wrong passphrase is counted whatever else is wrong
    unlocked = unlock_signer(key_path, passphrase, registry, target=out, purpose="performed",
                             trail=trail, now=now, tsa=tsa)  # fmt: skip
    try:
        amended = open_amended(coa, previous, unlocked.registry, now=now)
        for document in (amended.coa, *amended.previous):
            who = rejected_by(document)
            if who:
                raise InputError(f"was rejected by {who}: a rejected lot takes no addendum",
                                 path=document.path)  # fmt: skip
        _refuse_fork(trail, amended)
        record, signed, entry = _prepare_and_sign(
            amended, unlocked, attribute=attribute, value=value, unit=unit,
            lot_dir=Path(lot_dir), comment=comment, now=now, out=out,
        )  # fmt: skip
    except CytoreleaseError as exc:  # refused with the passphrase accepted: audited as such
        audit_signing(trail, out, "sign-refused", {"meaning": "performed",
                      "user_id": unlocked.signer.user_id, "problem": exc.problem,
                      "key_identity": unlocked.key_identity, "passphrase": "accepted",
                      "purpose": "addendum"})  # fmt: skip
        raise
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_new(out, signed)
    audit_signing(trail, out, "sign", signed_details(entry, unlocked.registry,
                                                     unlocked.key_identity))  # fmt: skip
    if trail is not None:
        from cytorelease.report.record import record_digests

        trail.record(
            Action.ADDENDUM,
            str(out.absolute()),
            lot=str(record["lot"].get("id")),
            details={
                "number": record["number"],
                "coa_content_sha256": record["amends"]["coa"]["content_sha256"],
                "record_sha256": record_digests(record).record_sha256,
                "attribute": attribute,
                "disposition": record["disposition"],
                "user_id": entry.user_id,
                "key_identity": unlocked.key_identity,
                "registry_head_sha256": unlocked.registry.head_sha256,
            },
        )
    return IssuedAddendum(out, record, entry)
