"""A YAML template's transform whose parameters pass their ranges but cannot be computed is
refused by the template's name and the transform's key, exit 2, never an internal error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cytorelease.flow.gating.template_model import TransformKind, TransformSpec
from tests.cli_contract import assert_bad_input, invoke

PANEL = Path(__file__).resolve().parents[2] / "gating" / "cd19-car-t-panel.yaml"
LOGICLE = "viability: &logicle {kind: logicle, t: 262144, w: 0.5, m: 4.5, a: 0}"


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ("t: 262144, w: 0.5, m: 200, a: 0", "cannot be evaluated"),
        ("t: 1e-300, w: 0.5, m: 4.5, a: 0", "cannot be evaluated"),
        ("t: 262144, w: 0.5, m: 1e-300, a: 0", "needs T > 0, M > 0"),
    ],
)
def test_an_unevaluable_logicle_is_refused_naming_the_transform(
    params: str, problem: str, small_tubes: tuple[Path, Path], tmp_path: Path
) -> None:
    text = PANEL.read_text(encoding="utf-8")
    assert LOGICLE in text
    template = tmp_path / "panel.yaml"
    template.write_text(
        text.replace(LOGICLE, f"viability: &logicle {{kind: logicle, {params}}}"), "utf-8"
    )
    stained, fmo = small_tubes
    result = invoke(["flow", "gate", stained, "--template", template, "--control", fmo])
    message = assert_bad_input(result, template)
    assert "transforms.viability:" in message and problem in message, message
    assert not re.search(r"0x[0-9a-f]{6,}", message)  # no compiled kernel's address


def test_a_computable_transform_builds() -> None:
    spec = TransformSpec(kind=TransformKind.LOGICLE, t=262144, w=0.5, m=4.5, a=0)
    assert spec.build().describe().startswith("logicle(")
