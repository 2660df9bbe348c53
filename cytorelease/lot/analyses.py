"""The analyses a lot manifest can name, each a function: lot folder + manifest -> outcome.

Each reads only the files the manifest names (confined to the lot folder) and turns a failed
run or fit acceptance into an outcome without values, so the spec marks those criteria missing.
Bad raw input (a corrupt file) is an error, never a silent gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.lot.manifest import FlowTube, LotManifest, TubeRole, resolve_input
from cytorelease.lot.outcome import AnalysisOutcome, AnalysisStatus, InputFile

if TYPE_CHECKING:
    from cytorelease.flow.gating import GatingResult
    from cytorelease.flow.gating.compensation_source import ControlSet
    from cytorelease.flow.gating.template_model import Template
    from cytorelease.flow.sample import Sample

__all__ = ["run_cytotox", "run_elisa", "run_flow", "run_qpcr"]


def run_flow(lot_dir: Path, manifest: LotManifest, *, workspace: bool = False) -> AnalysisOutcome:
    """Gate the stained tube with the manifest's template (thresholds from its FMO tube).

    ``workspace``: the FMO tube is gated too, with the same template, so a FlowJo workspace of
    the release shows it with its own gates (the outcome's ``gated``; the record is the same).
    """
    flow = manifest.inputs.flow
    if flow is None:
        return AnalysisOutcome(
            "flow", AnalysisStatus.NOT_IN_MANIFEST, reason="no flow tubes listed"
        )
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.gating import gate_sample, load_template
    from cytorelease.flow.plots import gate_plots

    template = load_template(flow.template)
    stained = [t for t in flow.tubes if t.role is TubeRole.STAINED]
    controls = [t for t in flow.tubes if t.role is TubeRole.FMO]
    if len(stained) != 1 or len(controls) > 1:
        from cytorelease.errors import ManifestError

        raise ManifestError(
            "inputs.flow.tubes must list exactly one stained tube and at most one FMO tube, "
            f"found {len(stained)} and {len(controls)}",
            path=lot_dir / "lot.yaml",
        )
    compensation_controls = _compensation_controls(lot_dir, flow.tubes)
    _controls_listed_if_needed(lot_dir, template, compensation_controls)
    sample = read_fcs(resolve_input(lot_dir, stained[0].path))
    control = read_fcs(resolve_input(lot_dir, controls[0].path)) if controls else None
    result = gate_sample(
        sample, template, control=control, compensation_controls=compensation_controls
    )
    gated = [result]
    if workspace and control is not None:
        gated.append(_gate_control_tube(control, template, compensation_controls, result))

    inputs = [
        InputFile.of(lot_dir, sample.path, role="flow.stained", kind="fcs", sha256=sample.sha256)
    ]
    if control is not None:
        inputs.append(
            InputFile.of(lot_dir, control.path, role="flow.fmo", kind="fcs", sha256=control.sha256)
        )
    compensation = _lot_relative(lot_dir, result.details["compensation"])
    # the hashes of the bytes the estimator read, as for every other input
    inputs += [
        InputFile(role=f"flow.{i['role']}", path=i["path"], sha256=i["sha256"], kind="fcs")
        for i in compensation["inputs"]
        if i["role"] in (TubeRole.SINGLE_STAIN.value, TubeRole.UNSTAINED.value)
    ]
    figures = [{"title": title, "svg": svg} for title, svg in gate_plots(result).items()]
    flags = [f.message if f.gate is None else f"{f.gate}: {f.message}" for f in result.flags]
    summary: dict[str, Any] = {
        "event_count": sample.event_count,
        "populations": result.population_records(),
        # the gates as placed on this tube (thresholds, polygons, QC intervals): what an auditor
        # compares when the same template places them differently on another lot
        "gates": [p.to_dict() for p in result.placed],
        "saturation": result.details["saturation"],
        "compensation": compensation,
    }
    if template.cross_check is not None:
        from cytorelease.flow.crosscheck import cross_check

        check = cross_check(result, template)
        summary["cross_check"] = [p.to_dict() for p in check.populations]
        flags += [
            f"{p.gate}: review: clusters estimate {p.cluster_pct:.1f} % vs gate {p.gate_pct:.1f} % "
            f"(difference {p.difference_pct:+.1f} points, tolerance {p.max_difference_pct:g})"
            for p in check.populations
            if p.flagged
        ]
    return AnalysisOutcome(
        "flow",
        AnalysisStatus.DONE,
        measurements=list(result.measurements),
        inputs=inputs,
        methods=[{"kind": "gating-template", **result.template}],
        figures=figures,
        flags=flags,
        summary=summary,
        gated=gated,
    )


def _gate_control_tube(
    control: Sample, template: Template, controls: ControlSet | None, stained: GatingResult
) -> GatingResult:
    """The FMO tube gated as a sample of its own: its data-driven gates placed on its events,
    its control-based thresholds from itself (as the stained tube's were), compensated as the
    stained tube's control pass was (its own $SPILLOVER, or the same matrix)."""
    from cytorelease.errors import TemplateError
    from cytorelease.flow.gating import gate_sample
    from cytorelease.flow.gating.template_model import CompensationSource

    result = gate_sample(control, template, control=control, compensation_controls=controls)
    ours, theirs = (r.details["compensation"] for r in (stained, result))
    if ours["source"] != CompensationSource.FILE.value and (
        ours["matrix_sha256"] != theirs["matrix_sha256"]
    ):
        # the same matrix read or estimated again: a difference would show other numbers
        raise TemplateError(
            f"the control tube's compensation ({theirs['matrix_sha256']}) is not the stained "
            f"tube's ({ours['matrix_sha256']})",
            path=control.path,
        )
    return result


def _compensation_controls(lot_dir: Path, tubes: list[FlowTube]) -> ControlSet | None:
    """The lot's single-stain and unstained tubes, or None when it lists none."""
    from cytorelease.errors import ManifestError
    from cytorelease.flow.gating.compensation_source import ControlSet

    singles = [t for t in tubes if t.role is TubeRole.SINGLE_STAIN]
    unstained = [t for t in tubes if t.role is TubeRole.UNSTAINED]
    if not singles and not unstained:
        return None
    if not singles or len(unstained) != 1:
        raise ManifestError(
            "inputs.flow.tubes: compensation controls are single_stain tubes (one per "
            f"fluorochrome) and exactly one unstained tube, found {len(singles)} and "
            f"{len(unstained)}",
            path=lot_dir / "lot.yaml",
        )
    return ControlSet(
        tuple(resolve_input(lot_dir, t.path) for t in singles),
        resolve_input(lot_dir, unstained[0].path),
    )


def _controls_listed_if_needed(
    lot_dir: Path, template: Template, controls: ControlSet | None
) -> None:
    """A template compensating from the lot's controls needs them in lot.yaml: the refusal
    names the manifest, where they are missing, not the stained tube gating would read."""
    from cytorelease.errors import ManifestError
    from cytorelease.flow.gating.template_model import CompensationSource

    if controls is None and template.compensation.source is CompensationSource.CONTROLS:
        raise ManifestError(
            f"inputs.flow.tubes: template {template.id!r} compensates from the lot's "
            "single-stain controls, and the manifest lists none",
            path=lot_dir / "lot.yaml",
            hint="list each single_stain tube and the unstained tube under inputs.flow.tubes",
        )


def _lot_relative(lot_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The compensation record with the lot's files named relative to the lot folder (the
    record must not depend on where the folder lies); a matrix file keeps its template's name."""
    root = lot_dir.resolve()
    inputs = [
        dict(i)
        if i["role"] == "matrix_file"
        else {**i, "path": Path(i["path"]).resolve().relative_to(root).as_posix()}
        for i in record["inputs"]
    ]
    return {**record, "inputs": inputs}


def run_qpcr(
    lot_dir: Path, manifest: LotManifest, *, car_fraction: float | None
) -> AnalysisOutcome:
    """Vector copy number from the manifest's qPCR/dPCR export, per transduced cell when flow
    gave a CAR+ fraction; a run that fails acceptance gives its reasons and no values."""
    qpcr = manifest.inputs.qpcr
    if qpcr is None:
        return AnalysisOutcome(
            "qpcr", AnalysisStatus.NOT_IN_MANIFEST, reason="no qPCR/dPCR export listed"
        )
    from cytorelease.qpcr.vcn import analyse_export

    export = resolve_input(lot_dir, qpcr.path)
    result = analyse_export(
        export,
        qpcr.assay,
        fmt=qpcr.format,
        car_fraction=car_fraction,
        product_sample=qpcr.sample,
        run=qpcr.run,
    )
    summary = result.to_dict()
    assay = summary["provenance"].get("assay", {})
    return AnalysisOutcome(
        "qpcr",
        AnalysisStatus.DONE if result.passed else AnalysisStatus.FAILED_ACCEPTANCE,
        measurements=list(result.measurements),
        # the hash of the bytes the reader parsed: a second read of the path could see a file
        # changed since (issue 13 item 3)
        inputs=[
            InputFile.of(
                lot_dir,
                export,
                role="qpcr",
                kind=f"{result.format} export",
                sha256=result.provenance["input"]["sha256"],
            )
        ],
        methods=[
            {"kind": "assay", **{k: assay[k] for k in ("id", "version", "sha256") if k in assay}}
        ],
        figures=_qpcr_figures(result),
        flags=list(result.flags),
        summary={
            k: summary[k]
            for k in (
                "format",
                "instrument",
                "run",
                "digital",
                "run_acceptance",
                "standard_curves",
                "samples",
            )
        },
        reason="; ".join(result.reasons) or None if not result.passed else None,
    )


def _qpcr_figures(result: Any) -> list[dict[str, str]]:
    from cytorelease.qpcr.plots import standard_curve_svg

    return [
        {"title": f"qPCR standard curve: {c.target}", "svg": standard_curve_svg(c)}
        for c in result.curves
    ]


def run_elisa(lot_dir: Path, manifest: LotManifest) -> AnalysisOutcome:
    """IFN-gamma release (ELISA, 4PL/5PL) from the manifest's plate export."""
    potency = manifest.inputs.potency
    if potency is None or potency.elisa is None:
        return AnalysisOutcome(
            "potency.elisa", AnalysisStatus.NOT_IN_MANIFEST, reason="no ELISA plate listed"
        )
    from cytorelease.potency.elisa import analyse_elisa
    from cytorelease.potency.plots import curve_svg

    plate = resolve_input(lot_dir, potency.elisa.path)
    result = analyse_elisa(plate, potency.elisa.assay)
    summary = result.to_dict()
    definition = result.assay.assay
    failed = [c.name for c in result.checks if not c.passed]
    return AnalysisOutcome(
        "potency.elisa",
        AnalysisStatus.DONE if result.passed else AnalysisStatus.FAILED_ACCEPTANCE,
        measurements=list(result.measurements),
        inputs=[
            InputFile.of(
                lot_dir, plate, role="potency.elisa", kind="plate", sha256=result.plate.sha256
            )
        ],
        methods=[
            {
                "kind": "assay",
                "id": definition.id,
                "version": definition.version,
                "sha256": result.assay.sha256,
            }
        ],
        figures=[
            {"title": f"IFN-gamma standard curve ({definition.id})", "svg": curve_svg(result)}
        ],
        summary={k: summary[k] for k in ("curve", "acceptance", "working_range", "samples")},
        # a sample's named flags (dilution_linearity) are the release's flags too
        flags=list(result.notes)
        + [
            f"{s.name}: {flag}" + (f" ({'; '.join(s.notes)})" if s.notes else "")
            for s in result.samples
            for flag in s.flags
        ],
        reason=f"acceptance failed: {', '.join(failed)}" if failed else None,
    )


def run_cytotox(lot_dir: Path, manifest: LotManifest) -> AnalysisOutcome:
    """% specific lysis from the flow killing assay's tube pair."""
    potency = manifest.inputs.potency
    if potency is None or potency.cytotox is None:
        return AnalysisOutcome(
            "potency.cytotox",
            AnalysisStatus.NOT_IN_MANIFEST,
            reason="no killing-assay tubes listed",
        )
    from cytorelease.potency.cytotox import analyse_cytotoxicity

    with_effectors = resolve_input(lot_dir, potency.cytotox.with_effectors)
    targets_alone = resolve_input(lot_dir, potency.cytotox.targets_alone)
    result = analyse_cytotoxicity(with_effectors, targets_alone, potency.cytotox.assay)
    summary = result.to_dict()
    failed = [c.name for c in result.checks if not c.passed]
    return AnalysisOutcome(
        "potency.cytotox",
        AnalysisStatus.DONE if result.passed else AnalysisStatus.FAILED_ACCEPTANCE,
        measurements=[result.measurement],
        inputs=[
            InputFile.of(
                lot_dir,
                with_effectors,
                role="potency.with_effectors",
                kind="fcs",
                sha256=result.with_effectors.sha256,
            ),
            InputFile.of(
                lot_dir,
                targets_alone,
                role="potency.targets_alone",
                kind="fcs",
                sha256=result.targets_alone.sha256,
            ),
        ],
        methods=[
            {
                "kind": "assay",
                "id": result.assay.id,
                "version": result.assay.version,
                "sha256": result.assay_sha256,
            },
            {"kind": "gating-template", **result.template},
        ],
        summary={
            k: summary[k] for k in ("cytotoxicity_pct", "ci95", "counting", "tubes", "acceptance")
        },
        reason=f"acceptance failed: {', '.join(failed)}" if failed else None,
        gated=list(result.gated),
    )
