"""``flow gate`` as one library call: read the tubes, gate with a YAML template or a GatingML
2.0 document, and write the requested outputs (plots, GatingML, per-event membership)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cytorelease.errors import InputError
from cytorelease.flow.gating._placers import PlacedGate
from cytorelease.flow.gating.result import GatingResult

if TYPE_CHECKING:
    from cytorelease.flow.sample import Sample

__all__ = ["GateRun", "gate_file", "gate_with_gatingml", "is_gatingml"]


@dataclass(frozen=True)
class GateRun:
    """A gating result and the files written for it."""

    result: GatingResult
    written: dict[str, list[Path]] = field(default_factory=dict)


def is_gatingml(path: Path) -> bool:
    """A GatingML document (XML), judged by its first bytes, not its name."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"<")


def gate_file(
    file: str | Path,
    template: str | Path,
    *,
    control: str | Path | None = None,
    plots: str | Path | None = None,
    export_gatingml: str | Path | None = None,
    export_wsp: str | Path | None = None,
    membership: str | Path | None = None,
    wsp_sample: str | None = None,
    wsp_group: str | None = None,
) -> GateRun:
    """Gate ``file`` with ``template`` (a YAML template, its library name, GatingML 2.0, or a
    FlowJo workspace, whose sample ``wsp_sample`` or group ``wsp_group`` applies)."""
    from cytorelease._resources import ResourceKind, resolve_resource
    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.wsp.parse import is_workspace

    if export_wsp is not None:  # before any work: an existing workspace is never overwritten
        from cytorelease.flow.wsp.write import check_target

        check_target(export_wsp)
    sample = read_fcs(file)
    control_sample = read_fcs(control) if control is not None else None
    template_path = resolve_resource(ResourceKind.GATING, template)
    workspace = is_workspace(template_path)
    if (wsp_sample is not None or wsp_group is not None) and not workspace:
        raise InputError(
            "--wsp-sample and --wsp-group name a sample or group of a FlowJo workspace; "
            "this is not one",
            path=template_path,
        )
    if workspace:
        from cytorelease.flow.wsp.run import gate_with_workspace

        if control_sample is not None:
            raise InputError(
                "a FlowJo workspace holds fixed gates only; it takes no control tube",
                path=template_path,
                hint="drop --control",
            )
        result = gate_with_workspace(
            sample, template_path, wsp_sample=wsp_sample, wsp_group=wsp_group
        )
    elif is_gatingml(template_path):
        if control_sample is not None:
            raise InputError(
                "a GatingML document holds fixed gates only; it takes no control tube",
                path=template_path,
                hint="drop --control, or use a YAML template with a control_percentile gate",
            )
        result = gate_with_gatingml(sample, template_path)
    else:
        from cytorelease.flow.gating.pipeline import gate_sample
        from cytorelease.flow.gating.template import load_template

        result = gate_sample(sample, load_template(template_path), control=control_sample)
    written: dict[str, list[Path]] = {}
    if plots is not None:
        from cytorelease.flow.plots import write_gate_plots

        written["plots"] = write_gate_plots(result, plots)
    if export_gatingml is not None:
        from cytorelease.flow.gating.gatingml_export import export_gatingml as export

        export(result.strategy, export_gatingml, sample=sample)
        written["gatingml"] = [Path(export_gatingml)]
    if export_wsp is not None:
        from cytorelease.flow.wsp.write import export_wsp as write_wsp

        write_wsp(result, export_wsp)
        written["wsp"] = [Path(export_wsp)]
    if membership is not None:
        result.membership_frame().to_csv(membership, index=False)
        written["membership"] = [Path(membership)]
    return GateRun(result, written)


def gate_with_gatingml(sample: Sample, path: Path) -> GatingResult:
    """Apply a GatingML 2.0 document's fixed gates; no measurements (it declares none)."""
    from cytorelease.flow.gating.as_acquired import uncompensated_flags
    from cytorelease.flow.gating.gatingml_import import read_gatingml
    from cytorelease.flow.gating.preprocess import preprocessed_events
    from cytorelease.provenance import file_sha256

    strategy = read_gatingml(path)
    flags = uncompensated_flags(strategy, sample)
    gated = strategy.apply(sample, events=preprocessed_events(sample))
    placed = tuple(PlacedGate.fixed(strategy.population(g)) for g in gated.populations["gate_id"])
    return replace(
        gated,
        template={"id": path.stem, "version": "GatingML 2.0", "sha256": file_sha256(path)},
        placed=placed,
        flags=tuple(flags),
    )
