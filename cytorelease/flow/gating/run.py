"""``flow gate`` as one library call: read the tubes, gate with a YAML template or a GatingML
2.0 document, and write the requested outputs (plots, GatingML, per-event membership).

A template whose compensation is ``source: controls`` is given the single-stain and unstained
tubes here (``controls``, ``unstained``), and its matrix is estimated from them by the very
function a release uses (:func:`~cytorelease.flow.gating.compensation_source.resolve_compensation`).
Without them such a template is refused, never gated with the tube's own $SPILLOVER; given to
a template that compensates otherwise, they are refused too, never left out unsaid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.gating._placers import PlacedGate
from cytorelease.flow.gating.result import GatingResult

if TYPE_CHECKING:
    from cytorelease.flow.gating.compensation_source import ControlSet
    from cytorelease.flow.gating.template_model import Template
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
    controls: Sequence[str | Path] | None = None,
    unstained: str | Path | None = None,
) -> GateRun:
    """Gate ``file`` with ``template`` (a YAML template, its library name, GatingML 2.0, or a
    FlowJo workspace, whose sample ``wsp_sample`` or group ``wsp_group`` applies).

    ``controls`` (single-stain tubes, one per fluorochrome, in the matrix's row order) and
    ``unstained``: the compensation controls of a template whose compensation is
    ``source: controls``; required by such a template, refused by any other."""
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
    given = bool(controls) or unstained is not None
    if given and (not controls or unstained is None):
        raise InputError(
            "--controls and --unstained go together: the matrix is estimated from the "
            "single-stain tubes against the unstained tube",
            path=template_path,
            hint="give every single-stain tube with --controls and the unstained one with "
            "--unstained",
        )
    if given and (workspace or is_gatingml(template_path)):
        kind = "a FlowJo workspace" if workspace else "a GatingML document"
        raise TemplateError(
            f"{kind} names its own compensation; --controls and --unstained would be left out",
            path=template_path,
            hint="drop --controls and --unstained, or use a YAML template with "
            "compensation source: controls",
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

        loaded = load_template(template_path)
        compensation_controls = _control_set(loaded, template_path, controls, unstained)
        result = gate_sample(
            sample, loaded, control=control_sample, compensation_controls=compensation_controls
        )
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


def _control_set(
    template: Template,
    path: Path,
    controls: Sequence[str | Path] | None,
    unstained: str | Path | None,
) -> ControlSet | None:
    """The control set for ``template``, refused by the template's name when the template's
    compensation source and the tubes given do not go together."""
    from cytorelease.flow.gating.compensation_source import ControlSet
    from cytorelease.flow.gating.template_model import CompensationSource

    source = template.compensation.source
    if source is CompensationSource.CONTROLS and not controls:
        raise TemplateError(
            f"template {template.id!r} compensates from single-stain controls "
            "(compensation source: controls), and none were given; the tube's own $SPILLOVER "
            "is not used instead",
            path=path,
            hint="give the single-stain tubes with --controls (repeat for each) and the "
            "unstained tube with --unstained",
        )
    if source is not CompensationSource.CONTROLS and controls:
        raise TemplateError(
            f"template {template.id!r} compensates from {source.value!r}, not from controls: "
            "--controls and --unstained would be left out",
            path=path,
            hint="drop --controls and --unstained, or use a template with compensation "
            "source: controls",
        )
    if not controls or unstained is None:
        return None
    return ControlSet(tuple(Path(c) for c in controls), Path(unstained))


def gate_with_gatingml(sample: Sample, path: Path) -> GatingResult:
    """Apply a GatingML 2.0 document's fixed gates; no measurements (it declares none)."""
    from cytorelease.flow.gating.as_acquired import uncompensated_flags
    from cytorelease.flow.gating.gatingml_import import read_gatingml
    from cytorelease.flow.gating.preprocess import preprocessed_events
    from cytorelease.provenance import file_sha256

    strategy = read_gatingml(path)
    flags = uncompensated_flags(strategy, sample)
    gated = strategy.apply(sample, events=preprocessed_events(sample))
    placed = tuple(PlacedGate.fixed(strategy.population(r.gate_id)) for r in gated.rows)
    return replace(
        gated,
        template={"id": path.stem, "version": "GatingML 2.0", "sha256": file_sha256(path)},
        placed=placed,
        flags=tuple(flags),
    )
