"""Read a FlowJo 10 workspace (``.wsp``) into :class:`~cytorelease.flow.wsp.model.Workspace`.

The XML is parsed with defusedxml (entity expansion and external references are refused) from
at most :data:`MAX_WORKSPACE_BYTES`, read without following a device or waiting on a pipe, as a
stream held to the limits of :mod:`cytorelease.flow.wsp.limits` (a file past one is an
InputError naming it). Every other error is a TemplateError naming the workspace and what in it
is wrong; names from the file are quoted by :func:`~cytorelease.flow.wsp.limits.quoted`.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from cytorelease.errors import CytoreleaseError, InputError, TemplateError
from cytorelease.flow.gating.gatingml_import import (
    DATATYPE_NS,
    MAX_MATRIX_DETECTORS,
    TRANSFORMS_NS,
)
from cytorelease.flow.transforms import AsinhTransform, LinearTransform, LogicleTransform
from cytorelease.flow.transforms_flowjo import FlowJoBiexTransform, FlowJoLogTransform
from cytorelease.flow.wsp.limits import (
    MAX_NESTING_DEPTH,
    MAX_WORKSPACE_BYTES,
    parse_bounded,
    quoted,
)
from cytorelease.flow.wsp.model import (
    ChannelTransform,
    UnsupportedTransform,
    Workspace,
    WspGroup,
    WspMatrix,
    WspNode,
    WspSample,
)

_COUNT = re.compile(r"-?[0-9]{1,18}")

__all__ = ["MAX_WORKSPACE_BYTES", "is_workspace", "parse_workspace", "read_workspace"]

_BOOLEAN_NODES = {"AndNode": "and", "OrNode": "or", "NotNode": "not"}


def _t(tag: str) -> str:
    return f"{{{TRANSFORMS_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DATATYPE_NS}}}{tag}"


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


# what may stand before the root element: the declaration, processing instructions,
# comments and a document type (with its internal subset)
_PROLOGUE = re.compile(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", re.S)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")


def is_workspace(path: Path) -> bool:
    """A FlowJo workspace, judged by its root element (``<Workspace>``) in the first 4 KB."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    first = _FIRST_ELEMENT.search(_PROLOGUE.sub(b"", head))
    return first is not None and first.group(1) == b"Workspace"


def _read_bytes(path: Path) -> bytes:
    try:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise TemplateError("no such file (expected a FlowJo workspace)", path=path) from None
    except OSError as error:
        raise TemplateError(f"cannot read: {error.strerror}", path=path) from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise TemplateError("not a regular file (expected a FlowJo workspace)", path=path)
    if status.st_size > MAX_WORKSPACE_BYTES:
        os.close(descriptor)
        raise _too_large(status.st_size, path)
    with os.fdopen(descriptor, "rb") as handle:
        # the size known, not the limit: a read of the limit reserves that much first
        data = handle.read(status.st_size + 1)
        if len(data) > status.st_size:  # a file still growing
            data += handle.read(MAX_WORKSPACE_BYTES + 1 - len(data))
    if len(data) > MAX_WORKSPACE_BYTES:
        raise _too_large(len(data), path)
    return data


def _too_large(size: int, path: Path) -> InputError:
    return InputError(
        f"a workspace of {size:,} bytes; at most {MAX_WORKSPACE_BYTES:,} are accepted "
        "(MAX_WORKSPACE_BYTES)",
        path=path,
    )


def read_workspace(source: str | Path) -> Workspace:
    """Read a workspace file; errors name the file."""
    path = Path(source)
    data = _read_bytes(path)
    try:
        root = parse_bounded(data)
    except CytoreleaseError as error:
        raise error.with_path(path) from None
    except DefusedXmlException as error:
        # named by kind only: the error's text quotes the document (an entity's target)
        raise TemplateError(f"refused unsafe XML ({type(error).__name__})", path=path) from None
    except SafeET.ParseError as error:
        raise TemplateError(f"malformed XML: {error}", path=path) from None
    except (LookupError, ValueError) as error:  # an encoding Python does not know
        raise TemplateError(f"malformed XML: {error}", path=path) from None
    try:
        workspace = parse_workspace(root)
    except CytoreleaseError as error:
        raise error.with_path(path) from None
    return replace(workspace, sha256=hashlib.sha256(data).hexdigest())


