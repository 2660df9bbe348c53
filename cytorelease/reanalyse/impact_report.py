"""The impact report: the impact record as one self-contained HTML page, signed or not.

The page is a CoA-like signed document (:mod:`cytorelease.report.impact_page`, the
``impact.html.j2`` template): the embedded record, the page it renders to and the signature
area, so ``cytorelease verify REPORT --trust R`` checks it offline as it checks a CoA, and
:func:`~cytorelease.reanalyse.impact.impact_problems` on top. Whoever runs the assessment signs
it ``performed`` (``reanalyse --sign KEY``: the key is unlocked before the run, so a wrong
passphrase costs no re-analysis); QA then signs it ``reviewed`` with ``cytorelease sign``. It
is never ``approved``: an impact assessment releases no lot, and approving the change is change
control's decision, not this document's. An existing file is never replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.reanalyse.impact import impact_problems

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.entry import SignatureEntry
    from cytorelease.report.unlock import Unlocked

__all__ = ["WrittenReport", "refuse_existing", "write_impact_report"]


@dataclass(frozen=True, slots=True)
class WrittenReport:
    path: Path
    record: dict[str, Any]
    signature: SignatureEntry | None

    def to_dict(self) -> dict[str, Any]:
        from cytorelease.report.record import record_digests

        return {
            "path": str(self.path),
            "record_sha256": record_digests(self.record).record_sha256,
            "signature": self.signature.to_dict() if self.signature else None,
        }


def refuse_existing(out: str | Path) -> None:
    """Before the run: a report is written to a new file only."""
    if Path(out).exists():
        raise InputError("exists; an impact report is never replaced", path=out,
                         hint="choose another --out file")  # fmt: skip


def _write_new(path: Path, data: bytes) -> None:
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        refuse_existing(path)
        raise
    with os.fdopen(handle, "wb") as out:
        out.write(data)


def write_impact_report(
    record: dict[str, Any],
    out: str | Path,
    *,
    signing: Unlocked | None = None,
    comment: str | None = None,
    trail: Trail | None = None,
    now: datetime | None = None,
) -> WrittenReport:
    """Stamp, check (as a verifier will), render, sign as ``performed`` with the unlocked key
    ``signing`` (if any) and write the report at ``out``."""
    from cytorelease.report.entry import Meaning
    from cytorelease.report.impact_page import IMPACT_TEMPLATE
    from cytorelease.report.render import render_coa, stamp_rendering
    from cytorelease.report.sign import sign_bytes, signed_details
    from cytorelease.report.unlock import audit_signing

    out = Path(out)
    refuse_existing(out)
    stamped = stamp_rendering(record, template=IMPACT_TEMPLATE, generated_at=now)
    problems = impact_problems(stamped)
    if problems:  # what a verifier would find; never written
        raise InputError("the impact report would not verify: " + "; ".join(problems), path=out)
    data = render_coa(stamped).encode("utf-8")
    entry = None
    if signing is not None:
        try:
            data, entry = sign_bytes(
                data, private_key=signing.private_key, signer=signing.signer,
                meaning=Meaning.PERFORMED, comment=comment, now=now, path=str(out),
                registry=signing.registry, tsa=signing.tsa, content_check=impact_problems,
            )  # fmt: skip
        except CytoreleaseError as exc:  # refused with the passphrase accepted: audited
            audit_signing(trail, out, "sign-refused", {"meaning": "performed",
                          "user_id": signing.signer.user_id, "problem": exc.problem,
                          "key_identity": signing.key_identity, "passphrase": "accepted",
                          "purpose": "impact assessment"})  # fmt: skip
            raise
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_new(out, data)
    if signing is not None and entry is not None:
        audit_signing(trail, out, "sign", signed_details(entry, signing.registry,
                                                         signing.key_identity))  # fmt: skip
    return WrittenReport(out, stamped, entry)
