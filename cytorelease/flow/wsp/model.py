"""A FlowJo 10 workspace as read: samples, groups, their gate trees, transforms and matrices.

Nothing here is applied yet: gate elements are kept as the GatingML elements FlowJo wrote (in
data values, before any transform), transforms per channel as FlowJo names them, and a matrix
with the prefix FlowJo puts before a compensated channel's name (``Comp-``). A transform
FlowJo has that cannot be computed exactly is kept as :class:`UnsupportedTransform`, refused
by name when a gate reads that channel (a transform on a channel no gate reads harms nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import numpy as np

from cytorelease.flow.transforms import Transform

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = [
    "ACQUISITION_DEFINED",
    "UnsupportedTransform",
    "Workspace",
    "WspGroup",
    "WspMatrix",
    "WspNode",
    "WspSample",
]

# the name FlowJo gives the matrix it read from the FCS file itself ($SPILLOVER)
ACQUISITION_DEFINED = "Acquisition-defined"


@dataclass(frozen=True)
class UnsupportedTransform:
    """A channel's transform that is not computed: its FlowJo element name and why."""

    kind: str
    reason: str


ChannelTransform = Transform | UnsupportedTransform


@dataclass(frozen=True, eq=False)
class WspMatrix:
    """A compensation matrix: rows are fluorochromes (named like their detectors), columns
    detectors, as in $SPILLOVER; ``prefix``/``suffix`` mark a compensated channel's name."""

    name: str
    prefix: str
    suffix: str
    detectors: tuple[str, ...]
    matrix: np.ndarray

    @property
    def acquisition_defined(self) -> bool:
        return self.name == ACQUISITION_DEFINED

    def detector_of(self, channel: str) -> str | None:
        """The detector a compensated channel name (``Comp-FITC-A``) stands for, or None."""
        if not channel.startswith(self.prefix) or not channel.endswith(self.suffix):
            return None
        end = len(channel) - len(self.suffix)
        detector = channel[len(self.prefix) : end]
        return detector if detector in self.detectors else None


@dataclass(frozen=True)
class WspNode:
    """One population (a gate) or boolean node (``and``/``or``/``not``) and its children.

    ``path`` holds the names from the top of the tree down to this node; ``element`` is the
    gate's GatingML element (populations); ``dependents`` the paths a boolean node combines.
    """

    name: str
    path: tuple[str, ...]
    kind: str  # "population", "and", "or", "not"
    element: Element | None = None
    dependents: tuple[tuple[str, ...], ...] = ()
    owning_group: str = ""
    count: int | None = None  # the count FlowJo stored (its own, binned, computation)
    children: tuple[WspNode, ...] = ()

    @property
    def key(self) -> str:
        """The node's id: its path joined with ``/`` (``CD3+/CD4+/IFNg+``)."""
        return "/".join(self.path)

    def walk(self) -> list[WspNode]:
        """This node and every node below it, parents first."""
        out: list[WspNode] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


@dataclass(frozen=True)
class WspSample:
    """A sample: its FlowJo id and name, the FCS file it was read from, and how it is gated."""

    sample_id: str
    name: str
    uri: str
    keywords: dict[str, str]
    transforms: dict[str, ChannelTransform]
    matrix: WspMatrix | None
    nodes: tuple[WspNode, ...]
    # linear channels' displayed range (minRange, maxRange): where an ellipse is stored
    linear_displays: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        """The FCS file's name as the workspace's DataSet URI gives it ("" when none)."""
        if not self.uri:
            return ""
        return PurePosixPath(unquote(urlparse(self.uri).path).replace("\\", "/")).name

    def answers_to(self, name: str) -> bool:
        """Is ``name`` this sample's name, its file's name or its $FIL keyword?"""
        return name in (self.name, self.file_name, self.keywords.get("$FIL"))


@dataclass(frozen=True)
class WspGroup:
    """A group: the samples it holds and the gates it shares (its template tree)."""

    name: str
    sample_ids: tuple[str, ...]
    nodes: tuple[WspNode, ...]


@dataclass(frozen=True)
class Workspace:
    """A whole workspace, in document order."""

    version: str
    flowjo_version: str
    samples: tuple[WspSample, ...]
    groups: tuple[WspGroup, ...]
    sha256: str = field(default="")

    def group(self, name: str) -> WspGroup | None:
        return next((g for g in self.groups if g.name == name), None)

    def samples_named(self, name: str) -> list[WspSample]:
        return [s for s in self.samples if s.answers_to(name)]

    def sample_by_id(self, sample_id: str) -> WspSample | None:
        return next((s for s in self.samples if s.sample_id == sample_id), None)
