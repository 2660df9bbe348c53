"""Spec diff between versions and re-evaluation of past lots (what-if records, flips, summary)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.provenance import file_sha256
from cytorelease.spec import diff_specs, reevaluate, resolve_spec

Lot = Callable[..., list[dict[str, Any]]]
runner = CliRunner()
NOW = datetime(2026, 11, 21, 6, 0, 0, tzinfo=UTC)


def test_diff_v1_v2_lists_every_revision() -> None:
    diff = diff_specs(resolve_spec("cd19-car-t@1"), resolve_spec("cd19-car-t@2"))
    changes = {c.id: {f.field: (f.old, f.new) for f in c.changes} for c in diff.changed}
    assert changes == {
        "car-expression": {"limit": (">= 10 %", ">= 15 %")},
        "endotoxin": {"limit": ("<= 5.0 EU/mL", "<= 3.5 EU/mL")},
        "vcn": {
            "kind": ("numeric", "derived"),
            "attribute": ("qpcr.vcn_per_transduced_cell", "derived.vcn_per_transduced_cell"),
            "formula": (None, "qpcr.vcn_per_diploid_genome / (flow.car_pct_of_viable_cd3 / 100)"),
            "method": (
                "qPCR (RPP30 reference), per transduced cell",
                "ddPCR (RPP30 reference) per diploid genome / flow CAR+ fraction",
            ),
        },
    }
    assert [c["id"] for c in diff.added] == ["cd4-cd8-ratio"] and diff.removed == ()
    assert {h.field for h in diff.header} == {"version", "status", "effective_from", "supersedes"}


def test_diff_reports_rounding_timing_and_unit_changes(
    write_spec: Callable[..., Path], draft_v1_text: str
) -> None:
    old = resolve_spec(write_spec(draft_v1_text, "v1.yaml"))
    text = (
        draft_v1_text.replace("\nversion: 1\n", "\nversion: 2\n")
        .replace(
            '    limit: {min: 80}\n    decimals: 0\n    unit: "%"\n    alert',
            '    limit: {min: 80.0}\n    decimals: 1\n    unit: "%"\n    alert',
        )
        .replace("    timing: post-release\n", "")
        .replace(
            "  - id: rcl",
            "  - id: rcl-removed-below\n    test: x\n    category: safety\n    kind: report-only\n    attribute: manual.rcl\n    method: y\n  - id: rcl-old",
        )
    )
    new = resolve_spec(write_spec(text, "v2.yaml"))
    diff = diff_specs(old, new)
    changes = {c.id: {f.field: (f.old, f.new) for f in c.changes} for c in diff.changed}
    assert changes["viability"] == {
        "limit": (">= 80 %", ">= 80.0 %"),
        "rounding": ("0 decimals", "1 decimal"),
        "alert": (">= 85 %", ">= 85.0 %"),
    }
    assert changes["sterility"] == {"timing": ("post-release", "pre-release")}
    assert [c["id"] for c in diff.removed] == ["rcl"]
    assert [c["id"] for c in diff.added] == ["rcl-removed-below", "rcl-old"]


def test_diff_of_a_spec_with_itself_is_empty() -> None:
    v2 = resolve_spec("cd19-car-t@2")
    diff = diff_specs(v2, v2)
    assert diff.is_empty and diff.to_dict()["changed"] == []


def _lot_dir(
    root: Path, name: str, measurements: list[dict[str, Any]], disposition: str = "PASS"
) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    record = {
        "schema": "cytorelease.result/1",
        "lot": {"id": name},
        "measurements": measurements,
        "evaluation": {"spec": {"id": "cd19-car-t", "version": 1}, "disposition": disposition},
    }
    (folder / "result.json").write_text(json.dumps(record, indent=2))
    return folder


def test_reevaluation_flips_whatif_records_and_summary(tmp_path: Path, lot: Lot) -> None:
    good = _lot_dir(tmp_path, "LOT-1", lot())
    low_car = _lot_dir(tmp_path, "LOT-2", lot(flow__car_pct_of_viable_cd3=(12.0, "%")))
    endotoxin = _lot_dir(
        tmp_path, "LOT-3", lot(manual__endotoxin_eu_ml=(4.2, "EU/mL"), flow__cd4_cd8_ratio=None)
    )
    originals = {p: file_sha256(p / "result.json") for p in (good, low_car, endotoxin)}
    specs = [resolve_spec("cd19-car-t@1"), resolve_spec("cd19-car-t@2")]
    result = reevaluate([good, low_car, endotoxin / "result.json"], specs, now=NOW)

    assert [lot.dispositions for lot in result.lots] == [
        ("PASS", "PASS"),
        ("PASS", "FAIL"),
        ("PASS", "FAIL"),
    ]
    flips = {
        lot.lot["id"]: {f.criterion: (f.verdicts, f.reasons) for f in lot.flips}
        for lot in result.lots
    }
    assert flips["LOT-1"] == {"cd4-cd8-ratio": (("absent", "report-only"), ("added",))}
    # 12 % CAR+: passes >= 10, fails >= 15; VCN per transduced cell = 0.75 / 0.12 = 6.25 under v2
    assert flips["LOT-2"]["car-expression"] == (("pass", "fail"), ("limit: >= 10 % -> >= 15 %",))
    assert flips["LOT-2"]["vcn"][0] == ("pass", "fail")
    assert flips["LOT-3"]["endotoxin"] == (
        ("pass", "fail"),
        ("limit: <= 5.0 EU/mL -> <= 3.5 EU/mL",),
    )
    assert flips["LOT-3"]["cd4-cd8-ratio"] == (("absent", "missing"), ("added",))
    assert result.summary == {
        "lots": 3,
        "lots_changing_disposition": 2,
        "transitions": {"PASS -> FAIL": 2},
        "criteria_flipped": {"cd4-cd8-ratio": 3, "car-expression": 1, "vcn": 1, "endotoxin": 1},
    }
    # the originals are untouched; one labelled what-if record per lot and spec sits beside each
    assert {p: file_sha256(p / "result.json") for p in originals} == originals
    written = sorted(p.name for p in low_car.iterdir())
    assert written == [
        "result.json",
        "whatif-cd19-car-t@1-20261121T060000Z.json",
        "whatif-cd19-car-t@2-20261121T060000Z.json",
    ]
    record = json.loads((low_car / written[2]).read_text())
    assert record["what_if"] is True and record["schema"] == "cytorelease.whatif/1"
    assert record["label"].startswith("WHAT-IF RE-EVALUATION")
    assert record["original"]["sha256"] == originals[low_car]
    assert record["original"]["disposition"] == "PASS"
    assert record["evaluation"]["disposition"] == "FAIL"
    assert record["evaluation"]["spec"]["sha256"] == specs[1].sha256


def test_reevaluation_never_overwrites_and_can_write_elsewhere(tmp_path: Path, lot: Lot) -> None:
    folder = _lot_dir(tmp_path, "LOT-9", lot())
    specs = [resolve_spec("cd19-car-t@1"), resolve_spec("cd19-car-t@2")]
    first = reevaluate([folder], specs, now=NOW).lots[0].whatif_records
    second = reevaluate([folder], specs, now=NOW).lots[0].whatif_records
    assert [p.name for p in second] == [p.name.replace(".json", "-2.json") for p in first]
    out = tmp_path / "audit"
    third = reevaluate([folder], specs, out_dir=out, now=NOW).lots[0].whatif_records
    assert [p.parent for p in third] == [out, out]
    assert third[0].name == "whatif-LOT-9-cd19-car-t@1-20261121T060000Z.json"


def test_lot_dir_uses_the_newest_result_file(tmp_path: Path, lot: Lot) -> None:
    folder = tmp_path / "LOT-5"
    folder.mkdir()
    for name, value, stamp in (
        ("result-a.json", 1.0, 1_000_000),
        ("result-b.json", 4.9, 2_000_000),
    ):
        path = folder / name
        path.write_text(json.dumps({"measurements": lot(manual__endotoxin_eu_ml=(value, "EU/mL"))}))
        os.utime(path, (stamp, stamp))
    specs = [resolve_spec("cd19-car-t@1"), resolve_spec("cd19-car-t@2")]
    result = reevaluate([folder], specs, write=False)
    assert result.lots[0].source.name == "result-b.json"
    assert result.lots[0].dispositions == ("PASS", "FAIL")


@pytest.mark.parametrize(
    ("sources", "specs", "message"),
    [
        (["nowhere"], 2, "nowhere: no such result file or lot folder"),
        ([], 1, "re-evaluation compares at least two spec versions: give --spec twice"),
    ],
)
def test_reevaluation_input_errors(
    sources: list[str], specs: int, message: str, tmp_path: Path
) -> None:
    loaded = [resolve_spec("cd19-car-t@1"), resolve_spec("cd19-car-t@2")][:specs]
    with pytest.raises(InputError) as caught:
        reevaluate([tmp_path / s for s in sources], loaded)
    assert str(caught.value).endswith(message)


def test_empty_lot_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=re.escape("no result.json (or result*.json) in this lot folder")
    ):
        reevaluate([tmp_path], [resolve_spec("cd19-car-t@1"), resolve_spec("cd19-car-t@2")])


def test_cli_audit_reevaluate(tmp_path: Path, lot: Lot) -> None:
    folder = _lot_dir(tmp_path, "LOT-2", lot(flow__car_pct_of_viable_cd3=(12.0, "%")))
    out = tmp_path / "out"
    args = [
        "audit",
        "reevaluate",
        str(folder),
        "--spec",
        "cd19-car-t@1",
        "--spec",
        "cd19-car-t@2",
        "--out",
        str(out),
    ]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.stderr
    assert "1 of 1 lots change disposition; PASS -> FAIL: 1" in table.stdout
    assert "limit: >= 10 % -> >= 15 %" in table.stdout
    as_json = runner.invoke(app, [*args, "--json"])
    document = json.loads(as_json.stdout)
    assert document["summary"]["lots_changing_disposition"] == 1
    assert document["lots"][0]["dispositions"] == ["PASS", "FAIL"]
    assert len(list(out.glob("whatif-*.json"))) == 4
    one = runner.invoke(app, ["audit", "reevaluate", str(folder), "--spec", "cd19-car-t@1"])
    assert one.exit_code == 2 and "give --spec twice" in one.stderr


def test_cli_spec_diff() -> None:
    table = runner.invoke(app, ["spec", "diff", "cd19-car-t@1", "cd19-car-t@2"])
    assert table.exit_code == 0, table.stderr
    assert table.stdout.startswith("cd19-car-t@1 -> cd19-car-t@2\n")
    assert "<= 5.0 EU/mL" in table.stdout and "<= 3.5 EU/mL" in table.stdout
    as_json = json.loads(
        runner.invoke(app, ["spec", "diff", "cd19-car-t@2", "cd19-car-t@1", "--json"]).stdout
    )
    assert [c["id"] for c in as_json["removed"]] == ["cd4-cd8-ratio"]
    endotoxin = next(c for c in as_json["changed"] if c["id"] == "endotoxin")
    assert endotoxin["changes"] == [
        {"field": "limit", "old": "<= 3.5 EU/mL", "new": "<= 5.0 EU/mL"}
    ]
    same = runner.invoke(app, ["spec", "diff", "cd19-car-t@2", "cd19-car-t"])
    assert same.stdout.endswith("no differences\n")


def test_cli_spec_lock(specs_copy: Path) -> None:
    v2 = specs_copy / "cd19-car-t" / "v2.yaml"
    result = runner.invoke(app, ["spec", "lock", str(v2)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"unchanged: cd19-car-t@2 sha256 {resolve_spec(v2).sha256}")
    v2.write_text(v2.read_text().replace("limit: {max: 3.5}", "limit: {max: 4.0}"))
    refused = runner.invoke(app, ["spec", "lock", str(v2)])
    assert refused.exit_code == 2 and "no longer matches its lock" in refused.stderr
