"""Evaluation: verdicts, reported values, disposition, units, inputs, and the evaluate command."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.measurement import Measurement
from cytorelease.spec import evaluate, read_measurements, resolve_spec

Lot = Callable[..., list[dict[str, Any]]]
runner = CliRunner()


@pytest.fixture(scope="module")
def v1() -> Any:
    return resolve_spec("cd19-car-t@1")


@pytest.fixture(scope="module")
def v2() -> Any:
    return resolve_spec("cd19-car-t@2")


def _by_id(evaluation: Any) -> dict[str, Any]:
    return {c.id: c for c in evaluation.criteria}


def test_a_conforming_lot_passes_with_rounded_reported_values(v1: Any, v2: Any, lot: Lot) -> None:
    evaluation = evaluate(v1, lot())
    assert evaluation.disposition == "PASS"
    results = _by_id(evaluation)
    assert {k: (r.reported, r.verdict) for k, r in results.items()} == {
        "appearance": ("conforms", "pass"),
        "transgene-identity": ("detected", "pass"),
        "cd3-identity": ("92", "pass"),
        "car-expression": ("32", "pass"),
        "viability": ("91", "pass"),
        "dose": ("3.9E8", "pass"),  # 1.2e9 x 32.45 / 100 = 389,400,000
        "vcn": ("2.3", "pass"),
        "potency-ifng": ("812", "pass"),
        "potency-fold": ("14", "pass"),
        "potency": (None, "pass"),
        "residual-b-cells": ("0", "pass"),
        "endotoxin": ("1.2", "pass"),
        "sterility": ("no growth", "pass"),
        "mycoplasma": ("not detected", "pass"),
        "rcl": ("not detected", "pass"),
    }
    assert results["dose"].reported_display == "3.9 x 10^8"
    assert results["viability"].limit == ">= 80 %"
    v2_results = _by_id(evaluate(v2, lot()))
    # v2 computes VCN per transduced cell: 0.75 / (32.45 / 100) = 2.311...
    assert (v2_results["vcn"].reported, v2_results["vcn"].attribute) == (
        "2.3",
        "derived.vcn_per_transduced_cell",
    )
    assert (v2_results["cd4-cd8-ratio"].reported, v2_results["cd4-cd8-ratio"].verdict) == (
        "1.46",
        "report-only",
    )


def test_usp_boundary_decides_the_verdict(v1: Any, lot: Lot) -> None:
    at_boundary = _by_id(evaluate(v1, lot(flow__viability_pct_of_cd45=(79.5, "%"))))["viability"]
    assert (at_boundary.reported, at_boundary.verdict) == ("80", "pass")
    below = _by_id(evaluate(v1, lot(flow__viability_pct_of_cd45=(79.49, "%"))))["viability"]
    assert (below.reported, below.verdict) == ("79", "fail")
    vcn = _by_id(evaluate(v1, lot(qpcr__vcn_per_transduced_cell=(4.95, "copies/transduced cell"))))[
        "vcn"
    ]
    assert (vcn.reported, vcn.limit, vcn.verdict) == ("5.0", "< 5.0 copies/transduced cell", "fail")


def test_missing_pre_release_result_is_incomplete(v1: Any, lot: Lot) -> None:
    evaluation = evaluate(v1, lot(manual__endotoxin_eu_ml=None))
    assert evaluation.disposition == "INCOMPLETE"
    endotoxin = _by_id(evaluation)["endotoxin"]
    assert (endotoxin.verdict, endotoxin.note) == ("missing", "no result")


def test_a_failure_dominates_missing_results(v1: Any, lot: Lot) -> None:
    evaluation = evaluate(v1, lot(manual__endotoxin_eu_ml=None, manual__rcl=("detected", "")))
    assert evaluation.disposition == "FAIL"


def test_pending_post_release_result_does_not_block(v1: Any, lot: Lot) -> None:
    evaluation = evaluate(v1, lot(manual__sterility=None))
    assert evaluation.disposition == "PASS"
    assert evaluation.pending == ["sterility"]
    assert _by_id(evaluation)["sterility"].verdict == "pending"
    failed_later = evaluate(v1, lot(manual__sterility=("growth", "")))
    assert failed_later.disposition == "FAIL"


def test_null_value_is_missing(v1: Any, lot: Lot) -> None:
    evaluation = evaluate(v1, lot(potency__ifng_pg_ml=(None, "pg/mL")))
    results = _by_id(evaluation)
    assert results["potency-ifng"].verdict == "missing"
    assert results["potency"].verdict == "missing"
    assert evaluation.disposition == "INCOMPLETE"


def test_composite_fails_when_a_component_fails(v1: Any, lot: Lot) -> None:
    results = _by_id(evaluate(v1, lot(potency__ifng_fold_over_negative=(1.4, "fold"))))
    assert (results["potency-fold"].verdict, results["potency"].verdict) == ("fail", "fail")
    assert results["potency"].note == "potency-ifng: pass, potency-fold: fail"


def test_alert_band_hits_are_listed_but_do_not_fail(v1: Any, lot: Lot) -> None:
    evaluation = evaluate(v1, lot(flow__viability_pct_of_cd45=(84.4, "%")))
    assert evaluation.disposition == "PASS"
    assert evaluation.alerts == ({"id": "viability", "reported": "84", "alert_limit": ">= 85 %"},)
    assert _by_id(evaluation)["viability"].alert is True
    assert evaluate(v1, lot(flow__viability_pct_of_cd45=(84.5, "%"))).alerts == ()


def test_derived_values_follow_their_inputs(v1: Any, v2: Any, lot: Lot) -> None:
    no_count = _by_id(evaluate(v1, lot(manual__total_viable_cells=None)))["dose"]
    assert (no_count.verdict, no_count.note) == (
        "missing",
        "no result for formula input manual.total_viable_cells",
    )
    high = _by_id(evaluate(v1, lot(manual__total_viable_cells=(2.0e9, "cells"))))["dose"]
    assert (high.reported, high.verdict) == ("6.5E8", "fail")
    zero = _by_id(evaluate(v2, lot(flow__car_pct_of_viable_cd3=(0, "%"))))
    assert zero["vcn"].verdict == "missing" and "divides by zero" in zero["vcn"].note
    assert zero["car-expression"].verdict == "fail"
    supplied = lot(derived__car_viable_t_cells=(1, "cells"))
    dose = _by_id(evaluate(v1, supplied))["dose"]
    assert (dose.reported, dose.note) == (
        "3.9E8",
        "supplied value ignored: the spec's formula computes it",
    )


def test_units_are_checked_not_converted(v1: Any, lot: Lot) -> None:
    with pytest.raises(InputError) as caught:
        evaluate(v1, lot(potency__ifng_pg_ml=(0.8, "ng/mL")))
    assert str(caught.value) == (
        "measurement 'potency.ifng_pg_ml' is in 'ng/mL' but cd19-car-t@1 criterion "
        "'potency-ifng' expects 'pg/mL' (units are never converted)"
    )
    spelled = evaluate(
        v1,
        lot(potency__ifng_pg_ml=(812.3, "pg/ml"), flow__cd3_pct_of_viable_cd45=(92.4, "percent")),
    )
    assert spelled.disposition == "PASS"
    with pytest.raises(InputError, match=re.escape("'flow.cd19_pct_of_viable' is in '(no unit)'")):
        evaluate(v1, lot(flow__cd19_pct_of_viable=(0.3, None)))


def test_qualitative_outcomes(v1: Any, lot: Lot) -> None:
    results = _by_id(
        evaluate(
            v1, lot(manual__mycoplasma=("Not-Detected ", ""), qpcr__transgene_detected=(True, ""))
        )
    )
    assert (results["mycoplasma"].reported, results["mycoplasma"].verdict) == (
        "Not-Detected",
        "pass",
    )
    assert (results["transgene-identity"].reported, results["transgene-identity"].verdict) == (
        "detected",
        "pass",
    )
    with pytest.raises(
        InputError, match=re.escape("'manual.appearance' is 1; criterion 'appearance' expects")
    ):
        evaluate(v1, lot(manual__appearance=(1, "")))


def test_numeric_strings_and_bad_values(v1: Any, lot: Lot) -> None:
    assert (
        _by_id(evaluate(v1, lot(manual__endotoxin_eu_ml=("4.95", "EU/mL"))))["endotoxin"].reported
        == "5.0"
    )
    with pytest.raises(
        InputError, match="'abc' is not a number\\); criterion 'endotoxin' needs a number"
    ):
        evaluate(v1, lot(manual__endotoxin_eu_ml=("abc", "EU/mL")))


def test_measurement_objects_are_accepted(v1: Any, lot: Lot) -> None:
    objects = [
        Measurement(m["attribute"], m["value"], m["unit"], details=m.get("details", {}))
        for m in lot()
    ]
    assert evaluate(v1, objects).to_dict() == evaluate(v1, lot()).to_dict()


def test_result_record_input(v1: Any, lot: Lot, write_json: Callable[..., Path]) -> None:
    record = {
        "schema": "cytorelease.result/1",
        "lot": {"id": "LOT-7"},
        "measurements": lot(),
        "evaluation": {},
    }
    data = read_measurements(write_json(record))
    assert data.lot == {"id": "LOT-7"} and data.record is not None
    assert evaluate(v1, data).disposition == "PASS"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"schema": "cytorelease.result/2", "measurements": []},
            "result record schema 'cytorelease.result/2' is not supported: this cytorelease reads cytorelease.result/1",
        ),
        (
            {"values": []},
            'expected {"measurements": [{"attribute": ..., "value": ..., "unit": ...}]} or a cytorelease.result/1 record',
        ),
        (
            {
                "measurements": [
                    {"attribute": "manual.rcl", "value": "x"},
                    {"attribute": "manual.rcl", "value": "y"},
                ]
            },
            "measurements[1]: attribute 'manual.rcl' is given twice",
        ),
        ({"measurements": [{"value": 1}]}, "measurements[0] has no 'attribute' name"),
        (
            {"measurements": [{"attribute": "manual.rcl"}]},
            "measurements[0] (manual.rcl) has no 'value' (use null for no result)",
        ),
        (
            {"measurements": [{"attribute": "manual.rcl", "value": [1]}]},
            "measurements[0] (manual.rcl): value must be a number, a string or null",
        ),
    ],
)
def test_bad_measurement_files_name_the_file(
    document: Any, message: str, write_json: Callable[..., Path]
) -> None:
    path = write_json(document)
    with pytest.raises(InputError) as caught:
        read_measurements(path)
    assert str(caught.value) == f"{path}: {message}"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"measurements": [\n  {"attribute": }]}')
    with pytest.raises(
        InputError, match=r"m.json: not valid JSON: Expecting value at line 2, column 17"
    ):
        read_measurements(path)


def test_cli_evaluate_json_and_exit_codes(lot: Lot, write_json: Callable[..., Path]) -> None:
    passing = write_json({"measurements": lot()}, "pass.json")
    result = runner.invoke(app, ["evaluate", str(passing), "--spec", "cd19-car-t@2", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    v2 = resolve_spec("cd19-car-t@2")
    assert document["spec"] == {
        "id": "cd19-car-t",
        "version": 2,
        "sha256": v2.sha256,
        "status": "effective",
        "market": "US",
        "title": v2.spec.title,
    }
    assert document["disposition"] == "PASS"
    first = document["criteria"][2]
    assert {k: first[k] for k in ("id", "attribute", "reported", "limit", "verdict")} == {
        "id": "cd3-identity",
        "attribute": "flow.cd3_pct_of_viable_cd45",
        "reported": "92",
        "limit": ">= 80 %",
        "verdict": "pass",
    }
    failing = write_json({"measurements": lot(manual__endotoxin_eu_ml=(4.0, "EU/mL"))}, "fail.json")
    table = runner.invoke(app, ["evaluate", str(failing), "--spec", "cd19-car-t"])
    assert table.exit_code == 1
    assert "disposition: FAIL" in table.stdout and "<= 3.5 EU/mL" in table.stdout
    incomplete = write_json({"measurements": lot(manual__rcl=None)}, "inc.json")
    assert (
        runner.invoke(app, ["evaluate", str(incomplete), "--spec", "cd19-car-t@1"]).exit_code == 1
    )
    bad_unit = write_json({"measurements": lot(manual__endotoxin_eu_ml=(4.0, "EU"))}, "unit.json")
    error = runner.invoke(app, ["evaluate", str(bad_unit), "--spec", "cd19-car-t@1"])
    assert error.exit_code == 2
    assert error.stderr.startswith(
        f"error: {bad_unit}: measurement 'manual.endotoxin_eu_ml' is in 'EU'"
    )
    missing = runner.invoke(app, ["evaluate", str(passing), "--spec", "cd19-car-t@7"])
    assert missing.exit_code == 2 and "no version 7 of cd19-car-t" in missing.stderr


@pytest.mark.parametrize(
    ("overrides", "criterion", "reported", "verdict"),
    [
        ({"manual__endotoxin_eu_ml": ("< 0.50", "EU/mL")}, "endotoxin", "< 0.5", "pass"),
        ({"manual__endotoxin_eu_ml": ("≤0.5", "EU/mL")}, "endotoxin", "<= 0.5", "pass"),
        ({"manual__endotoxin_eu_ml": ("> 6.0", "EU/mL")}, "endotoxin", "> 6.0", "fail"),
        ({"manual__endotoxin_eu_ml": ("> 1.0", "EU/mL")}, "endotoxin", "> 1.0", "missing"),
        ({"potency__ifng_pg_ml": ("< 31.3", "pg/mL")}, "potency-ifng", "< 31", "fail"),
        ({"potency__ifng_pg_ml": ("< 49.5", "pg/mL")}, "potency-ifng", "< 50", "missing"),
        ({"potency__ifng_pg_ml": ("> 2000", "pg/mL")}, "potency-ifng", "> 2000", "pass"),
    ],
)
def test_censored_results_are_judged_only_when_decidable(
    v1: Any, lot: Lot, overrides: dict[str, Any], criterion: str, reported: str, verdict: str
) -> None:
    result = _by_id(evaluate(v1, lot(**overrides)))[criterion]
    assert (result.reported, result.verdict) == (reported, verdict)
    if verdict == "missing":
        assert result.note == (
            f"censored result '{reported}' cannot show whether {result.limit} is met"
        )


def test_censored_formula_input_gives_no_derived_value(v2: Any, lot: Lot) -> None:
    vcn = _by_id(
        evaluate(v2, lot(qpcr__vcn_per_diploid_genome=("< 0.1", "copies/diploid genome")))
    )["vcn"]
    assert (vcn.verdict, vcn.note) == (
        "missing",
        "formula input qpcr.vcn_per_diploid_genome is censored ('< 0.1')",
    )


def test_non_finite_analysis_value_is_no_result(v1: Any, lot: Lot) -> None:
    objects = [
        Measurement(m["attribute"], m["value"], m["unit"], details=m.get("details", {}))
        for m in lot()
    ]
    objects = [
        Measurement(m.attribute, float("nan"), m.unit) if m.attribute == "potency.ifng_pg_ml" else m
        for m in objects
    ]
    result = _by_id(evaluate(v1, objects))["potency-ifng"]
    assert (result.verdict, result.note) == ("missing", "no result (the analysis gave nan)")
