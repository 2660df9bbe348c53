"""Golden results: the ELISA analysis of the stored plates in tests/data/potency/plates.

Regenerate (after a deliberate change, reviewed in the diff) with
``CYTORELEASE_REGEN_GOLDEN=1 python -m pytest tests/potency/test_golden.py``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from cytorelease.potency.elisa import analyse_elisa

ROOT = Path(__file__).resolve().parents[1]
PLATES = sorted((ROOT / "data" / "potency" / "plates").iterdir())
GOLDEN = ROOT / "golden" / "potency"


def _summary(plate: Path) -> dict[str, Any]:
    document = analyse_elisa(plate, "potency-ifng-elisa").to_dict()
    keep_curve = ("model", "weighting", "converged", "params", "standard_errors", "r_squared")
    return {
        "plate_sha256": document["inputs"]["plate"]["sha256"],
        "format": document["inputs"]["plate"]["format"],
        "curve": {k: document["curve"][k] for k in keep_curve},
        "acceptance": document["acceptance"],
        "working_range": document["working_range"],
        "standards": [
            {k: s[k] for k in ("standard", "mean_od", "back_calculated", "recovery_pct")}
            for s in document["standards"]
        ],
        "samples": [
            {k: s[k] for k in ("sample", "concentration", "ci95", "flag", "reported")}
            for s in document["samples"]
        ],
        "measurements": [(m["attribute"], m["value"]) for m in document["measurements"]],
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


@pytest.mark.parametrize("plate", PLATES, ids=[p.name for p in PLATES])
def test_elisa_analysis_matches_its_golden_file(plate: Path) -> None:
    golden = GOLDEN / f"{plate.stem}.json"
    summary = json.loads(json.dumps(_summary(plate)))  # tuples -> lists, as stored
    if os.environ.get("CYTORELEASE_REGEN_GOLDEN") == "1":
        golden.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with CYTORELEASE_REGEN_GOLDEN=1"
    _close(summary, json.loads(golden.read_text(encoding="utf-8")), plate.name)
