"""Gate an FCS sample with a FlowJo workspace's gates, compensation and transforms.

The result is the one :class:`~cytorelease.flow.gating.result.GatingResult`; its populations'
``path`` is the FlowJo path of names (``Time/Singlets/CD3+/CD4+``), and each population's id
(and membership column) is that path joined with ``/``, so same-named gates under different
parents stay apart. The counts FlowJo stored in the workspace are kept in ``details`` beside
ours: FlowJo counts on its binned display, ours are exact (docs/flowjo.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PureWindowsPath

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import sample_spillover
from cytorelease.flow.gating._placers import PlacedGate
from cytorelease.flow.gating.result import GatingResult, PopulationRow
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.sample import Sample
from cytorelease.flow.wsp.convert import GatingSource, to_strategy
from cytorelease.flow.wsp.limits import shortened
from cytorelease.flow.wsp.parse import read_workspace
from cytorelease.flow.wsp.select import group_source, sample_source

__all__ = ["check_acquisition_matrix", "gate_with_workspace"]

# a workspace writes coefficients to 10 significant digits; its copy of the file's own
# matrix agrees with the file's to that, and a larger difference means another file
_MATRIX_TOLERANCE = 1e-8


def gate_with_workspace(
    sample: Sample,
    path: str | Path,
    *,
    wsp_sample: str | None = None,
    wsp_group: str | None = None,
) -> GatingResult:
    """Apply the workspace's tree for ``sample`` (found by ``wsp_sample``, else $FIL, else
    the file's name) or ``wsp_group``'s tree. Errors name the workspace."""
    from cytorelease.flow.gating.as_acquired import uncompensated_flags
    from cytorelease.flow.gating.preprocess import preprocessed_events

    path = Path(path)
    workspace = read_workspace(path)
    fil = sample.keywords.get("$FIL", "").strip()
    # some instruments write $FIL with the acquisition computer's folder in front
    bare = PureWindowsPath(fil).name if fil else None
    names = (wsp_sample,) if wsp_sample else (fil or None, bare, sample.path.name)
    try:
        if wsp_group is not None:
            source, found = group_source(
                workspace, wsp_group, *names, require_sample=bool(wsp_sample)
            )
        else:
            source, found = sample_source(workspace, *names)
        if not source.nodes:
            raise TemplateError(f"{source.label} holds no gates")
        strategy = to_strategy(source)
        check_acquisition_matrix(source, strategy, sample)
        flags = uncompensated_flags(strategy, sample)
        gated = strategy.apply(sample, events=preprocessed_events(sample))
    except TemplateError as error:
        raise shortened(error.with_path(path)) from None
    except (ArithmeticError, ValueError, SystemError) as error:
        raise _unevaluable(path, error) from None
    populations = _population_table(strategy, gated)
    placed = tuple(PlacedGate.fixed(strategy.population(row.gate_id)) for row in populations)
    flowjo_counts = {n.key: n.count for n in source.nodes_in_order()}
    return replace(
        gated,
        rows=populations,
        template={
            "id": path.stem,
            "version": f"FlowJo workspace {workspace.version}".strip(),
            "sha256": workspace.sha256,
        },
        placed=placed,
        flags=tuple(flags),
        details={
            "workspace": {
                "sample": found.name if found is not None else None,
                "group": wsp_group,
                "matrix": source.matrix.name if source.matrix is not None else None,
                "flowjo_version": workspace.flowjo_version,
                "flowjo_counts": flowjo_counts,
            }
        },
    )


def _unevaluable(path: Path, error: Exception) -> TemplateError:
    """A scale whose parameters cannot be evaluated (a biex width above -1, a logicle M whose
    exponentials overflow): refused by name, never an internal error or a count."""
    return TemplateError(
        f"a transform's parameters cannot be evaluated ({error})",
        path=path,
        hint="check the workspace's transforms (width, negative, positive, M, T)",
    )


def check_acquisition_matrix(
    source: GatingSource, strategy: GatingStrategy, sample: Sample
) -> None:
    """FlowJo's acquisition-defined matrix is the file's own: compensate with the file's
    $SPILLOVER, and refuse a file whose matrix is not the one the workspace read."""
    matrix = source.matrix
    if matrix is None or not matrix.acquisition_defined:
        return
    used = any(
        d.compensation is not None
        for g in strategy.population_ids
        for d in strategy.population(g).dimensions
    )
    if not used:
        return
    own = sample_spillover(sample)
    if own is None:
        raise TemplateError(
            f"{source.label} is compensated with the acquisition-defined matrix, but "
            f"{sample.path.name} has no $SPILLOVER"
        )
    index = {d: i for i, d in enumerate(own.detectors)}
    missing = [d for d in matrix.detectors if d not in index]
    if missing:
        raise TemplateError(
            f"{source.label}: the acquisition-defined matrix names {missing[0]!r}, which "
            f"{sample.path.name}'s $SPILLOVER does not"
        )
    order = [index[d] for d in matrix.detectors]
    theirs = own.matrix[np.ix_(order, order)]
    difference = float(np.max(np.abs(theirs - matrix.matrix)))
    if difference > _MATRIX_TOLERANCE:
        raise TemplateError(
            f"{source.label}: {sample.path.name}'s $SPILLOVER differs from the workspace's "
            f"acquisition-defined matrix (by up to {difference:.3g}); it is not the file the "
            "workspace was made from"
        )


def _population_table(strategy: GatingStrategy, gated: GatingResult) -> tuple[PopulationRow, ...]:
    """The strategy's rows in tree order, with FlowJo's paths of names."""
    return tuple(
        replace(
            row,
            path=tuple(row.gate_id.split("/")),
            name=row.gate_id.rsplit("/", 1)[-1],
            parent=strategy.population(row.gate_id).parent,
        )
        for row in gated.rows
    )
