"""What one analysis of a lot produced: measurements with their evidence, or why there are none."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.measurement import Measurement

if TYPE_CHECKING:
    from cytorelease.flow.gating.result import GatingResult

__all__ = ["AnalysisOutcome", "AnalysisStatus", "InputFile"]


class AnalysisStatus(StrEnum):
    DONE = "done"
    FAILED_ACCEPTANCE = "failed acceptance"  # ran, but its run/fit acceptance failed: no values
    NOT_IN_MANIFEST = "not in manifest"
    UNAVAILABLE = "unavailable"  # this cytorelease has no such analysis


@dataclass(frozen=True, slots=True)
class InputFile:
    role: str
    path: str  # relative to the lot folder
    sha256: str
    kind: str

    @classmethod
    def of(cls, lot_dir: Path, file: Path, *, role: str, kind: str, sha256: str) -> InputFile:
        """``sha256`` is the hash of the bytes the analysis read (never a second read of
        ``file``, which could have changed since)."""
        relative = file.resolve().relative_to(lot_dir.resolve()).as_posix()
        return cls(role=role, path=relative, sha256=sha256, kind=kind)

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256, "kind": self.kind}


@dataclass(slots=True)
class AnalysisOutcome:
    analysis: str
    status: AnalysisStatus
    measurements: list[Measurement] = field(default_factory=list)
    inputs: list[InputFile] = field(default_factory=list)
    methods: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    # the tubes as gated (for `release --export-wsp`); not part of the record
    gated: list[GatingResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis,
            "status": self.status.value,
            "reason": self.reason,
            "flags": list(self.flags),
            "summary": self.summary,
        }
