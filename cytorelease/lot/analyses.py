"""The analyses a lot manifest can name, each a function: lot folder + manifest -> outcome.

Each reads only the files the manifest names (confined to the lot folder) and turns a failed
run or fit acceptance into an outcome without values, so the spec marks those criteria missing.
Bad raw input (a corrupt file) is an error, never a silent gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytorelease.lot.manifest import LotManifest, TubeRole, resolve_input
from cytorelease.lot.outcome import AnalysisOutcome, AnalysisStatus, InputFile
from cytorelease.measurement import Measurement, MethodRef

__all__ = ["manual_measurements", "run_flow"]


def run_flow(lot_dir: Path, manifest: LotManifest) -> AnalysisOutcome:
    """Gate the stained tube with the manifest's template (thresholds from its FMO tube)."""
    flow = manifest.inputs.flow
    if flow is None:
        return AnalysisOutcome(
            "flow", AnalysisStatus.NOT_IN_MANIFEST, reason="no flow tubes listed"
        )
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.gating.pipeline import gate_sample
    from cytorelease.flow.gating.template import load_template
    from cytorelease.flow.plots import gate_plots

    template = load_template(flow.template)
    stained = [t for t in flow.tubes if t.role is TubeRole.STAINED]
    if len(stained) != 1:
        from cytorelease.errors import ManifestError

        raise ManifestError(
            f"inputs.flow.tubes must list exactly one stained tube, found {len(stained)}",
            path=lot_dir / "lot.yaml",
        )
    sample = read_fcs(resolve_input(lot_dir, stained[0].path))
    controls = [t for t in flow.tubes if t.role is TubeRole.FMO]
    control = read_fcs(resolve_input(lot_dir, controls[0].path)) if controls else None
    result = gate_sample(sample, template, control=control)

    inputs = [
        InputFile.of(lot_dir, sample.path, role="flow.stained", kind="fcs", sha256=sample.sha256)
    ]
    if control is not None:
        inputs.append(
            InputFile.of(lot_dir, control.path, role="flow.fmo", kind="fcs", sha256=control.sha256)
        )
    figures = [{"title": title, "svg": svg} for title, svg in gate_plots(result).items()]
    return AnalysisOutcome(
        "flow",
        AnalysisStatus.DONE,
        measurements=list(result.measurements),
        inputs=inputs,
        methods=[{"kind": "gating-template", **result.template}],
        figures=figures,
        flags=[f.message if f.gate is None else f"{f.gate}: {f.message}" for f in result.flags],
        summary={"event_count": sample.event_count, "populations": result.population_records()},
    )


def manual_measurements(manifest: LotManifest) -> list[Measurement]:
    """Manual entries as measurements, each naming who entered it and when (ALCOA: attributable)."""
    from cytorelease.attributes import ATTRIBUTES

    found: list[Measurement] = []
    for entry in manifest.manual:
        attribute = ATTRIBUTES[entry.attribute]
        details: dict[str, Any] = {
            "entered_by": entry.entered_by,
            "entered_at": entry.entered_at.isoformat().replace("+00:00", "Z"),
        }
        if entry.comment:
            details["comment"] = entry.comment
        value: float | str | bool = entry.value
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        found.append(
            Measurement(
                attribute=entry.attribute,
                value=value,
                unit=entry.unit if entry.unit is not None else attribute.unit,
                method=MethodRef(kind="manual", id="manual-entry", version="1"),
                details=details,
            )
        )
    return found


def run_qpcr(
    lot_dir: Path, manifest: LotManifest, *, car_fraction: float | None
) -> AnalysisOutcome:
    """Vector copy number from the manifest's qPCR/dPCR export (wired in once available)."""
    if manifest.inputs.qpcr is None:
        return AnalysisOutcome(
            "qpcr", AnalysisStatus.NOT_IN_MANIFEST, reason="no qPCR/dPCR export listed"
        )
    return AnalysisOutcome("qpcr", AnalysisStatus.UNAVAILABLE, reason="VCN analysis not available")


def run_elisa(lot_dir: Path, manifest: LotManifest) -> AnalysisOutcome:
    """IFN-gamma ELISA potency from the manifest's plate export (wired in once available)."""
    potency = manifest.inputs.potency
    if potency is None or potency.elisa is None:
        return AnalysisOutcome(
            "potency", AnalysisStatus.NOT_IN_MANIFEST, reason="no ELISA plate listed"
        )
    return AnalysisOutcome(
        "potency", AnalysisStatus.UNAVAILABLE, reason="ELISA analysis not available"
    )
