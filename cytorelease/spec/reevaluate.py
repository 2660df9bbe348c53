"""Re-evaluation for audits: would these lots have passed under another spec version?

Each lot's recorded measurements are evaluated under every given spec version; criteria whose
verdicts differ are *flips*, each explained by the spec diff (the changed fields, or the changed
criteria it depends on). Over many lots a summary counts disposition changes and the criteria
that flipped.

An existing result is never modified: each evaluation is written as a new what-if record,
``whatif-<product>@<version>-<UTC time>.json`` with ``"what_if": true`` and the sha256 of the
original result, beside the result (or into ``out_dir``). Files are created exclusively, so an
existing record is never overwritten either.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from cytorelease._resources import library_identity
from cytorelease.errors import InputError
from cytorelease.provenance import software
from cytorelease.spec.diff import affected_criteria, diff_specs
from cytorelease.spec.evaluate import Evaluation, evaluate
from cytorelease.spec.inputs import MeasurementSet, read_measurements
from cytorelease.spec.loader import LoadedSpec

__all__ = ["Flip", "LotReevaluation", "Reevaluation", "find_result", "reevaluate"]

WHATIF_SCHEMA = "cytorelease.whatif/1"
ABSENT = "absent"  # the criterion is not part of that spec version
_LABEL = "WHAT-IF RE-EVALUATION: not a release record; the original result is unchanged"


@dataclass(frozen=True, slots=True)
class Flip:
    criterion: str
    verdicts: tuple[str, ...]  # one per spec, in the order given
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "verdicts": list(self.verdicts),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class LotReevaluation:
    source: Path
    sha256: str
    lot: Any
    recorded_disposition: str | None
    evaluations: tuple[Evaluation, ...]
    flips: tuple[Flip, ...]
    whatif_records: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        """The lot id from the record, else the lot folder's name."""
        return _lot_name(self.lot, self.source)

    @property
    def dispositions(self) -> tuple[str, ...]:
        return tuple(str(e.disposition) for e in self.evaluations)

    @property
    def disposition_changes(self) -> bool:
        return len(set(self.dispositions)) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "source": str(self.source),
            "sha256": self.sha256,
            "lot": self.lot,
            "recorded_disposition": self.recorded_disposition,
            "dispositions": list(self.dispositions),
            "disposition_changes": self.disposition_changes,
            "flips": [f.to_dict() for f in self.flips],
            "evaluations": [e.to_dict() for e in self.evaluations],
            "whatif_records": [str(p) for p in self.whatif_records],
        }


@dataclass(frozen=True, slots=True)
class Reevaluation:
    specs: tuple[dict[str, Any], ...]
    lots: tuple[LotReevaluation, ...]
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "specs": list(self.specs),
            "lots": [lot.to_dict() for lot in self.lots],
            "summary": self.summary,
        }


