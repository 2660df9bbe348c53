"""Golden gating counts: the release panel's per-population counts for the sample lot and for
lots generated from a few seeds, so any change in what the automated gates place shows up here.

Regenerate (after a deliberate change, reviewed in the diff) with
``CYTORELEASE_REGEN_GOLDEN=1 python -m pytest tests/flow/test_golden_counts.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cytorelease.flow.gating.run import gate_file
from cytorelease.synth.lot import generate_lot, lot_id_for_seed
from cytorelease.synth.tubes import write_flow_tubes

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "flow"
CASES = ["sample_lot", "seed_2", "seed_7", "seed_11"]


def _tubes(case: str, tmp_path: Path) -> Path:
    if case == "sample_lot":
        return ROOT / "sample_data" / "lot-CAR-0001"
    seed = int(case.split("_")[1])
    generate_lot(tmp_path, seed=seed, steps=(write_flow_tubes,))
    return tmp_path / lot_id_for_seed(seed)


def _counts(lot: Path) -> dict[str, Any]:
    run = gate_file(
        lot / "tube1_stained.fcs", "cd19-car-t-panel", control=lot / "tube2_fmo_car.fcs"
    )
    doc = run.result.to_dict()
    return {
        "template": {k: doc["template"][k] for k in ("id", "version")},
        "event_count": doc["event_count"],
        "flags": doc["flags"],
        "populations": [
            {"path": p["path"], "count": p["count"], "parent_count": p["parent_count"]}
            for p in doc["populations"]
        ],
    }


@pytest.mark.parametrize("case", CASES)
def test_gating_counts_match_golden(case: str, tmp_path: Path) -> None:
    actual = _counts(_tubes(case, tmp_path))
    golden = GOLDEN / f"counts_{case}.json"
    if os.environ.get("CYTORELEASE_REGEN_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(actual, indent=2) + "\n", encoding="utf-8")
    if not golden.is_file():
        pytest.fail(f"no golden {golden.name}: regenerate with CYTORELEASE_REGEN_GOLDEN=1")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert actual["template"] == expected["template"], "the template changed: review, regenerate"
    assert actual["event_count"] == expected["event_count"]
    assert actual["flags"] == expected["flags"]
    shown = {p["path"]: p for p in actual["populations"]}
    assert list(shown) == [p["path"] for p in expected["populations"]]
    for want in expected["populations"]:
        assert shown[want["path"]] == want, f"{case}: population {want['path']}"
