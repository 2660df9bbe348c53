"""Write gated samples as a FlowJo 10 workspace (.wsp), each with its placed gates.

A workspace is the ``Workspace`` element (``flowJoVersion`` 10; FlowJo reads its own format
version ``20.0``) holding the ``Matrices`` the samples use, the ``All Samples`` group and a
``SampleList``. Each ``Sample`` names its FCS file by URI (``DataSet``), carries its one
compensation matrix, its parameters' ``Transformations``, the file's ``Keywords`` and a
``SampleNode`` with the gate tree (:mod:`~cytorelease.flow.wsp.write_gates`). The gates are the
ones a result was counted with (``GatingResult.strategy``: placed data-driven gates, quadrants,
booleans); a gate the template could not place on this sample is absent, as it is from the
strategy. Each population carries its count as gated here (FlowJo recounts when it opens the
file). Population names are the result's names (the gate's id when it has none).

The counts FlowKit's ``Workspace`` gives for every population of the written file, with the
FCS file, equal the result's (tests/flow/test_wsp_export.py); docs/flowjo-export.md lists the
FlowJo rules this follows and where they come from.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.gating.gatingml_import import DATATYPE_NS, GATING_NS, TRANSFORMS_NS
from cytorelease.flow.gating.result import GatingResult
from cytorelease.flow.wsp.write_gates import PopulationWriter
from cytorelease.flow.wsp.write_parameters import SampleParameters, xml_text

__all__ = ["check_target", "export_wsp", "wsp_bytes"]

ET.register_namespace("gating", GATING_NS)
ET.register_namespace("transforms", TRANSFORMS_NS)
ET.register_namespace("data-type", DATATYPE_NS)

GROUP = "All Samples"  # the group every FlowJo workspace has
FLOWJO_VERSION = "10.6.2"  # the FlowJo 10 release whose workspaces this layout follows
WORKSPACE_VERSION = "20.0"  # the workspace format version FlowJo 10 writes


def file_uri(path: Path) -> str:
    """The file's absolute URI as FlowJo writes it (``file:/...``, percent-encoded)."""
    return path.resolve().as_uri().replace("file:///", "file:/", 1)


def check_target(target: str | Path) -> None:
    """Refuse a target that is a folder or already exists: an analyst may have saved their own
    gates into a workspace since it was written, and a rerun must not destroy them."""
    path = Path(target)
    if path.is_dir():
        raise InputError("is a folder where the FlowJo workspace is to be written", path=path)
    if not path.parent.is_dir():
        raise InputError(
            "is in a folder that does not exist; the FlowJo workspace is not written",
            path=path,
        )
    if path.exists() or path.is_symlink():
        raise InputError(
            "already exists; a FlowJo workspace may hold an analyst's own work since it was "
            "written, so it is never overwritten",
            path=path,
            hint="choose another path, or move the old workspace away",
        )


def _check_result(result: GatingResult) -> None:
    sample = result.sample
    if sample.dataset_count > 1:
        raise InputError(
            f"data set {sample.dataset_index + 1} of {sample.dataset_count}: a FlowJo sample "
            "names its file by URI and cannot say which data set it gated",
            path=sample.path,
        )
    excluded = int(result.details.get("nonfinite", {}).get("excluded", 0) or 0)
    if excluded:
        raise InputError(
            f"{excluded} events hold NaN or infinite values and were left out of the gating; "
            "FlowJo would gate them with the rest, so its counts could differ",
            path=sample.path,
        )


def _keywords(parent: ET.Element, result: GatingResult) -> None:
    sample = result.sample
    element = ET.SubElement(parent, "Keywords")
    pairs = [("FJ_FCS_VERSION", sample.fcs_version), *sample.keywords.items()]
    for name, value in pairs:
        try:
            ET.SubElement(
                element,
                "Keyword",
                {"name": xml_text(name, "keyword"), "value": xml_text(value, f"keyword {name}")},
            )
        except TemplateError as error:
            raise InputError(error.problem, path=sample.path) from None