def find_result(source: Path) -> Path:
    """A result file as given, or in a lot folder ``result.json`` (else the newest result*.json)."""
    if source.is_file():
        return source
    if not source.is_dir():
        raise InputError("no such result file or lot folder", path=source)
    if (source / "result.json").is_file():
        return source / "result.json"
    candidates = sorted(source.glob("result*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    if not candidates:
        raise InputError("no result.json (or result*.json) in this lot folder", path=source)
    return candidates[-1]


def _flips(evaluations: Sequence[Evaluation], specs: Sequence[LoadedSpec]) -> tuple[Flip, ...]:
    order: list[str] = []
    for evaluation in evaluations:
        order += [c.id for c in evaluation.criteria if c.id not in order]
    verdict_maps = [e.verdicts() for e in evaluations]
    reasons_by_pair = [affected_criteria(diff_specs(a, b), a, b) for a, b in pairwise(specs)]
    flips = []
    for criterion_id in order:
        verdicts = tuple(str(m.get(criterion_id, ABSENT)) for m in verdict_maps)
        if len(set(verdicts)) == 1:
            continue
        reasons: list[str] = []
        for index, pair_reasons in enumerate(reasons_by_pair):
            if verdicts[index] != verdicts[index + 1]:
                for reason in pair_reasons.get(criterion_id, ["unexplained by the spec diff"]):
                    if reason not in reasons:
                        reasons.append(reason)
        flips.append(Flip(criterion_id, verdicts, tuple(reasons)))
    return tuple(flips)


def _lot_name(lot: Any, source: Path) -> str:
    if isinstance(lot, dict):
        lot = lot.get("id") or lot.get("lot_id")
    return str(lot) if lot else source.parent.name


def _lot_label(measurements: MeasurementSet, source: Path) -> str:
    """The lot name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", _lot_name(measurements.lot, source)) or "lot"


def _write_whatif(
    evaluation: Evaluation,
    spec: LoadedSpec,
    measurements: MeasurementSet,
    source: Path,
    compared: Sequence[LoadedSpec],
    out_dir: Path | None,
    now: datetime,
) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    folder = out_dir if out_dir is not None else source.parent
    prefix = f"whatif-{_lot_label(measurements, source)}-" if out_dir is not None else "whatif-"
    record = {
        "schema": WHATIF_SCHEMA,
        "what_if": True,
        "label": _LABEL,
        "created_utc": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "original": {
            "path": str(source),
            "sha256": measurements.sha256,
            "lot": measurements.lot,
            "spec": _recorded(measurements, "spec"),
            "disposition": _recorded(measurements, "disposition"),
        },
        "compared_specs": [s.identity() for s in compared],
        # the spec this what-if was judged against, locked only by the library's LOCK
        "definitions": [spec.definition().to_dict()],
        "evaluation": evaluation.to_dict(),
        "software": software(),
    }
    if (library := library_identity()) is not None:
        record["library"] = library
    text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        target = folder / f"{prefix}{spec.ref}-{stamp}{suffix}.json"
        try:
            with open(target, "x", encoding="utf-8") as handle:
                handle.write(text)
            return target
        except FileExistsError:
            continue
    raise InputError("could not find a free what-if file name", path=folder)


def _recorded(measurements: MeasurementSet, key: str) -> Any:
    """A field of the original result's own evaluation (spec, disposition), if it has one."""
    evaluation = (measurements.record or {}).get("evaluation")
    return evaluation.get(key) if isinstance(evaluation, dict) else None


def _summary(lots: Sequence[LotReevaluation]) -> dict[str, Any]:
    transitions = Counter(" -> ".join(lot.dispositions) for lot in lots if lot.disposition_changes)
    criteria = Counter(flip.criterion for lot in lots for flip in lot.flips)
    return {
        "lots": len(lots),
        "lots_changing_disposition": sum(lot.disposition_changes for lot in lots),
        "transitions": dict(sorted(transitions.items())),
        "criteria_flipped": dict(criteria.most_common()),
    }


def reevaluate(
    sources: Sequence[str | Path],
    specs: Sequence[LoadedSpec],
    *,
    out_dir: Path | None = None,
    write: bool = True,
    now: datetime | None = None,
) -> Reevaluation:
    """Evaluate each lot's recorded measurements under every spec; write what-if records."""
    if len(specs) < 2:
        raise InputError("re-evaluation compares at least two spec versions: give --spec twice")
    now = now or datetime.now(UTC)
    lots = []
    for source in sources:
        result_path = find_result(Path(source))
        measurements = read_measurements(result_path)
        evaluations = tuple(evaluate(spec, measurements) for spec in specs)
        written: tuple[Path, ...] = ()
        if write:
            written = tuple(
                _write_whatif(e, s, measurements, result_path, specs, out_dir, now)
                for e, s in zip(evaluations, specs, strict=True)
            )
        lots.append(
            LotReevaluation(
                source=result_path,
                sha256=measurements.sha256 or "",
                lot=measurements.lot,
                recorded_disposition=_recorded(measurements, "disposition"),
                evaluations=evaluations,
                flips=_flips(evaluations, specs),
                whatif_records=written,
            )
        )
    return Reevaluation(
        specs=tuple(s.identity() for s in specs), lots=tuple(lots), summary=_summary(lots)
    )
