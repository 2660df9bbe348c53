"""The release pipeline: lot folder -> analyses -> spec evaluation -> result.json + draft CoA."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cytorelease._resources import library_identity
from cytorelease.errors import InputError, SpecError
from cytorelease.lot.analyses import run_cytotox, run_elisa, run_flow, run_qpcr
from cytorelease.lot.definitions import apply_unlocked, definitions_of
from cytorelease.lot.manifest import load_manifest
from cytorelease.lot.outcome import AnalysisOutcome
from cytorelease.lot.record import build_record, canonical_form, record_sha256, write_record
from cytorelease.provenance import file_sha256
from cytorelease.records.audit import Action
from cytorelease.records.trail import Recorder, Trail

__all__ = ["ReleaseOutcome", "release_lot"]

# Called as progress(step_name, completed_steps, total_steps).
ProgressFn = Callable[[str, int, int], None]
# Called as trend_review(data_folder, record): the record's out_of_trend block (the trend
# package's out_of_trend, which this layer may not import; the CLI and the worker pass it).
TrendReviewFn = Callable[[Path, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    record: dict[str, Any]
    record_sha256: str
    result_path: Path
    report_path: Path
    workspace: Path | None = None  # the FlowJo workspace of the gated tubes, when asked for

    @property
    def disposition(self) -> str:
        return str(self.record["evaluation"]["disposition"])

    @property
    def exit_code(self) -> int:
        return 0 if self.disposition == "PASS" else 1

    def to_dict(self) -> dict[str, Any]:
        evaluation = self.record["evaluation"]
        trend = self.record.get("out_of_trend")
        # the out-of-trend review in brief (baseline and flags; the record holds the rest)
        brief = {} if trend is None else {
            "out_of_trend": {"baseline": trend.get("baseline"), "flags": trend.get("flags")}
        }  # fmt: skip
        return {
            "lot": self.record["lot"],
            "disposition": self.disposition,
            "spec": evaluation["spec"],
            "criteria": [
                {k: c.get(k) for k in ("id", "attribute", "reported", "limit", "verdict")}
                for c in evaluation["criteria"]
            ],
            "analyses": self.record["analyses"],
            "definitions": self.record.get("definitions", []),
            "library": self.record.get("library"),
            "result": str(self.result_path),
            "result_sha256": self.record_sha256,
            "report": str(self.report_path),
            **brief,
            **({"workspace": str(self.workspace)} if self.workspace is not None else {}),
        }


def release_lot(
    lot_dir: str | Path,
    *,
    spec: str | Path | None = None,
    out: str | Path | None = None,
    progress: ProgressFn | None = None,
    created_at: datetime | None = None,
    trail: Recorder | None = None,
    checkpoints_of: Path | None = None,
    registry: str | Path | None = None,
    manual_dir: Path | None = None,
    trend_review: TrendReviewFn | None = None,
    export_wsp: str | Path | None = None,
) -> ReleaseOutcome:
    """Run every analysis the manifest names, evaluate the spec, write the record and the CoA.

    ``spec`` overrides the manifest's spec reference (an auditor's what-if, or a new version);
    ``out`` defaults to ``./<lot id>-release``. Raw files are only read. With a ``trail``, the
    spec load, each analysis, the evaluation and the rendered CoA are appended to it. The newest
    audit checkpoint of the data folder ``checkpoints_of`` (else the trail's) is named in the
    record and on the CoA, so a later rewrite of the trail up to it contradicts a signed page.
    Manual results come from the signed records in ``manual_dir`` (default the lot folder's
    ``manual/``), each counted only when its entry and verification hold up against the signed
    ``registry`` (folder or registry.yaml); without one they are ``unverified``. With a
    ``trend_review`` and a data folder (``checkpoints_of``, else the trail's), the record gets
    the ``out_of_trend`` block it returns (review flags only: the evaluation is not touched).
    ``export_wsp`` writes every flow tube the release gated (the stained tube, its FMO tube and
    the killing assay's two tubes, each with the gates its template placed on it) as one
    FlowJo 10 workspace, before the record and the CoA, so a gate FlowJo cannot hold stops the
    release with nothing written.
    """
    from cytorelease.lot.manual_inputs import manual_measurements
    from cytorelease.report.registry import load_registry
    from cytorelease.report.render import stamp_rendering, write_coa
    from cytorelease.spec.evaluate import evaluate
    from cytorelease.spec.registry import resolve_spec

    lot_dir = Path(lot_dir)
    manifest = load_manifest(lot_dir)
    signers = load_registry(registry) if registry is not None else None
    loaded = resolve_spec(spec or manifest.spec)
    lot = manifest.lot_id
    if trail:
        trail.record(
            Action.SPEC_LOAD,
            loaded.ref,
            lot=lot,
            details={"sha256": loaded.sha256, "path": str(loaded.path)},
        )
    if loaded.spec.product != manifest.product:
        raise SpecError(
            f"spec is for product {loaded.spec.product!r} but lot {manifest.lot_id} is {manifest.product!r}",
            path=loaded.path,
        )
    out_dir = Path(out) if out is not None else Path.cwd() / f"{manifest.lot_id}-release"
    if out_dir.exists() and not out_dir.is_dir():
        # Checked before the analyses run, so a wrong --out costs no time.
        raise InputError(
            "is a file, not a folder (--out is the folder for result.json and the CoA)",
            path=out_dir,
            hint="choose another --out folder",
        )
    report_path = out_dir / f"coa-{manifest.lot_id}.html"
    _refuse_to_overwrite(report_path)
    if export_wsp is not None:
        _check_workspace_target(Path(export_wsp), manifest.inputs.flow is not None, lot_dir)

    steps: list[tuple[str, Callable[[], AnalysisOutcome]]] = [
        ("flow cytometry", lambda: run_flow(lot_dir, manifest, workspace=export_wsp is not None))
    ]
    outcomes: list[AnalysisOutcome] = []

    def car_fraction() -> float | None:
        for outcome in outcomes:
            for m in outcome.measurements:
                if m.attribute == "flow.car_pct_of_viable_cd3" and isinstance(m.value, float):
                    return m.value / 100.0
        return None

    steps.append(
        ("vector copy number", lambda: run_qpcr(lot_dir, manifest, car_fraction=car_fraction()))
    )
    steps.append(("potency: IFN-gamma ELISA", lambda: run_elisa(lot_dir, manifest)))
    steps.append(("potency: cytotoxicity", lambda: run_cytotox(lot_dir, manifest)))
    total = len(steps) + 2
    for index, (name, step) in enumerate(steps):
        if progress:
            progress(name, index, total)
        outcomes.append(step())
        if trail:
            done = outcomes[-1]
            trail.record(
                Action.LOT_ANALYSIS,
                done.analysis,
                lot=lot,
                details={
                    "status": str(done.status),
                    "reason": done.reason,
                    "inputs": [i.to_dict() for i in done.inputs],
                },
            )

    workspace = None
    if export_wsp is not None:
        from cytorelease.flow.wsp.write import export_wsp as write_wsp

        workspace = Path(export_wsp)
        write_wsp([r for o in outcomes for r in o.gated], workspace)
    if progress:
        progress("evaluation", len(steps), total)
    # the data folder whose trail recorded the manual entries (the worker's, or --data-dir)
    own_folder = trail.data_dir if isinstance(trail, Trail) else None
    manual = manual_measurements(lot_dir, manifest, registry=signers, records_dir=manual_dir,
                                 trail_dir=checkpoints_of or own_folder)  # fmt: skip
    measurements = [m for o in outcomes for m in o.measurements] + manual
    evaluation = evaluate(loaded, measurements)
    definitions = definitions_of(
        manifest, spec=loaded, spec_reference=str(spec or manifest.spec), outcomes=outcomes
    )
    # judged only against what the library's LOCK holds: anything else is never a PASS
    judged = apply_unlocked(evaluation.to_dict(), definitions)
    if trail:
        trail.record(
            Action.EVALUATE,
            loaded.ref,
            lot=lot,
            details={"disposition": str(judged["disposition"])},
        )
    record = build_record(
        manifest,
        outcomes=outcomes,
        manual=manual,
        evaluation=judged,
        created_at=created_at,
        definitions=definitions,
        library=library_identity(),
    )
    checkpoint = _latest_checkpoint(checkpoints_of or own_folder)
    if checkpoint is not None:
        record["audit_checkpoint"] = checkpoint
    trend_folder = checkpoints_of or own_folder
    if trend_review is not None and trend_folder is not None:
        record["out_of_trend"] = canonical_form(trend_review(trend_folder, record))
    if progress:
        progress("certificate of analysis", len(steps) + 1, total)
    # The record names the CoA template (and its hash) before it is stored, so result.json and
    # the record embedded in the CoA are one document and verify can re-render the page.
    record = stamp_rendering(record, generated_at=created_at)
    result_path = write_record(record, out_dir / "result.json")
    write_coa(record, report_path)
    sha = record_sha256(record)
    if trail:
        rendered = {"report_sha256": file_sha256(report_path), "record_sha256": sha}
        if isinstance(trail, Trail):  # with a data folder, its results join the lots dataset
            from cytorelease.lot.dataset_import import render_with_results

            render_with_results(
                trail, str(report_path.absolute()), lot=lot, details=rendered, record=record,
                record_sha256=sha,
            )  # fmt: skip
        else:
            trail.record(Action.RENDER, str(report_path.absolute()), lot=lot, details=rendered)
    if progress:
        progress("done", total, total)
    return ReleaseOutcome(record, sha, result_path, report_path, workspace)


def _check_workspace_target(target: Path, has_flow: bool, lot_dir: Path) -> None:
    """Before any analysis runs: a workspace needs gated tubes and a file to go to."""
    if not has_flow:
        raise InputError(
            "lists no flow tubes, so the release gates none to write as a FlowJo workspace",
            path=lot_dir / "lot.yaml",
            hint="drop --export-wsp",
        )
    from cytorelease.flow.wsp.write import check_target

    check_target(target)


def _latest_checkpoint(data_dir: Path | None) -> dict[str, Any] | None:
    """The data folder's newest audit checkpoint as the record names it: sequence, row hash,
    signing time, trusted time, signer, and the checkpoint file's name and SHA-256."""
    if data_dir is None:
        return None
    from cytorelease.report.checkpoint import latest_checkpoint

    latest = latest_checkpoint(data_dir)
    if latest is None:
        return None
    path = Path(latest.pop("file"))
    return {**latest, "file": path.name, "sha256": file_sha256(path)}


def _refuse_to_overwrite(report: Path) -> None:
    """A draft from an earlier run may be replaced; a signed CoA or a foreign file never is."""
    from cytorelease.report.area import signature_count

    if not report.exists():
        return
    if report.is_dir():
        raise InputError("is a folder where the CoA is to be written", path=report)
    signatures = signature_count(report.read_bytes())
    if signatures is None:
        raise InputError(
            "exists and is not a cytorelease CoA; refusing to overwrite it",
            path=report,
            hint="choose another --out",
        )
    if signatures:
        raise InputError(
            f"already holds a CoA with {signatures} signature(s); a signed record is never overwritten",
            path=report,
            hint="release into another --out folder",
        )
