"""Golden results: VCN of the simulated Biomark 96.96 / QX Manager exports and the real QX run.

Regenerate (after a deliberate change, reviewed in the diff) with
``CYTORELEASE_REGEN_GOLDEN=1 python -m pytest tests/qpcr/test_golden.py``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from cytorelease.qpcr.assay import load_assay
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.vcn import compute_vcn
from cytorelease.synth.qpcr_exports import write_qpcr_exports
from tests.conftest import shared_path

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "qpcr"
CASES = ["biomark_seed1", "qx_seed1", "real_qx_smn2"]


def _export_and_assay(case: str, tmp_path: Path) -> tuple[Path, Any]:
    if case == "real_qx_smn2":
        text = (Path(__file__).resolve().parents[2] / "assays" / "vcn-car-rpp30.yaml").read_text(
            encoding="utf-8"
        )
        text = text.replace("targets: [CAR]", "targets: ['1']").replace(
            "targets: [RPP30]", "targets: ['2']"
        )
        text = text.replace("require_ntc: true", "require_ntc: false")  # the run has no NTC
        assay = tmp_path / "smn2.yaml"
        assay.write_text(text, encoding="utf-8")
        source = shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv")
        return source, load_assay(assay)
    kind = case.split("_")[0]
    info = write_qpcr_exports(tmp_path, seed=1, vcn_truth=2.5)
    return tmp_path / info["files"][kind], load_assay("vcn-car-rpp30")


def _summary(case: str, tmp_path: Path) -> dict[str, Any]:
    path, assay = _export_and_assay(case, tmp_path)
    export = read_export(path)
    doc = compute_vcn(export, assay, car_fraction=0.5).to_dict()
    return {
        "input_sha256": export.sha256,
        "format": doc["format"],
        "instrument": doc["instrument"],
        "run_acceptance": doc["run_acceptance"],
        "standard_curves": [
            {k: c[k] for k in ("target", "slope", "intercept", "efficiency_pct", "r_squared")}
            for c in doc["standard_curves"]
        ],
        "samples": [
            {k: s[k] for k in ("sample", "vcn", "ci_low", "ci_high", "replicates")}
            for s in doc["samples"]
        ],
        "measurements": [
            [m["attribute"], m["details"]["sample"], m["value"]] for m in doc["measurements"]
        ],
    }


def _close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            _close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _close(a, e, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("case", CASES)
def test_vcn_matches_its_golden_file(case: str, tmp_path: Path) -> None:
    golden = GOLDEN / f"vcn_{case}.json"
    summary = json.loads(json.dumps(_summary(case, tmp_path)))
    if os.environ.get("CYTORELEASE_REGEN_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with CYTORELEASE_REGEN_GOLDEN=1"
    _close(summary, json.loads(golden.read_text(encoding="utf-8")), case)
