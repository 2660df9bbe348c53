"""Cytotoxicity from a flow killing assay: two tubes, one gating template, one number.

    cytotoxicity % = 100 x (1 - live targets with effectors / live targets alone)

Tubes are never acquired completely, so raw counts do not compare: with counting beads (the same
number added to every tube) each tube's live targets are counted per bead; with a fixed volume,
per nanolitre of ``$VOL`` (FCS 3.1: the volume acquired, in nL) when both files record it, else as raw counts (equal volumes assumed,
and said so). The 95% interval treats the four counts as Poisson. A negative value (more live
targets with effectors than alone) is reported as it is, never clipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cytorelease.errors import InputError
from cytorelease.measurement import Measurement, MethodRef
from cytorelease.potency.assay import validate_assay_file
from cytorelease.potency.elisa import Check

if TYPE_CHECKING:
    from cytorelease.flow.gating import GatingResult

__all__ = [
    "CountingMethod",
    "CytotoxAssay",
    "CytotoxResult",
    "analyse_cytotoxicity",
    "load_cytotox_assay",
]


class CountingMethod(StrEnum):
    BEADS = "beads"
    FIXED_VOLUME = "fixed-volume"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Populations(_Strict):
    live_targets: str = Field(description="gate id of the viable target cells")
    beads: str | None = Field(default=None, description="gate id of the counting beads")


class CytotoxAcceptance(_Strict):
    min_live_targets_alone: int = Field(default=1000, ge=1)
    min_beads: int = Field(default=1000, ge=1)


class CytotoxReporting(_Strict):
    decimals: int = Field(default=1, ge=0, le=6)


class CytotoxAssay(_Strict):
    schema_version: Literal[1]  # or, in files written before, schema: cytorelease.assay/1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str
    kind: Literal["potency-cytotox"]
    title: str
    gating_template: str
    populations: Populations
    counting: CountingMethod = CountingMethod.BEADS
    effector_to_target: float | None = Field(default=None, gt=0)
    acceptance: CytotoxAcceptance = CytotoxAcceptance()
    reporting: CytotoxReporting = CytotoxReporting()


@dataclass(frozen=True, slots=True)
class TubeCount:
    path: str
    sha256: str
    live_targets: int
    beads: int | None
    volume_nl: float | None
    normalised: float | None  # live targets per bead, per uL, or raw

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "live_targets": self.live_targets,
            "beads": self.beads,
            "volume_nl": self.volume_nl,
            "normalised": self.normalised,
        }


@dataclass(frozen=True, slots=True)
class CytotoxResult:
    assay: CytotoxAssay
    assay_path: Path
    assay_sha256: str
    template: dict[str, str]
    with_effectors: TubeCount
    targets_alone: TubeCount
    cytotoxicity_pct: float | None
    lower: float | None
    upper: float | None
    checks: tuple[Check, ...]
    notes: tuple[str, ...]
    measurement: Measurement
    # both tubes as gated (with effectors, targets alone): for a workspace of the release
    gated: tuple[GatingResult, ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        from cytorelease.provenance import software

        return {
            "cytotoxicity_pct": self.cytotoxicity_pct,
            "ci95": [self.lower, self.upper],
            "counting": self.assay.counting.value,
            "tubes": {
                "with_effectors": self.with_effectors.to_dict(),
                "targets_alone": self.targets_alone.to_dict(),
            },
            "acceptance": {"passed": self.passed, "checks": [c.to_dict() for c in self.checks]},
            "notes": list(self.notes),
            "measurements": [self.measurement.to_dict()],
            "inputs": {
                "assay": {
                    "id": self.assay.id,
                    "version": self.assay.version,
                    "sha256": self.assay_sha256,
                    "path": str(self.assay_path),
                },
                "gating_template": dict(self.template),
            },
            "software": software(),
        }


def load_cytotox_assay(name: str | Path) -> tuple[CytotoxAssay, Path, str]:
    return validate_assay_file(name, CytotoxAssay, "potency-cytotox")


def _volume(keywords: Any) -> float | None:
    """``$VOL``: the sample volume acquired, in nanolitres (FCS 3.1)."""
    text = keywords.get("$VOL") if hasattr(keywords, "get") else None
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value and value > 0 else None


def _count(gating: GatingResult, assay: CytotoxAssay) -> TubeCount:
    sample = gating.sample
    live = gating.count(assay.populations.live_targets)
    beads = gating.count(assay.populations.beads) if assay.populations.beads else None
    volume = _volume(sample.keywords) if assay.counting is CountingMethod.FIXED_VOLUME else None
    if assay.counting is CountingMethod.BEADS:
        normalised = live / beads if beads else None
    else:
        normalised = live / volume if volume else float(live)
    return TubeCount(sample.path.name, sample.sha256, live, beads, volume, normalised)


def analyse_cytotoxicity(
    with_effectors: str | Path, targets_alone: str | Path, assay_name: str | Path
) -> CytotoxResult:
    """Gate both tubes with the assay's template and compute % specific lysis."""
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.gating import gate_sample, load_template

    assay, assay_path, assay_sha = load_cytotox_assay(assay_name)
    if assay.counting is CountingMethod.BEADS and not assay.populations.beads:
        raise InputError(
            "counting: beads needs populations.beads (the gate id of the beads)", path=assay_path
        )
    template = load_template(assay.gating_template)
    tube_e, tube_t = read_fcs(with_effectors), read_fcs(targets_alone)
    if tube_e.sha256 == tube_t.sha256:
        raise InputError(
            "the targets-alone tube is the same file as the tube with effectors",
            path=targets_alone,
            hint="give the co-culture tube first, then the targets-alone tube",
        )
    gated = (gate_sample(tube_e, template), gate_sample(tube_t, template))
    for gating in gated:
        for gate_id in filter(None, (assay.populations.live_targets, assay.populations.beads)):
            if gate_id not in gating.membership:
                raise InputError(
                    f"gating template {template.id} has no gate {gate_id!r}",
                    path=assay_path,
                    hint=f"gates: {', '.join(gating.membership)}",
                )
    notes: list[str] = []
    count_e, count_t = (_count(g, assay) for g in gated)
    if assay.counting is CountingMethod.FIXED_VOLUME and not (
        count_e.volume_nl and count_t.volume_nl
    ):
        notes.append("no $VOL in both files: equal acquired volumes assumed")
    checks = _checks(gated, count_e, count_t, assay)
    value = lower = upper = None
    if all(c.passed for c in checks) and count_e.normalised is not None and count_t.normalised:
        ratio = count_e.normalised / count_t.normalised
        value = 100.0 * (1.0 - ratio)
        lower, upper = _interval(count_e, count_t, ratio, assay.counting)
    template_ref = {"id": template.id, "version": template.version, "sha256": template.sha256}
    failed = [c.name for c in checks if not c.passed]
    details: dict[str, Any] = {
        "counting": assay.counting.value,
        "with_effectors": count_e.to_dict(),
        "targets_alone": count_t.to_dict(),
        "ci95": [lower, upper],
        "gating_template": template_ref,
        "effector_to_target": assay.effector_to_target,
        "notes": list(notes),
    }
    if failed:
        details["reason"] = f"assay acceptance failed: {', '.join(failed)}"
    measurement = Measurement(
        "potency.cytotoxicity_pct",
        value,
        "%",
        MethodRef("assay", assay.id, assay.version, assay_sha),
        (count_e.sha256, count_t.sha256),
        details,
    )
    return CytotoxResult(
        assay,
        assay_path,
        assay_sha,
        template_ref,
        count_e,
        count_t,
        value,
        lower,
        upper,
        checks,
        tuple(notes),
        measurement,
        gated,
    )


