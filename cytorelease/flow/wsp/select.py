"""Which gate tree of a workspace applies, and with which transforms and matrix.

A sample is found by name: ``--wsp-sample``, else the FCS file's $FIL, else its file name,
each compared with a sample's name, its DataSet file name and its own $FIL keyword. Nothing is
guessed: no match, or two, is an error naming the workspace, the name and the samples there.
A group's tree (``--wsp-group``) is gated with the found sample's transforms and matrix (the
sample must be in the group) or, with no sample found, with those all its samples share.
"""

from __future__ import annotations

from cytorelease.errors import TemplateError
from cytorelease.flow.gating.gatingml_import import DATATYPE_NS
from cytorelease.flow.transforms import LinearTransform
from cytorelease.flow.wsp.convert import GatingSource
from cytorelease.flow.wsp.limits import quoted
from cytorelease.flow.wsp.model import Workspace, WspGroup, WspNode, WspSample

__all__ = ["find_sample", "group_source", "sample_source"]

_SHOWN = 10


def _listed(names: list[str], *, quote: bool = True) -> str:
    more = len(names) - _SHOWN
    shown = ", ".join(quoted(n) if quote else n for n in names[:_SHOWN])
    return shown + (f" and {more} more" if more > 0 else "") or "none"


def find_sample(workspace: Workspace, *names: str | None) -> WspSample | None:
    """The one sample answering to the first of ``names`` that any sample answers to."""
    for name in names:
        if not name:
            continue
        found = workspace.samples_named(name)
        if len(found) > 1:
            raise _ambiguous(name, found)
        if found:
            return found[0]
    return None


def _ambiguous(name: str, found: list[WspSample]) -> TemplateError:
    """Two samples answer to one name: each named with its sampleID and what matched, and
    a way out only where one exists (two samples of one FlowJo name need renaming)."""
    shown = [
        f"{quoted(s.name)} (sampleID {quoted(s.sample_id)}, by its "
        + ("name" if s.name == name else "file" if s.file_name == name else "$FIL")
        + ")"
        for s in found
    ]
    distinct = len({s.name for s in found}) == len(found)
    return TemplateError(
        f"{len(found)} samples of the workspace answer to {quoted(name)}: {_listed(shown, quote=False)}",
        hint="name one by --wsp-sample (its FlowJo name)"
        if distinct
        else "they share one FlowJo name: rename one in FlowJo",
    )


def _no_sample(workspace: Workspace, names: tuple[str | None, ...]) -> TemplateError:
    sought = " or ".join(quoted(n) for n in names if n) or "no name"
    return TemplateError(
        f"the workspace holds no sample named {sought}",
        hint="samples: "
        + _listed([s.name for s in workspace.samples])
        + "; name one with --wsp-sample",
    )


def sample_source(workspace: Workspace, *names: str | None) -> tuple[GatingSource, WspSample]:
    """A sample's own tree (its group gates and any it was given alone)."""
    sample = find_sample(workspace, *names)
    if sample is None:
        raise _no_sample(workspace, names)
    label = f"sample {quoted(sample.name)}"
    return GatingSource(
        label, sample.nodes, sample.transforms, sample.matrix, sample.linear_displays
    ), sample


def _group(workspace: Workspace, name: str) -> WspGroup:
    group = workspace.group(name)
    if group is None:
        raise TemplateError(
            f"the workspace holds no group named {quoted(name)}",
            hint="groups: " + _listed([g.name for g in workspace.groups]),
        )
    if not group.nodes:
        raise TemplateError(f"group {quoted(name)} holds no gates")
    return group


def group_source(
    workspace: Workspace, name: str, *names: str | None, require_sample: bool = False
) -> tuple[GatingSource, WspSample | None]:
    """A group's tree, with the found sample's scales or the ones its samples share."""
    group = _group(workspace, name)
    label = f"group {quoted(name)}"
    sample = find_sample(workspace, *names)
    if sample is None and require_sample:
        raise _no_sample(workspace, names)
    if sample is not None:
        if sample.sample_id not in group.sample_ids:
            raise TemplateError(
                f"sample {quoted(sample.name)} is not in group {quoted(name)}",
                hint="its samples: "
                + _listed([s.name for i in group.sample_ids if (s := workspace.sample_by_id(i))]),
            )
        return GatingSource(
            label, group.nodes, sample.transforms, sample.matrix, sample.linear_displays
        ), sample
    members = [s for i in group.sample_ids if (s := workspace.sample_by_id(i)) is not None]
    if not members:
        raise TemplateError(
            f"group {quoted(name)} holds no sample to take its channels' scales and matrix from"
        )
    first = members[0]
    read = _channels_read(group.nodes)
    for other in members[1:]:
        differing = sorted(
            c
            for c in read
            if first.transforms.get(c) != other.transforms.get(c)
            # two linear scales gate the same events (FlowJo sets Time's per sample)
            and not (
                isinstance(first.transforms.get(c), LinearTransform)
                and isinstance(other.transforms.get(c), LinearTransform)
            )
        )
        if differing:
            raise TemplateError(
                f"group {quoted(name)}: samples {quoted(first.name)} and {quoted(other.name)} show "
                f"{quoted(differing[0])} on different scales; name the sample whose scales apply "
                "with --wsp-sample"
            )
        if not _same_matrix(first, other):
            raise TemplateError(
                f"group {quoted(name)}: samples {quoted(first.name)} and {quoted(other.name)} are compensated "
                "with different matrices; name the sample with --wsp-sample"
            )
    return GatingSource(
        label, group.nodes, first.transforms, first.matrix, first.linear_displays
    ), None


def _channels_read(nodes: tuple[WspNode, ...]) -> set[str]:
    """Every channel name a gate of the tree reads (as written, ``Comp-`` included)."""
    tag = f"{{{DATATYPE_NS}}}fcs-dimension"
    return {
        e.get(f"{{{DATATYPE_NS}}}name") or ""
        for top in nodes
        for node in top.walk()
        if node.element is not None
        for e in node.element.iter(tag)
    }


def _same_matrix(a: WspSample, b: WspSample) -> bool:
    if a.matrix is None or b.matrix is None:
        return a.matrix is b.matrix
    return (
        a.matrix.name == b.matrix.name
        and a.matrix.detectors == b.matrix.detectors
        and bool((a.matrix.matrix == b.matrix.matrix).all())
    )
