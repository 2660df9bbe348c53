"""GatingML work is bounded: polygons past the vertex limit and chains nested past the nesting
limit are refused with one line naming the limit; a wide strategy (5,000 gates under one
parent, listed children first) is gated without recursion or blow-up.

Documents are written the way GatingML 2.0 files are (gating:RectangleGate / PolygonGate with
fcs-dimensions naming the tube's channels, ``gating:parent_id`` for nesting); the events are the
GatingML compliance suite's data1.fcs.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from cytorelease.errors import TemplateError
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating.gatingml_import import (
    MAX_NESTING_DEPTH,
    MAX_POLYGON_VERTICES,
    read_gatingml,
)
from cytorelease.flow.gating.run import gate_with_gatingml
from tests.cli_contract import invoke
from tests.conftest import shared_path

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
    'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">\n'
)
TAIL = "</gating:Gating-ML>\n"


def _dimension(name: str, lo: float | None = None) -> str:
    low = f' gating:min="{lo:g}"' if lo is not None else ""
    return (
        f'<gating:dimension gating:compensation-ref="uncompensated"{low}>'
        f'<data-type:fcs-dimension data-type:name="{name}"/></gating:dimension>'
    )


def _rectangle(gate_id: str, lo: float, parent: str | None = None) -> str:
    parent_attr = f' gating:parent_id="{parent}"' if parent else ""
    return (
        f'<gating:RectangleGate gating:id="{gate_id}"{parent_attr}>'
        f"{_dimension('FL1-H', lo)}</gating:RectangleGate>\n"
    )


def _write(tmp_path: Path, body: str, name: str = "g.xml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body + TAIL, encoding="utf-8")
    return path


def _polygon(vertices: int) -> str:
    vertex = (
        '<gating:vertex><gating:coordinate data-type:value="{x}"/>'
        '<gating:coordinate data-type:value="{y}"/></gating:vertex>'
    )
    points = "".join(vertex.format(x=i % 1000, y=(i * 7) % 1000) for i in range(vertices))
    return (
        '<gating:PolygonGate gating:id="Freehand">'
        f"{_dimension('FSC-H')}{_dimension('SSC-H')}{points}</gating:PolygonGate>\n"
    )


def _one_line_refusal(path: Path, pattern: str) -> str:
    with pytest.raises(TemplateError, match=pattern) as info:
        read_gatingml(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    return text


def test_a_polygon_past_the_vertex_limit_is_refused_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path, _polygon(MAX_POLYGON_VERTICES + 1))
    _one_line_refusal(
        path,
        rf"gate 'Freehand': a polygon of {MAX_POLYGON_VERTICES + 1} vertices; at most "
        rf"{MAX_POLYGON_VERTICES} are accepted",
    )


def test_the_cli_refuses_the_polygon_in_one_line_with_exit_2(tmp_path: Path) -> None:
    fcs = shared_path("gatingml", "data1.fcs")
    path = _write(tmp_path, _polygon(MAX_POLYGON_VERTICES + 1))
    result = invoke(["flow", "gate", fcs, "--template", path, "--json"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {path}: gate 'Freehand': a polygon of {MAX_POLYGON_VERTICES + 1} vertices; "
        f"at most {MAX_POLYGON_VERTICES} are accepted"
    ]


def _chain(depth: int) -> str:
    """G1 at the root, each G<n> inside G<n-1>; listed deepest first, so no order helps."""
    gates = [_rectangle(f"G{n}", 0, f"G{n - 1}" if n > 1 else None) for n in range(1, depth + 1)]
    return "".join(reversed(gates))


def test_a_chain_of_150_nested_gates_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, _chain(150))
    _one_line_refusal(
        path,
        rf"gate 'G{MAX_NESTING_DEPTH + 1}' is nested {MAX_NESTING_DEPTH + 1} gates deep; at most "
        rf"{MAX_NESTING_DEPTH} levels are accepted",
    )
    fcs = shared_path("gatingml", "data1.fcs")
    result = invoke(["flow", "gate", fcs, "--template", path])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert result.stderr.startswith(f"error: {path}: ") and "levels are accepted" in result.stderr


def test_a_chain_at_the_limit_is_read(tmp_path: Path) -> None:
    strategy = read_gatingml(_write(tmp_path, _chain(MAX_NESTING_DEPTH)))
    assert len(strategy.path(f"G{MAX_NESTING_DEPTH}")) == MAX_NESTING_DEPTH


def test_a_flat_strategy_of_5000_gates_is_gated(tmp_path: Path) -> None:
    """5,000 gates under one parent, written before it: each counts as it does on its own."""
    sample = read_fcs(shared_path("gatingml", "data1.fcs"))
    wide = 5000
    lows = [i % 1000 for i in range(wide)]
    body = "".join(_rectangle(f"R{i}", lows[i], "Root") for i in range(wide))
    body += _rectangle("Root", 0)
    result = gate_with_gatingml(sample, _write(tmp_path, body))
    assert len(result.populations) == wide + 1
    root = result.count("Root")
    assert root > 0
    for index in (0, 1, 499, 2500, wide - 1):
        alone = _write(
            tmp_path, _rectangle("Root", 0) + _rectangle("R", lows[index], "Root"), "1.xml"
        )
        assert result.count(f"R{index}") == gate_with_gatingml(sample, alone).count("R")
    # a higher minimum never keeps more events (the counts are of the real events, not a copy)
    counts = [result.count(f"R{i}") for i in range(1000)]
    assert counts[0] == root and all(a >= b for a, b in pairwise(counts))
    assert counts[-1] < root
