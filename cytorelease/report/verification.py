"""What ``verify`` found: one check per signature and the document's own problems.

Kept apart from the checks themselves (:mod:`~cytorelease.report.verify`) so a document kind
verified on top of a CoA's checks (an addendum, :mod:`cytorelease.addendum`) adds its problems
to the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cytorelease.report.entry import SignatureEntry

__all__ = ["SignatureCheck", "VerificationResult"]


@dataclass
class SignatureCheck:
    """The outcome for one signature, numbered from 1 in document order."""

    number: int
    entry: SignatureEntry | None
    problems: list[str] = field(default_factory=list)
    # The verified RFC 3161 time, or None: "no trusted time" (the signer's clock only).
    trusted_time: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.entry is None:
            return f"signature {self.number}"
        return f"signature {self.number} ({self.entry.signer}, {self.entry.meaning})"

    def to_dict(self) -> dict[str, Any]:
        entry = self.entry
        anchor = entry.registry_anchor if entry else None
        return {
            "number": self.number,
            "ok": self.ok,
            "signer": entry.signer if entry else None,
            "user_id": entry.user_id if entry else None,
            "role": entry.role if entry else None,
            "meaning": entry.meaning if entry else None,
            "utc_time": entry.utc_time if entry else None,
            "key_fingerprint": entry.key_fingerprint if entry else None,
            "deviation": entry.deviation if entry else None,
            "trusted_time": self.trusted_time,
            "registry_version": anchor[0] if anchor else None,
            "registry_sha256": anchor[1] if anchor else None,
            "problems": list(self.problems),
        }


@dataclass
class VerificationResult:
    """What ``verify`` found: document-level problems and one check per signature."""

    path: str | None
    content_sha256: str | None = None
    record_sha256: str | None = None
    lot_id: str | None = None
    disposition: str | None = None
    trust_checked: bool = False
    registry: dict[str, Any] | None = None
    # How many registry heads the audit trail's sign rows recorded (None: no trail checked).
    trail_registry_heads: int | None = None
    problems: list[str] = field(default_factory=list)
    signatures: list[SignatureCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(s.ok for s in self.signatures)

    def failures(self) -> list[str]:
        """One line per problem: ``report: ...`` or ``signature 2 (name, meaning): ...``."""
        lines = [f"report: {p}" for p in self.problems]
        for check in self.signatures:
            lines.extend(f"{check.describe()}: {p}" for p in check.problems)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "lot": self.lot_id,
            "disposition": self.disposition,
            "content_sha256": self.content_sha256,
            "record_sha256": self.record_sha256,
            "trust_checked": self.trust_checked,
            "registry": self.registry,
            "trail_registry_heads": self.trail_registry_heads,
            "problems": list(self.problems),
            "signatures": [s.to_dict() for s in self.signatures],
            "failures": self.failures(),
        }