def _checks(
    gated: tuple[GatingResult, GatingResult],
    count_e: TubeCount,
    count_t: TubeCount,
    assay: CytotoxAssay,
) -> tuple[Check, ...]:
    from cytorelease.flow.gating import FlagCode

    unplaced = [
        f"{label}: {flag.message}"
        for label, gating in zip(("with effectors", "targets alone"), gated, strict=True)
        for flag in gating.flags
        if flag.code is FlagCode.NOT_PLACED
    ]
    rules = assay.acceptance
    checks = [
        Check("gating", not unplaced, "all gates placed" if not unplaced else "; ".join(unplaced)),
        Check(
            "live_targets_alone",
            count_t.live_targets >= rules.min_live_targets_alone,
            f"{count_t.live_targets} live targets alone (minimum {rules.min_live_targets_alone})",
        ),
    ]
    if assay.counting is CountingMethod.BEADS:
        beads = (count_e.beads or 0, count_t.beads or 0)
        checks.append(
            Check(
                "beads",
                min(beads) >= rules.min_beads,
                f"{beads[0]} and {beads[1]} beads (minimum {rules.min_beads} per tube)",
            )
        )
    return tuple(checks)


def _interval(
    count_e: TubeCount, count_t: TubeCount, ratio: float, counting: CountingMethod
) -> tuple[float | None, float | None]:
    """95% interval from Poisson counts: var(ln ratio) = sum of 1/count (delta method)."""
    counts = [count_e.live_targets, count_t.live_targets]
    if counting is CountingMethod.BEADS:
        counts += [count_e.beads or 0, count_t.beads or 0]
    if ratio <= 0 or min(counts) <= 0:
        return None, None
    half = 1.959963984540054 * math.sqrt(sum(1.0 / c for c in counts))
    return 100.0 * (1.0 - ratio * math.exp(half)), 100.0 * (1.0 - ratio * math.exp(-half))