def _sample(
    sample_list: ET.Element, result: GatingResult, sample_id: str, next_id: Iterator[int]
) -> None:
    _check_result(result)
    sample = result.sample
    table = result.populations
    names = dict(zip(table["gate_id"], table["name"], strict=True))
    counts = {g: int(c) for g, c in zip(table["gate_id"], table["count"], strict=True)}
    parameters = SampleParameters(sample, dict(result.strategy.spillovers))
    writer = PopulationWriter(
        result.strategy, parameters, names, counts, lambda: f"ID{next(next_id)}"
    )
    node = ET.Element(
        "SampleNode",
        {
            "name": xml_text(sample.path.name, "file name"),
            "annotation": "",
            "owningGroup": "",
            "count": str(sample.event_count),
            "sampleID": sample_id,
        },
    )
    writer.subpopulations(node, None)  # resolves every parameter before they are written
    element = ET.SubElement(sample_list, "Sample")
    ET.SubElement(element, "DataSet", {"uri": file_uri(sample.path), "sampleID": sample_id})
    parameters.matrix_element(element)
    parameters.transformations(element)
    _keywords(element, result)
    element.append(node)


def workspace_element(
    results: Iterable[GatingResult], *, created_at: datetime | None = None
) -> ET.Element:
    """The ``Workspace`` element of gated samples (each its own sample, in the order given)."""
    results = list(results)
    if not results:
        raise TemplateError("a workspace needs at least one gated sample")
    names = [r.sample.path.name for r in results]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(
            "two samples come from files of the same name; FlowJo names a sample by its file",
            path=twice[0],
        )
    when = (created_at or datetime.now(UTC)).astimezone(UTC)
    root = ET.Element(
        "Workspace",
        {
            "version": WORKSPACE_VERSION,
            "modDate": when.strftime("%a %b %d %H:%M:%S UTC %Y"),
            "flowJoVersion": FLOWJO_VERSION,
            "curGroup": GROUP,
        },
    )
    matrices = ET.SubElement(root, "Matrices")
    groups = ET.SubElement(root, "Groups")
    sample_list = ET.SubElement(root, "SampleList")
    next_id = count(1)
    seen: dict[str, ET.Element] = {}
    for number, result in enumerate(results, start=1):
        _sample(sample_list, result, str(number), next_id)
        written = sample_list[-1].find(f"{{{TRANSFORMS_NS}}}spilloverMatrix")
        if written is not None:
            key = written.get(f"{{{TRANSFORMS_NS}}}id", "")
            if key not in seen:  # the workspace lists each matrix once
                seen[key] = written
                matrices.append(_copy(written))
    group_node = ET.SubElement(
        groups, "GroupNode", {"name": GROUP, "annotation": "", "owningGroup": GROUP}
    )
    group = ET.SubElement(group_node, "Group", {"name": GROUP})
    ET.SubElement(group, "Criteria")
    refs = ET.SubElement(group, "SampleRefs")
    for number in range(1, len(results) + 1):
        ET.SubElement(refs, "SampleRef", {"sampleID": str(number)})
    ET.indent(root)
    return root


def _copy(element: ET.Element) -> ET.Element:
    return ET.fromstring(ET.tostring(element))


def wsp_bytes(
    results: GatingResult | Iterable[GatingResult], *, created_at: datetime | None = None
) -> bytes:
    """The workspace of one or more gated samples, UTF-8 encoded."""
    if isinstance(results, GatingResult):
        results = [results]
    root = workspace_element(results, created_at=created_at)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="UTF-8", xml_declaration=True)
    return buffer.getvalue() + b"\n"


def export_wsp(
    results: GatingResult | Iterable[GatingResult],
    target: str | Path | BinaryIO,
    *,
    created_at: datetime | None = None,
) -> None:
    """Write the workspace to a new file (:func:`check_target`) or a binary stream; nothing is
    written if it is refused (a refusal about the gates names the workspace not written)."""
    if isinstance(target, str | Path):
        check_target(target)
    try:
        data = wsp_bytes(results, created_at=created_at)
    except TemplateError as error:
        if isinstance(target, str | Path):
            raise error.with_path(target) from None
        raise
    if isinstance(target, str | Path):
        try:
            with open(target, "xb") as handle:  # exclusive: never over a file made meanwhile
                handle.write(data)
        except FileExistsError:
            check_target(target)
            raise
    else:
        target.write(data)
