"""``cytorelease potency elisa`` on Gen5 exports with their own layout: refusal line and exit 2,
and a dilution series in --json and in the table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import AssayError
from cytorelease.potency.assay import load_potency_assay
from tests.conftest import shared_path
from tests.potency.gen5_build import REAL_GEN5
from tests.potency.test_elisa_dilutions import FRACTIONS, _assay, _plate

runner = CliRunner()


def test_real_gen5_against_the_bundled_assay_is_one_error_line() -> None:
    path = shared_path(*REAL_GEN5)
    result = runner.invoke(app, ["potency", "elisa", str(path), "--assay", "potency-ifng-elisa"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(
        f"error: {path}: layout: well A1 is STD1 (conc 2000) in the export, standard S1 "
        "(conc 1000) in assay potency-ifng-elisa"
    )
    assert "Traceback" not in result.output


def test_dilution_series_in_json_and_table(tmp_path: Path) -> None:
    plate = _plate(tmp_path, [1500.0 * f for f in FRACTIONS])
    assay = _assay(tmp_path)
    result = runner.invoke(app, ["potency", "elisa", str(plate), "--assay", str(assay), "--json"])
    assert result.exit_code == 0, result.output
    samples = json.loads(result.stdout)["samples"]
    assert [s["name"] for s in samples] == ["SPL1"]
    spl1 = samples[0]
    assert {"name", "concentration", "reported", "dilutions", "cv_pct", "flags"} <= set(spl1)
    assert [d["in_range"] for d in spl1["dilutions"]] == [False, True, True, True]
    table = runner.invoke(app, ["potency", "elisa", str(plate), "--assay", str(assay)])
    assert table.exit_code == 0, table.output
    assert "1*, 2, 4, 8" in table.output  # the dilution outside the range is starred


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("layout: from-export\n", "from-export: standards and blanks come from the export"),
        ("", "either wells (one dilution) or dilutions"),
    ],
)
def test_assay_schema_refuses_mixed_layouts(tmp_path: Path, edit: str, problem: str) -> None:
    text = (Path(__file__).parents[2] / "assays" / "potency-ifng-elisa.yaml").read_text()
    text = text.replace("plate_wells: 96\n", f"plate_wells: 96\n{edit}")
    if not edit:
        text = text.replace(
            "dilution: 1, wells: [B3, B4, B5]}",
            "dilution: 1, wells: [B3, B4, B5], dilutions: [{dilution: 1, wells: [B6]}, "
            "{dilution: 2, wells: [B7]}]}",
        )
    path = tmp_path / "assay.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AssayError, match=re.escape(problem)):
        load_potency_assay(path)
