"""The registry head a verifier must hold: what the signatures and the audit trail anchor.

A registry cut short (its last versions removed, e.g. the one that revoked a key) still loads:
every version in it is genuine and chained. Judged against it, a signature by the revoked key
would pass. Two records name how far the registry had grown, so a cut one is refused:

* every signature entry signed since the anchor names, in its signed fields, the registry head
  it was made under (version and SHA-256): the registry given must hold that very version, so
  one honest signature made after a revocation anchors it for every signature of the report;
* every ``sign`` row of the audit trail names the head the signing used
  (``registry_head_sha256``): with a data folder the registry given must hold each of them, so
  a signing anywhere at the site after the revocation anchors it.

An entry signed before the anchor existed, or without a registry, carries none and proves
nothing about the registry's length; nor does a report whose only signatures were made with a
registry already cut short, verified without the trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cytorelease.report.registry import version_sha256

if TYPE_CHECKING:
    from cytorelease.records.store import Store
    from cytorelease.report.entry import SignatureEntry
    from cytorelease.report.registry import Registry

__all__ = ["anchor_problem", "trail_head_problems"]


def anchor_problem(entry: SignatureEntry, number: int, registry: Registry) -> str | None:
    """What is wrong with ``registry`` for signature ``number``'s anchor; None when it holds
    the anchored version (or the entry has no anchor)."""
    anchor = entry.registry_anchor
    if anchor is None:
        return None
    version, sha256 = anchor
    last = len(registry.versions)
    if version > last:
        return (
            f"the registry given ends at version {last} but signature {number} was made under "
            f"version {version}: a registry cut short"
        )
    held = version_sha256(registry.raw[version - 1])
    if held != sha256:
        return (
            f"the registry given holds another version {version} (sha256 {held[:16]}…) than "
            f"the one signature {number} was made under ({sha256[:16]}…): a registry rewritten "
            "or replaced"
        )
    return None


def trail_head_problems(store: Store, registry: Registry) -> tuple[int, list[str]]:
    """(how many registry heads the trail's ``sign`` rows recorded, what is wrong with
    ``registry`` for them): it must hold every one. Rows that name another registry's genesis
    belong to another registry (the genesis pin is the check for that)."""
    from cytorelease.records.audit import Action, entries_of

    held = {version_sha256(raw): index for index, raw in enumerate(registry.raw, start=1)}
    heads: dict[str, tuple[list[int], Any]] = {}
    for row in entries_of(store, Action.SIGN):
        head = row.details.get("registry_head_sha256")
        genesis = row.details.get("registry_genesis_sha256")
        if not isinstance(head, str) or (
            isinstance(genesis, str) and genesis != registry.genesis_sha256
        ):
            continue
        rows, _ = heads.setdefault(head, ([], row.details.get("registry_version")))
        rows.append(row.sequence)
    last = len(registry.versions)
    problems = []
    for head, (rows, version) in heads.items():
        if head in held:
            continue
        which = f"row {rows[0]}" + (f" and {len(rows) - 1} more" if len(rows) > 1 else "")
        if isinstance(version, int) and not isinstance(version, bool) and version > last:
            problems.append(
                f"the registry given ends at version {last} but the audit trail ({which}) "
                f"recorded a signing under version {version}: a registry cut short"
            )
        else:
            problems.append(
                f"the registry given does not hold the registry version the audit trail "
                f"({which}) recorded a signing under (sha256 {head[:16]}…): a registry cut "
                "short or rewritten"
            )
    return len(heads), problems
