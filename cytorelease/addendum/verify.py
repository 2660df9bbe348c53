"""``cytorelease verify ADDENDUM --coa COA``: an addendum checked offline, whole.

On top of everything ``verify`` checks of any signed document (every byte, every signature,
each signer's authority at the signature's trusted time, the signature policy, the page being
what its record renders to), an addendum must hold up on its own content
(:mod:`~cytorelease.addendum.content`) and against the documents it amends: the CoA, which must
verify itself, and every earlier addendum (:mod:`~cytorelease.addendum.chain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import CytoreleaseError

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.registry import Registry
    from cytorelease.report.verification import VerificationResult
    from cytorelease.report.verify import ContentCheck

__all__ = ["addendum_check", "verify_addendum"]


def addendum_check(
    registry: Registry | None,
    coa: str | Path | None,
    previous: Sequence[str | Path] = (),
    *,
    now: datetime | None = None,
    trail_dir: Path | None = None,
) -> ContentCheck:
    """What ``sign`` and ``verify`` hold an addendum's record to: its content, and (with the
    ``coa``) its chain. Without the CoA the chain is a problem: it cannot be taken on trust.
    With the data folder ``trail_dir``, another addendum its trail recorded at the same place
    of the chain (a fork) is a problem too."""
    from cytorelease.addendum.chain import chain_problems, open_amended
    from cytorelease.addendum.content import content_problems

    def check(record: dict[str, Any]) -> list[str]:
        problems = content_problems(record, registry)
        if coa is None:
            return [*problems, "addendum: the CoA it amends was not given (--coa COA.html)"]
        try:
            amended = open_amended(coa, previous, registry, now=now)
        except CytoreleaseError as exc:
            return [*problems, f"addendum: {exc.path or coa}: {exc.problem}"]
        problems += [f"addendum: {p}" for p in chain_problems(record, amended)]
        if trail_dir is not None:
            problems += _fork_problems(record, trail_dir)
        return problems

    return check


def _fork_problems(record: dict[str, Any], trail_dir: Path) -> list[str]:
    from cytorelease.records.audit import Action, entries_of
    from cytorelease.records.store import open_data
    from cytorelease.report.record import record_digests

    coa_sha = ((record.get("amends") or {}).get("coa") or {}).get("content_sha256")
    mine = record_digests(record).record_sha256
    _, store = open_data(trail_dir)
    with store:
        rows = entries_of(store, Action.ADDENDUM)
    return [
        f"addendum: the audit trail records another addendum {row.details.get('number')} to "
        f"this CoA ({row.object}, row {row.sequence}): the chain was forked"
        for row in rows
        if row.details.get("coa_content_sha256") == coa_sha
        and row.details.get("number") == record.get("number")
        and row.details.get("record_sha256") != mine
    ]


def verify_addendum(
    path: str | Path,
    *,
    coa: str | Path | None,
    trust: str | Path | None,
    previous: Sequence[str | Path] = (),
    now: datetime | None = None,
    trail: Trail | None = None,
    genesis: str | None = None,
) -> VerificationResult:
    """Verify the addendum at ``path`` against the ``coa`` it amends and the earlier addenda
    ``previous`` (in order), with the signed registry at ``trust``."""
    from cytorelease.addendum.chain import read_document
    from cytorelease.report.registry import load_registry
    from cytorelease.report.verify import verify_report

    for given in (coa, *previous):
        if given is not None:
            read_document(Path(given))  # bad input before any verification
    registry = load_registry(trust) if trust is not None else None
    return verify_report(
        path,
        trust=trust,
        now=now,
        trail=trail,
        genesis=genesis,
        content_check=addendum_check(
            registry, coa, previous, now=now, trail_dir=trail.data_dir if trail else None
        ),
    )
