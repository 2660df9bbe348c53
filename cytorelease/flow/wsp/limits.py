"""How much of a FlowJo workspace is read, and how names from it are quoted in errors.

A workspace is parsed as a stream (:func:`parse_bounded`): each limit below is checked as the
elements arrive, so a hostile file is refused once it passes a limit, before the tree holding
it has been built, and long before any gate is converted or applied. Layout FlowJo keeps beside
the gates (plots, tables, page layouts) is dropped as each element ends.

The numbers are set far above what FlowJo writes (docs/flowjo.md, "Limits"):

- :data:`MAX_WORKSPACE_BYTES`: a sample of FlowKit's 8-colour ICS workspace (keywords,
  plots, 30 gates) takes about 145 KB, so 256 MB hold some 1,800 such samples, more than
  FlowJo keeps responsive in one workspace.
- :data:`MAX_POLYGON_VERTICES`: hand-drawn polygons have 3 to a few dozen vertices, FlowJo's
  freehand and auto gates a few hundred; 10,000 is 20 times a dense freehand gate. A polygon
  of 100,000 vertices took 7 s to convert alone; each vertex is also tested per event.
  A polygon past the limit is refused at its first vertex beyond it, so the refusal says
  "more than": counting the rest would cost the parse of all of them.
- :data:`MAX_TREE_VERTICES`: 100,000 across the polygons of one sample's or group's tree, ten
  polygons at the limit, a hundred times the 8-colour ICS sample's 100.
- :data:`MAX_TREE_GATES`: 10,000 populations and boolean nodes in one tree. Large published
  strategies with every boolean combination of their cytokines hold a few hundred.
- :data:`~cytorelease.flow.gating.gatingml_import.MAX_NESTING_DEPTH` (100): as for GatingML.
"""

from __future__ import annotations

import io
import re
from typing import TypeVar
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from cytorelease.errors import CytoreleaseError, InputError

# the one quoting of names from a file, shared with the GatingML reader the gates go through
from cytorelease.flow.gating.gatingml_import import GATING_NS, MAX_NESTING_DEPTH, quoted

__all__ = [
    "MAX_NESTING_DEPTH",
    "MAX_POLYGON_VERTICES",
    "MAX_TREE_GATES",
    "MAX_TREE_VERTICES",
    "MAX_WORKSPACE_BYTES",
    "parse_bounded",
    "quoted",
    "shortened",
]

MAX_WORKSPACE_BYTES = 256 * 1024 * 1024
MAX_POLYGON_VERTICES = 10_000
MAX_TREE_VERTICES = 100_000
MAX_TREE_GATES = 10_000

# a quoted string (as repr writes one) longer than quoted() keeps; its quotes stand apart
# from words, so the apostrophes of prose ("FlowJo's") are not taken for them
_LONG_QUOTE = re.compile(r"(?<!\w)(?:'(?:[^'\\]|\\.){81,}'|\"(?:[^\"\\]|\\.){81,}\")(?!\w)")

_Error = TypeVar("_Error", bound=CytoreleaseError)


def _cut(match: re.Match[str]) -> str:
    inner = match.group(0)[1:-1]
    return f"{match.group(0)[:81]}{match.group(0)[0]}... ({len(inner):,} characters)"


def shortened(error: _Error) -> _Error:
    """The error with every long quoted name in its problem and hint cut short as
    :func:`quoted` cuts it: the gating engine quotes gate ids and channels in full, and a
    workspace's names can be megabytes long. Returns the same error."""
    error.problem = _LONG_QUOTE.sub(_cut, error.problem)
    if error.hint is not None:
        error.hint = _LONG_QUOTE.sub(_cut, error.hint)
    error.args = (error.one_line(),)
    return error


_GATE_NODES = frozenset({"Population", "AndNode", "OrNode", "NotNode"})
# what FlowJo keeps beside the gates and no reader here looks at
_DROPPED = frozenset({"Graph", "TableEditor", "LayoutEditor", "Statistic"})
_POLYGON = f"{{{GATING_NS}}}PolygonGate"
_VERTEX = f"{{{GATING_NS}}}vertex"


class _Budget:
    """The counts of the tree being read (a sample's or a group's) against the limits."""

    def __init__(self) -> None:
        self.tree = ""  # "sample 'name'" or "group 'name'"
        self.names: list[str] = []  # the open gate nodes' names, top first
        self.gates = 0
        self.vertices = 0
        self.polygon = -1  # vertices of the open polygon; -1 outside one

    def where(self) -> str:
        gate = quoted("/".join(self.names)) if self.names else "at the root"
        return f"{self.tree or 'the workspace'} gate {gate}"

    def refuse(self, what: str, limit: int, name: str) -> InputError:
        return InputError(f"{self.where()}: {what}; at most {limit:,} are accepted ({name})")

    def start(self, element: Element) -> None:
        tag = element.tag
        if tag == "SampleNode" or tag == "GroupNode":
            kind = "sample" if tag == "SampleNode" else "group"
            self.tree = f"{kind} {quoted(element.get('name') or '')}"
            self.gates = self.vertices = 0
        elif tag in _GATE_NODES:
            self.names.append(element.get("name") or "")
            self.gates += 1
            if self.gates > MAX_TREE_GATES:
                raise self.refuse(
                    f"more than {MAX_TREE_GATES:,} gates in one tree", MAX_TREE_GATES,
                    "MAX_TREE_GATES",
                )  # fmt: skip
            if len(self.names) > MAX_NESTING_DEPTH:
                raise self.refuse(
                    f"nested {len(self.names)} gates deep", MAX_NESTING_DEPTH, "MAX_NESTING_DEPTH"
                )
        elif tag == _POLYGON:
            self.polygon = 0
        elif tag == _VERTEX and self.polygon >= 0:
            self.polygon += 1
            self.vertices += 1
            # refused at the first vertex past a limit: counting the rest would cost the
            # parse of all of them
            if self.polygon > MAX_POLYGON_VERTICES:
                raise self.refuse(
                    f"a polygon of more than {MAX_POLYGON_VERTICES:,} vertices",
                    MAX_POLYGON_VERTICES,
                    "MAX_POLYGON_VERTICES",
                )
            if self.vertices > MAX_TREE_VERTICES:
                raise self.refuse(
                    f"more than {MAX_TREE_VERTICES:,} polygon vertices in one tree",
                    MAX_TREE_VERTICES,
                    "MAX_TREE_VERTICES",
                )

    def end(self, element: Element) -> None:
        tag = element.tag
        if tag in _GATE_NODES and self.names:
            self.names.pop()
        elif tag == _POLYGON:
            self.polygon = -1
        elif tag == "SampleNode" or tag == "GroupNode":
            self.tree = ""


def parse_bounded(data: bytes) -> Element:
    """The workspace's root element, parsed by defusedxml as a stream within the limits above;
    raises InputError naming the limit, the tree and the gate, and lets defusedxml's and the
    parser's own errors through."""
    budget = _Budget()
    open_elements: list[Element] = []
    root: Element | None = None
    for event, element in SafeET.iterparse(io.BytesIO(data), events=("start", "end")):
        if event == "start":
            if root is None:
                root = element
            budget.start(element)
            open_elements.append(element)
            continue
        open_elements.pop()
        budget.end(element)
        if element.tag in _DROPPED and open_elements:
            open_elements[-1].remove(element)
    assert root is not None  # a document without a root element is a ParseError
    return root
