"""``qpcr curve``: one target's standard curve, inverse prediction, the instrument's own curve.

Real data: the QuantStudio 7 Flex results-only export in ../shared/data (target 3'UTR, standards
1e8 and 1e7 in triplicate, 18 unknowns; every row states the instrument's Slope / Y-Intercept /
R(superscript 2) / Efficiency). Its instrument curve was fitted on more standard levels than the
export holds (both levels sit above the instrument's line), so ours differs by 1.9 %: the flag.

Built data: an RNase P quantification laid out as the real export is (the same ``* key = value``
block and [Results] columns; quantities with thousands separators; "Undetermined" NTCs; the
instrument's curve on every row, rounded to 3 decimals as QuantStudio writes it), on the plate
of the TaqMan RNase P verification kit: standards 1,250-20,000 copies, two unknown populations
of 5,000 and 10,000 copies, NTCs.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import AssayError
from cytorelease.qpcr.curve import analyse_curve
from tests.conftest import shared_path

runner = CliRunner()
RESULTS_ONLY = ("qpcr", "quantstudio", "allotropy_example_quantsudio_results_only.txt")
COMPARATIVE_CT = ("qpcr", "quantstudio", "allotropy_appbio_quantstudio_example05.txt")
UTR = "3'UTR"


def _real_text() -> str:
    return shared_path(*RESULTS_ONLY).read_text(encoding="utf-8")


def _results(text: str) -> tuple[list[str], list[str], list[list[str]]]:
    """Lines before the [Results] table, its header, its rows (tab-separated)."""
    lines = text.splitlines()
    start = lines.index("[Results]")
    table = [ln.split("\t") for ln in lines[start + 1 :] if ln.strip()]
    return lines[: start + 1], table[0], table[1:]


def _join(head: list[str], header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([*head, "\t".join(header), *("\t".join(r) for r in rows)]) + "\n"


def _curve_json(path: Path, *extra: str, code: int | None = None) -> dict:
    result = runner.invoke(app, ["qpcr", "curve", str(path), *extra, "--json"])
    if code is not None:
        assert result.exit_code == code, result.output
    return json.loads(result.stdout)


# --- the real QuantStudio export ------------------------------------------------------------


def test_real_export_our_fit_beside_the_instruments() -> None:
    path = shared_path(*RESULTS_ONLY)
    doc = _curve_json(path, "--target", UTR, code=1)  # 2 levels, no NTC: the run fails
    _, header, rows = _results(_real_text())
    col = {name: header.index(name) for name in ("CT", "Task", "Quantity", "Slope")}
    standards = [r for r in rows if r[col["Task"]] == "STANDARD"]
    x = np.log10([float(r[col["Quantity"]].replace(",", "")) for r in standards])
    y = np.array([float(r[col["CT"]]) for r in standards])
    slope, intercept = np.polyfit(x, y, 1)  # an independent least-squares fit
    assert doc["slope"] == pytest.approx(slope, rel=1e-9)
    assert doc["intercept"] == pytest.approx(intercept, rel=1e-9)
    assert doc["efficiency_pct"] == pytest.approx((10 ** (-1 / slope) - 1) * 100, rel=1e-9)
    assert len(doc["standards_used"]) == 6 and doc["standards_excluded"] == []
    assert {s["quantity_source"] for s in doc["standards_used"]} == {"export"}
    for s in doc["standards_used"]:  # each standard's own Cq read back near its nominal
        back = s["back_calculated"]
        assert back["ci_low"] <= s["quantity"] <= back["ci_high"]
        assert back["quantity"] == pytest.approx(s["quantity"], rel=0.1)
    inst = doc["instrument_curve"]
    assert (inst["slope"], inst["intercept"], inst["r_squared"], inst["efficiency_pct"]) == (
        -3.196, 41.924, 0.999, 105.533
    )  # fmt: skip
    assert inst["slope_difference_pct"] == pytest.approx((slope + 3.196) / 3.196 * 100)
    assert abs(inst["slope_difference_pct"]) > 1.5
    assert "instrument_curve_differs" in doc["flags"]
    # The instrument's curve means what we say: its unknowns' Quantity is read off it.
    for r in rows:
        if r[col["Task"]] == "UNKNOWN":
            quantity = float(r[col["Quantity"]].replace(",", ""))
            assert 10 ** ((float(r[col["CT"]]) - 41.924) / -3.196) == pytest.approx(
                quantity, rel=0.003
            )  # slope and intercept are printed to 3 decimals
    # A failed run (2 standard levels) reports no quantity, and says why.
    assert not doc["run_acceptance"]["passed"]
    assert all(w["quantity"] is None and w["reason"] for w in doc["wells"])
    assert len(doc["wells"]) == 18


def _with_instrument_slope(tmp_path: Path, slope: float) -> Path:
    head, header, rows = _results(_real_text())
    at = header.index("Slope")
    for r in rows:
        r[at] = f"{slope:.3f}"
    path = tmp_path / "altered.txt"
    path.write_text(_join(head, header, rows), encoding="utf-8")
    return path


def test_slope_difference_flag_at_half_a_percent(tmp_path: Path) -> None:
    ours = _curve_json(shared_path(*RESULTS_ONLY), "--target", UTR)["slope"]
    same = _curve_json(_with_instrument_slope(tmp_path, ours), "--target", UTR)
    assert abs(same["instrument_curve"]["slope_difference_pct"]) < 0.02  # 3-decimal rounding
    assert "instrument_curve_differs" not in same["flags"]
    inside = _curve_json(_with_instrument_slope(tmp_path, ours * 1.004), "--target", UTR)
    assert "instrument_curve_differs" not in inside["flags"]
    beyond = _curve_json(_with_instrument_slope(tmp_path, ours * 1.007), "--target", UTR)
    assert beyond["instrument_curve"]["slope_difference_pct"] == pytest.approx(
        0.7 / 1.007, abs=0.02
    )
    assert "instrument_curve_differs" in beyond["flags"]
    human = runner.invoke(app, ["qpcr", "curve", str(tmp_path / "altered.txt"), "--target", UTR])
    assert "flag: instrument_curve_differs" in human.stdout
    assert "instrument" in human.stdout and "+0.69 %" in human.stdout


def test_sample_setup_quantities_when_results_lack_them(tmp_path: Path) -> None:
    """A text export whose [Results] leave Quantity empty and whose [Sample Setup] states it
    (the section example05 carries, with its columns), reads the same curve."""
    head, header, rows = _results(_real_text())
    at = header.index("Quantity")
    setup_header = ["Well", "Well Position", "Sample Name", "Sample Color", "Biogroup Name",
                    "Biogroup Color", "Target Name", "Target Color", "Task", "Reporter",
                    "Quencher", "Quantity", "Comments"]  # fmt: skip
    setup = []
    for r in rows:
        quantity = r[at] if r[header.index("Task")] == "STANDARD" else ""
        setup.append([r[0], r[1], r[3], "", "", "", r[4], "", r[5], r[6], r[7], quantity, ""])
        if r[header.index("Task")] == "STANDARD":
            r[at] = ""
    marker = head.index("[Results]")
    section = ["[Sample Setup]", "\t".join(setup_header), *("\t".join(s) for s in setup), ""]
    path = tmp_path / "setup.txt"
    path.write_text(_join(head[:marker] + section + head[marker:], header, rows), "utf-8")
    original = _curve_json(shared_path(*RESULTS_ONLY), "--target", UTR)
    from_setup = _curve_json(path, "--target", UTR)
    assert from_setup["slope"] == original["slope"]
    assert from_setup["standards_used"] == original["standards_used"]
    read = json.loads(runner.invoke(app, ["qpcr", "read", str(path), "--json"]).stdout)
    assert {r["quantity"] for r in read["rows"] if r["task"] == "standard"} == {1e8, 1e7}
    # Without the section there is no quantity to fit: refused, naming the standards.
    bare = tmp_path / "bare.txt"
    bare.write_text(_join(head, header, rows), encoding="utf-8")
    refused = runner.invoke(app, ["qpcr", "curve", str(bare), "--target", UTR])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {bare}: standard(s) Standard 1 (1e8), Standard 2")
    assert "no copies per reaction in the export" in refused.stderr


def test_no_standards_is_a_one_line_error() -> None:
    path = shared_path(*COMPARATIVE_CT)  # a comparative-Ct run: no STANDARD wells
    result = runner.invoke(app, ["qpcr", "curve", str(path), "--target", "GAPDH", "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (f"error: {path}: no standards for this target in the export")
    with pytest.raises(AssayError, match="no standards"):
        analyse_curve(path, "GAPDH")
    unknown = runner.invoke(app, ["qpcr", "curve", str(path), "--target", "RNase P"])
    assert unknown.exit_code == 2 and "targets present: 'GAPDH', 'TGF-B'" in unknown.stderr


# --- an RNase P quantification, built as the real export is -----------------------------------

STANDARD_COPIES = (20_000, 10_000, 5_000, 2_500, 1_250)
UNKNOWN_COPIES = {"POP1": 5_000, "POP2": 10_000}
TRUE_SLOPE, TRUE_INTERCEPT = -3.35, 39.2


def _rnase_p(tmp_path: Path, *, slope_factor: float = 1.0) -> Path:
    head, header, _ = _results(_real_text())
    head = [re.sub(r"^\* Experiment Name = .*", "* Experiment Name = RNaseP", h) for h in head]
    rng = np.random.default_rng(12)
    plan: list[tuple[str, str, float | None]] = [
        (f"STD {q:,}", "STANDARD", q) for q in STANDARD_COPIES for _ in range(3)
    ]
    plan += [(name, "UNKNOWN", q) for name, q in UNKNOWN_COPIES.items() for _ in range(6)]
    plan += [("NTC", "NTC", None)] * 3
    cts = [
        None if q is None else TRUE_INTERCEPT + TRUE_SLOPE * math.log10(q) + rng.normal(0, 0.08)
        for _, _, q in plan
    ]
    std = [
        (math.log10(q), round(ct, 3))
        for (_, t, q), ct in zip(plan, cts, strict=True)
        if t == "STANDARD"
    ]
    slope, intercept = np.polyfit(
        *zip(*std, strict=True), 1
    )  # the instrument's own fit of its standards
    r2 = float(np.corrcoef(*zip(*std, strict=True))[0, 1] ** 2)
    slope *= slope_factor
    efficiency = (10 ** (-1 / slope) - 1) * 100
    col = {name: header.index(name) for name in header[:26]}
    rows = []
    for i, ((sample, task, q), ct) in enumerate(zip(plan, cts, strict=True)):
        row = [""] * len(header)
        well = f"{'ABCDEFGH'[i // 12]}{i % 12 + 1}"
        quantity = ""
        if task == "STANDARD":
            quantity = f"{q:,.3f}"
        elif task == "UNKNOWN":
            quantity = f"{10 ** ((round(ct, 3) - intercept) / slope):,.3f}"
        values = {
            "Well": str(i + 1), "Well Position": well, "Omit": "false", "Sample Name": sample,
            "Target Name": "RNase P", "Task": task, "Reporter": "FAM", "Quencher": "TAMRA",
            "CT": "Undetermined" if ct is None else f"{ct:.3f}", "Quantity": quantity,
            "Y-Intercept": f"{intercept:.3f}", "R(superscript 2)": f"{r2:.3f}",
            "Slope": f"{slope:.3f}", "Efficiency": f"{efficiency:.3f}",
        }  # fmt: skip
        for name, value in values.items():
            row[col[name]] = value
        row[-2], row[-1] = "RNase P", task  # the repeated Target Name / Task columns
        rows.append(row)
    path = tmp_path / "rnasep.txt"
    path.write_text(_join(head, header, rows), encoding="utf-8")
    return path


def test_rnase_p_run_matches_the_instrument_and_reads_back_its_copies(tmp_path: Path) -> None:
    path = _rnase_p(tmp_path)
    doc = _curve_json(path, "--target", "RNase P", code=0)
    assert doc["run_acceptance"]["passed"], doc["run_acceptance"]["reasons"]
    assert doc["flags"] == ["default_acceptance"]
    inst = doc["instrument_curve"]
    assert abs(inst["slope_difference_pct"]) < 0.02  # our fit and its, to its 3 decimals
    assert doc["intercept"] == pytest.approx(inst["intercept"], abs=0.0006)
    assert doc["efficiency_pct"] == pytest.approx(inst["efficiency_pct"], abs=0.02)
    assert len(doc["standards_used"]) == 15
    wells = doc["wells"]
    ntc = [w for w in wells if w["sample"] == "NTC"]
    assert len(ntc) == 3 and {w["task"] for w in ntc} == {"ntc"}
    assert all(w["quantity"] is None and w["flags"] == ["undetermined"] for w in ntc)
    unknown = [w for w in wells if w["sample"] in UNKNOWN_COPIES]
    assert len(unknown) == 12
    for w in unknown:
        truth = UNKNOWN_COPIES[w["sample"]]
        assert w["ci_low"] < w["quantity"] < w["ci_high"]
        assert w["quantity"] == pytest.approx(truth, rel=0.2)
        assert w["ci_low"] <= truth <= w["ci_high"]
        assert w["ci_high"] / w["ci_low"] < 2  # a single well at sd 0.08 Cq: under 2-fold


def test_a_standards_own_cq_reads_back_near_its_nominal(tmp_path: Path) -> None:
    doc = _curve_json(_rnase_p(tmp_path), "--target", "RNase P", code=0)
    result = analyse_curve(_rnase_p(tmp_path), "RNase P")
    for s, shown in zip(result.standards_used, doc["standards_used"], strict=True):
        interval = result.curve.calibration_interval(np.array([s.cq]))
        back = shown["back_calculated"]
        assert (back["quantity"], back["ci_low"], back["ci_high"]) == pytest.approx(
            (interval.copies, interval.low, interval.high), rel=1e-12
        )
        assert back["ci_low"] <= s.quantity <= back["ci_high"], s.well
        assert back["quantity"] == pytest.approx(s.quantity, rel=0.15)


def test_rnase_p_altered_header_curve_is_flagged(tmp_path: Path) -> None:
    doc = _curve_json(_rnase_p(tmp_path, slope_factor=1.01), "--target", "RNase P", code=0)
    assert doc["instrument_curve"]["slope_difference_pct"] == pytest.approx(1 / 1.01, abs=0.03)
    assert "instrument_curve_differs" in doc["flags"]


def test_assay_standards_override_the_export(tmp_path: Path, project_root: Path) -> None:
    """With --assay, the assay's copies win over the export's for the standards it lists."""
    text = (project_root / "assays" / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")
    text = text.replace("- {sample: STD-1e6, copies_per_reaction: 1.0e6}",
                        "- {sample: 'STD 20,000', copies_per_reaction: 40000}")  # fmt: skip
    assay = tmp_path / "assay.yaml"
    assay.write_text(text, encoding="utf-8")
    path = _rnase_p(tmp_path)
    doc = _curve_json(path, "--target", "RNase P", "--assay", str(assay))
    sources = {s["sample"]: (s["quantity"], s["quantity_source"]) for s in doc["standards_used"]}
    assert sources["STD 20,000"] == (40000.0, "assay")
    assert sources["STD 1,250"] == (1250.0, "export")
    assert "default_acceptance" not in doc["flags"]
    assert doc["provenance"]["assay"]["id"] == "vcn-car-rpp30"


def test_several_runs_refused_without_run(tmp_path: Path) -> None:
    from tests.qpcr.rdml_build import two_run_rdml

    path = tmp_path / "two_runs.rdml"
    path.write_bytes(two_run_rdml())
    refused = runner.invoke(app, ["qpcr", "curve", str(path), "--target", "CAR"])
    assert refused.exit_code == 2
    assert "the export holds 2 runs" in refused.stderr and "--run" in refused.stderr
    doc = _curve_json(path, "--target", "CAR", "--run", "QS7-2026-11-30")
    assert doc["run"] == "QS7-2026-11-30"
    assert doc["efficiency_pct"] == pytest.approx(100.0, abs=0.5)  # Cq = 38 - log2(copies)
    assert doc["instrument_curve"] is None


def test_human_output_is_tables(tmp_path: Path) -> None:
    result = runner.invoke(app, ["qpcr", "curve", str(_rnase_p(tmp_path)), "--target", "RNase P"])
    assert result.exit_code == 0, result.output
    for title in ("Standard curve RNase P (15 wells, 5 levels)", "Standards", "Run acceptance"):
        assert title in result.stdout
    assert "Wells (copies per reaction, 95% CI)" in result.stdout
    assert "run PASSED" in result.stdout


def test_real_design_and_analysis_export_with_one_amplified_level_is_refused() -> None:
    """The real D&A xlsx keeps standards Std 9 (5 copies, amplified) and Std 10 (2.5 copies,
    all Undetermined) of a plate the instrument fitted on more levels: no curve can be fitted,
    and the one-line error names the export."""
    path = shared_path(
        "qpcr", "quantstudio", "allotropy_appbio_quantstudio_design_quantity_test.xlsx"
    )
    result = runner.invoke(app, ["qpcr", "curve", str(path), "--target", "ABC"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: target ABC: 4 amplified standard wells over 1 level(s); a standard "
        "curve needs at least 3 wells over 2 levels"
    )


def test_vcn_fit_error_names_the_export_too(tmp_path: Path, project_root: Path) -> None:
    path = shared_path(
        "qpcr", "quantstudio", "allotropy_appbio_quantstudio_design_quantity_test.xlsx"
    )
    text = (project_root / "assays" / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")
    assay = tmp_path / "abc.yaml"
    assay.write_text(
        text.replace("targets: [CAR]", "targets: [ABC]").replace(
            "targets: [RPP30]", "targets: [DEF]"
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["qpcr", "vcn", str(path), "--assay", str(assay)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: target ABC: 4 amplified standard wells")
