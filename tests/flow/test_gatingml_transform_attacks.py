"""GatingML templates whose transformation parameters pass their ranges but cannot be
computed (logicle M 200, T 1e-300, fasinh M 400, flin T + A past the largest float...) are
refused naming the template and the transformation, exit 2, never an internal error or a count
of values that are not numbers; parameters that compute stay accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_contract import assert_bad_input, invoke
from tests.conftest import shared_path

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
    'xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations" '
    'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">\n'
)
GATE = (
    '<gating:RectangleGate gating:id="R"><gating:dimension gating:min="0.1" gating:max="0.9" '
    'gating:transformation-ref="t" gating:compensation-ref="uncompensated">'
    '<data-type:fcs-dimension data-type:name="FL1-H"/></gating:dimension>'
    "</gating:RectangleGate></gating:Gating-ML>\n"
)


def _template(tmp_path: Path, kind: str, **params: str) -> Path:
    attributes = " ".join(f'transforms:{k}="{v}"' for k, v in params.items())
    body = f'<transforms:transformation transforms:id="t"><transforms:{kind} {attributes}/>'
    path = tmp_path / f"{kind}.xml"
    path.write_text(HEAD + body + "</transforms:transformation>" + GATE, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("kind", "params", "why"),
    [
        ("logicle", {"T": "262144", "W": "0.5", "M": "200", "A": "0"}, "cannot be evaluated"),
        ("logicle", {"T": "1e-300", "W": "0.5", "M": "4.5", "A": "0"}, "cannot be evaluated"),
        ("logicle", {"T": "262144", "W": "0", "M": "1e-300", "A": "0"}, "cannot be evaluated"),
        ("logicle", {"T": "inf", "W": "0.5", "M": "4.5", "A": "0"}, "is not defined"),
        ("hyperlog", {"T": "262144", "W": "0.5", "M": "200", "A": "0"}, "cannot be evaluated"),
        ("hyperlog", {"T": "1e-300", "W": "0.5", "M": "4.5", "A": "0"}, "cannot be evaluated"),
        ("fasinh", {"T": "262144", "M": "400", "A": "0"}, "cannot be evaluated"),
        ("flin", {"T": "1e308", "A": "1e308"}, "gives no finite value"),
    ],
)
def test_a_scale_that_cannot_be_computed_is_refused_naming_it(
    tmp_path: Path, kind: str, params: dict[str, str], why: str
) -> None:
    fcs = shared_path("gatingml", "data1.fcs")
    template = _template(tmp_path, kind, **params)
    result = invoke(["flow", "gate", fcs, "--template", template, "--json"])
    line = assert_bad_input(result, template)
    assert line.startswith(f"error: {template}: transformation 't': {kind}("), line
    assert why in line
    assert "0x" not in line  # no address of a compiled kernel
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no numpy warnings


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("fasinh", {"T": "262144", "M": "1e-300", "A": "0"}),  # tends to linear
        ("flog", {"T": "262144", "M": "400"}),
        ("logicle", {"T": "262144", "W": "0.5", "M": "4.5", "A": "0"}),
    ],
)
def test_extreme_parameters_that_compute_are_gated(
    tmp_path: Path, kind: str, params: dict[str, str]
) -> None:
    fcs = shared_path("gatingml", "data1.fcs")
    result = invoke(["flow", "gate", fcs, "--template", _template(tmp_path, kind, **params)])
    assert result.exit_code == 0, result.stderr