def parse_workspace(root: Element) -> Workspace:
    """A workspace from its parsed root element."""
    if _local(root.tag) != "Workspace":
        raise TemplateError(
            f"not a FlowJo workspace: the root element is <{_local(root.tag)}>, not <Workspace>"
        )
    samples_element = root.find("SampleList")
    samples = tuple(
        _sample(element)
        for element in (samples_element if samples_element is not None else ())
        if element.tag == "Sample"
    )
    _check_sample_ids(samples)
    groups_element = root.find("Groups")
    groups = tuple(
        _group(element)
        for element in (groups_element if groups_element is not None else ())
        if element.tag == "GroupNode"
    )
    return Workspace(root.get("version", ""), root.get("flowJoVersion", ""), samples, groups)


# samples and groups ------------------------------------------------------------------------


def _children(element: Element | None) -> list[Element]:
    return [] if element is None else list(element)


def _sample(element: Element) -> WspSample:
    node = element.find("SampleNode")
    if node is None:
        raise TemplateError("a Sample without a SampleNode (its name and gates)")
    name = node.get("name") or ""
    where = f"sample {quoted(name)}"
    dataset = element.find("DataSet")
    keywords = {
        k.get("name", ""): k.get("value", "")
        for k in _children(element.find("Keywords"))
        if k.tag == "Keyword"
    }
    transforms: dict[str, ChannelTransform] = {}
    displays: dict[str, tuple[float, float]] = {}
    for child in _children(element.find("Transformations")):
        parameter = child.find(_d("parameter"))
        channel = parameter.get(_d("name")) if parameter is not None else None
        if channel:
            where_ = f"{where} channel {quoted(channel)}"
            transforms[channel] = found = _transform(child, where_)
            if isinstance(found, LinearTransform):
                displays[channel] = (_number(child, "minRange", where_),
                                     _number(child, "maxRange", where_))  # fmt: skip
    matrices = element.findall(_t("spilloverMatrix"))
    if len(matrices) > 1:
        raise TemplateError(f"{where} holds {len(matrices)} compensation matrices; one is read")
    matrix = _matrix(matrices[0], where) if matrices else None
    sub = node.find("Subpopulations")
    return WspSample(
        sample_id=node.get("sampleID")
        or (dataset.get("sampleID") if dataset is not None else "")
        or "",
        name=name,
        uri=(dataset.get("uri") if dataset is not None else None) or "",
        keywords=keywords,
        transforms=transforms,
        matrix=matrix,
        linear_displays=displays,
        nodes=_nodes(sub, (), where) if sub is not None else (),
    )


def _group(element: Element) -> WspGroup:
    name = element.get("name") or ""
    group = element.find("Group")
    refs = group.find("SampleRefs") if group is not None else None
    ids = tuple(r.get("sampleID") or "" for r in (refs if refs is not None else ()))
    sub = element.find("Subpopulations")
    nodes = _nodes(sub, (), f"group {quoted(name)}") if sub is not None else ()
    return WspGroup(name, ids, nodes)


def _nodes(sub: Element, above: tuple[str, ...], where: str) -> tuple[WspNode, ...]:
    if len(above) >= MAX_NESTING_DEPTH:
        raise TemplateError(
            f"{where}: gates nested more than {MAX_NESTING_DEPTH} deep; at most "
            f"{MAX_NESTING_DEPTH} levels are accepted"
        )
    out = []
    for child in sub:
        kind = "population" if child.tag == "Population" else _BOOLEAN_NODES.get(str(child.tag))
        if kind is None:
            continue  # statistics, graphs and layout FlowJo keeps beside its gates
        name = child.get("name") or ""
        path = (*above, name)
        if not name or "/" in name:
            raise TemplateError(
                f"{where}: a gate under {quoted('/'.join(above)) if above else 'the root'} has "
                + (
                    "no name"
                    if not name
                    else f"a '/' in its name {quoted(name)}, which FlowJo paths split on"
                )
            )
        element = None
        dependents: tuple[tuple[str, ...], ...] = ()
        if kind == "population":
            gate = child.find("Gate")
            shapes = [e for e in (gate if gate is not None else ()) if isinstance(e.tag, str)]
            if len(shapes) != 1:
                raise TemplateError(
                    f"{where} gate {quoted('/'.join(path))}: expected one gate shape"
                )
            element = shapes[0]
        else:
            holder = child.find("Dependents")
            dependents = tuple(
                tuple((d.get("name") or "").split("/"))
                for d in (holder if holder is not None else ())
                if d.tag == "Dependent"
            )
        grand = child.find("Subpopulations")
        count = child.get("count")
        out.append(
            WspNode(
                name=name,
                path=path,
                kind=kind,
                element=element,
                dependents=dependents,
                owning_group=child.get("owningGroup") or "",
                count=_stored_count(count),
                children=_nodes(grand, path, where) if grand is not None else (),
            )
        )
    return tuple(out)


# transforms and matrices --------------------------------------------------------------------


def _number(element: Element, name: str, where: str) -> float:
    text = element.get(_t(name))
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TemplateError(f"{where}: transforms:{name} is not a number") from None


def _transform(element: Element, where: str) -> ChannelTransform:
    """A channel's transform; one FlowJo defines only by its own code is kept as unsupported."""
    kind = _local(element.tag)

    def n(name: str) -> float:
        return _number(element, name, where)

    try:
        if kind == "linear":
            low, high = n("minRange"), n("maxRange")
            # Any increasing affine map gates the same events. FlowJo displays minRange..
            # maxRange, which this is when minRange <= 0; above 0 the scale starts at data 0
            # instead, and an ellipse (stored on the display) is mapped onto it (convert.py).
            if not low < high or -low > high:
                return UnsupportedTransform(kind, f"minRange {low:g} with maxRange {high:g}")
            return LinearTransform(T=high, A=max(-low, 0.0))
        if kind == "log":
            return FlowJoLogTransform(offset=n("offset"), decades=n("decades"))
        if kind == "logicle":
            return LogicleTransform(T=n("T"), W=n("W"), M=n("M"), A=n("A"))
        if kind == "fasinh":
            # FlowJo's arcsinh adds length, maxRange and W, which do not move the scale
            return AsinhTransform(T=n("T"), M=n("M"), A=n("A"))
        if kind == "biex":
            return FlowJoBiexTransform(
                negative=n("neg"),
                width=n("width"),
                positive=n("pos"),
                max_range=n("maxRange"),
                length=n("length"),
            )
    except TemplateError as error:
        return UnsupportedTransform(kind, error.problem)
    except (ArithmeticError, ValueError) as error:
        # e.g. a biex width above -1 or a negative decade count whose table overflows: a
        # scale that cannot be built is refused where a gate uses it, never a crash
        return UnsupportedTransform(kind, f"its parameters cannot be evaluated ({error})")
    return UnsupportedTransform(kind, "FlowJo does not publish how it computes this scale")


def _matrix(element: Element, where: str) -> WspMatrix:
    name = element.get("name") or ""
    where = f"{where} matrix {quoted(name)}"
    if element.get("spectral") == "1":
        raise TemplateError(f"{where} is a spectral unmixing matrix, which is not supported")
    holder = element.find(_d("parameters"))
    detectors = tuple(p.get(_d("name")) or "" for p in (holder if holder is not None else ()))
    if (
        not detectors
        or len(detectors) > MAX_MATRIX_DETECTORS
        or len(set(detectors)) != len(detectors)
    ):
        raise TemplateError(
            f"{where} names {len(detectors)} detectors (1 to {MAX_MATRIX_DETECTORS}, each once)"
        )
    column = {d: i for i, d in enumerate(detectors)}
    matrix = np.full((len(detectors), len(detectors)), np.nan)
    for row in element.findall(_t("spillover")):
        fluorochrome = row.get(_d("parameter")) or ""
        if fluorochrome not in column:
            raise TemplateError(
                f"{where}: a row for {quoted(fluorochrome)}, which it does not name"
            )
        for coefficient in row.findall(_t("coefficient")):
            detector = coefficient.get(_d("parameter")) or ""
            if detector not in column:
                raise TemplateError(
                    f"{where}: a coefficient for unknown detector {quoted(detector)}"
                )
            matrix[column[fluorochrome], column[detector]] = _number(coefficient, "value", where)
    if not np.isfinite(matrix).all():
        raise TemplateError(f"{where} lacks coefficients (one row and column per detector)")
    matrix.setflags(write=False)
    return WspMatrix(name, element.get("prefix") or "", element.get("suffix") or "", detectors,
                     matrix)  # fmt: skip


def _check_sample_ids(samples: tuple[WspSample, ...]) -> None:
    """Groups name their samples by sampleID: two samples of one id would let a group's tree
    be gated with the other sample's scales and matrix, so the workspace is refused."""
    seen: dict[str, WspSample] = {}
    for sample in samples:
        first = seen.setdefault(sample.sample_id, sample) if sample.sample_id else sample
        if first is not sample:
            raise TemplateError(
                f"samples {quoted(first.name)} and {quoted(sample.name)} both have sampleID "
                f"{quoted(sample.sample_id)}; FlowJo gives each sample its own"
            )


def _stored_count(text: str | None) -> int | None:
    """FlowJo's stored count of a node, shown beside ours; anything but a plain decimal integer
    (a 5,000-digit number, a superscript digit) is no count, not a crash."""
    return int(text) if text is not None and _COUNT.fullmatch(text) else None
