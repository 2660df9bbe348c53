"""VCN: real duplex dPCR controls of known copy number, simulated lots, acceptance failures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cytorelease.errors import AssayError, InputError
from cytorelease.qpcr.assay import load_assay
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.table import ExportFormat, QpcrExport, make_table
from cytorelease.qpcr.vcn import analyse_export, compute_vcn
from cytorelease.synth.qpcr_exports import write_qpcr_exports
from tests.conftest import shared_path


def _assay_with_targets(tmp_path: Path, project_root: Path, transgene: str, reference: str):
    text = (project_root / "assays" / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")
    text = text.replace("targets: [CAR]", f"targets: ['{transgene}']")
    text = text.replace("targets: [RPP30]", f"targets: ['{reference}']")
    text = text.replace("require_ntc: true", "require_ntc: false")  # the real run has no NTC
    path = tmp_path / "assay.yaml"
    path.write_text(text, encoding="utf-8")
    return load_assay(path)


def test_real_qx_smn2_copy_number_controls(tmp_path: Path, project_root: Path) -> None:
    """SMN2 controls of 2 and 4 copies against a 2-copy reference read as VCN 2 and 4."""
    export = read_export(
        shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv")
    )
    assay = _assay_with_targets(tmp_path, project_root, "1", "2")
    result = compute_vcn(export, assay)
    assert result.passed
    by_name = {s.sample: s for s in result.samples}
    for name, nominal in (("SMN2 Control 2 copies", 2.0), ("SMN2 Control 4 copies", 4.0)):
        sample = by_name[name]
        assert sample.vcn == pytest.approx(nominal, rel=0.03)
        assert sample.ci_low < nominal < sample.ci_high
        assert sample.replicates == {"transgene": 3, "reference": 3}
    # Each well's own ratio is what the instrument exported as CNV (1.97 for well A01).
    a01 = export.table[export.table["well"] == "A01"]
    lam = np.log1p(-a01["positives"] / a01["partitions"]).to_numpy()
    assert 2 * lam[0] / lam[1] == pytest.approx(1.97360336780548, rel=1e-4)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[float, tuple[Path, dict[str, Any]]]:
    out = {}
    for seed, truth in ((1, 0.8), (2, 2.7), (3, 6.5)):
        lot = tmp_path_factory.mktemp(f"lot{seed}")
        out[truth] = (lot, write_qpcr_exports(lot, seed=seed, vcn_truth=truth))
    return out


@pytest.mark.parametrize("kind", ["biomark", "qx"])
@pytest.mark.parametrize("truth", [0.8, 2.7, 6.5])
def test_simulated_exports_give_the_true_vcn(simulated: dict, kind: str, truth: float) -> None:
    lot, info = simulated[truth]
    result = analyse_export(lot / info["files"][kind], "vcn-car-rpp30", car_fraction=0.4)
    assert result.passed, result.reasons
    samples = {s.sample: s for s in result.samples}
    dp = samples[info["truth"]["sample"]]
    assert dp.vcn == pytest.approx(truth, rel=0.05)
    assert dp.role == "drug_product" and dp.transgene_detected
    utd = samples[info["truth"]["negative_control"]]
    assert utd.vcn is None and not utd.transgene_detected
    values = {(m.attribute, m.details["sample"]): m for m in result.measurements}
    per_cell = values[("qpcr.vcn_per_transduced_cell", "DP")]
    assert per_cell.value == pytest.approx(dp.vcn / 0.4)
    assert values[("qpcr.transgene_detected", "DP")].value == "detected"
    assert {sample for _, sample in values} == {"DP"}  # controls are not measurements
    vcn = values[("qpcr.vcn_per_diploid_genome", "DP")]
    assert vcn.method is not None and vcn.method.id == "vcn-car-rpp30"
    assert len(vcn.inputs) == 1 and len(vcn.inputs[0]) == 64


def test_biomark_simulated_is_a_full_96_96_chip(simulated: dict) -> None:
    lot, info = simulated[2.7]
    export = read_export(lot / info["files"]["biomark"])
    assert export.format is ExportFormat.BIOMARK
    assert len(export.table) == 9216 and "96.96" in export.instrument
    assert export.table["excluded"].any()  # "Fail" calls that kept a Ct
    ntc = export.table[export.table["task"] == "ntc"]
    assert ntc["cq"].isna().all()


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = write_qpcr_exports(tmp_path / "a", seed=9, vcn_truth=1.5)
    b = write_qpcr_exports(tmp_path / "b", seed=9, vcn_truth=1.5)
    for key in ("biomark", "qx"):
        first = (tmp_path / "a" / a["files"][key]).read_bytes()
        assert first == (tmp_path / "b" / b["files"][key]).read_bytes()
    with pytest.raises(ValueError, match="vcn_truth"):
        write_qpcr_exports(tmp_path / "c", seed=1, vcn_truth=0)


# --- acceptance on hand-made runs ---------------------------------------------------------------


def _run(rows: list[dict[str, Any]]) -> QpcrExport:
    return QpcrExport(
        format=ExportFormat.QUANTSTUDIO,
        instrument="test",
        table=make_table(rows, digital=False),
        path=Path("run.txt"),
        sha256="0" * 64,
        digital=False,
    )


def _plate(
    *,
    slope: float = -3.32,
    ntc_cq: float = math.nan,
    dp_ref: float | None = None,
    dp_car: float | None = None,
    noise: float = 0.05,
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for target, c0 in (("CAR", 38.0), ("RPP30", 38.5)):
        for k in range(2, 7):
            for _ in range(3):
                cq = c0 + slope * k + rng.normal(0, 0.05)
                rows.append(dict(sample=f"STD-1e{k}", target=target, task="standard", cq=cq))
        rows += [dict(sample="NTC", target=target, task="ntc", cq=ntc_cq)] * 2
    car = 38.0 + slope * math.log10(10_000) if dp_car is None else dp_car
    ref = 38.5 + slope * math.log10(8_000) if dp_ref is None else dp_ref
    for _ in range(3):
        rows.append(dict(sample="DP", target="CAR", task="unknown", cq=car + rng.normal(0, noise)))
        rows.append(
            dict(sample="DP", target="RPP30", task="unknown", cq=ref + rng.normal(0, noise))
        )
    for i, row in enumerate(rows):
        row["well"] = f"W{i}"
    return rows


def test_handmade_run_passes_with_expected_vcn() -> None:
    result = compute_vcn(_run(_plate()), load_assay("vcn-car-rpp30"))
    assert result.passed
    (dp,) = result.samples
    assert dp.vcn == pytest.approx(2 * 10_000 / 8_000, rel=0.05)
    names = [c.check for c in result.checks]
    assert "efficiency (CAR)" in names and "unknowns within standards range (RPP30)" in names
    assert all(set(c.to_dict()) >= {"check", "value", "limit", "passed"} for c in result.checks)


@pytest.mark.parametrize(
    ("plate", "failed_check"),
    [
        (dict(slope=-4.2), "efficiency (CAR)"),
        (dict(ntc_cq=31.0), "NTC (CAR)"),
        (dict(noise=0.9), "replicate Cq SD (CAR)"),
        (dict(dp_car=12.0), "unknowns within standards range (CAR)"),
        (dict(dp_ref=math.nan), "reference amplified (RPP30)"),
    ],
)
def test_failed_acceptance_gives_reasons_and_no_vcn(plate: dict, failed_check: str) -> None:
    result = compute_vcn(_run(_plate(**plate)), load_assay("vcn-car-rpp30"))
    assert not result.passed
    failed = [c for c in result.checks if not c.passed]
    assert failed_check in [c.check for c in failed]
    assert any(r.startswith(failed_check) for r in result.reasons)
    assert result.samples == [] and result.to_dict()["samples"] == []
    vcn = [m for m in result.measurements if m.attribute == "qpcr.vcn_per_diploid_genome"]
    assert vcn and all(m.value is None for m in vcn)
    assert vcn[0].details["reason"] == "run acceptance failed"


def test_reference_not_amplified_names_the_sample() -> None:
    result = compute_vcn(_run(_plate(dp_ref=math.nan)), load_assay("vcn-car-rpp30"))
    check = next(c for c in result.checks if c.check == "reference amplified (RPP30)")
    assert check.value == "DP" and check.detail == {"samples_without_reference": ["DP"]}


def test_missing_reference_target_is_an_input_error() -> None:
    rows = [r for r in _plate() if r["target"] != "RPP30"]
    with pytest.raises(AssayError) as info:
        compute_vcn(_run(rows), load_assay("vcn-car-rpp30"))
    assert str(info.value) == (
        "run.txt: reference target RPP30 is not in the export (targets present: CAR) "
        "(check the assay's target names against the export)"
    )


def test_standard_without_copies_is_named() -> None:
    rows = _plate()
    for row in rows:
        if row["sample"] == "STD-1e3":
            row["sample"] = "STD-X"
    with pytest.raises(AssayError, match="standard\\(s\\) STD-X have no copies per reaction"):
        compute_vcn(_run(rows), load_assay("vcn-car-rpp30"))


def test_car_fraction_must_be_a_fraction() -> None:
    with pytest.raises(InputError, match=r"CAR\+ fraction 35.0 is outside \(0, 1\].*0.35 for 35%"):
        compute_vcn(_run(_plate()), load_assay("vcn-car-rpp30"), car_fraction=35.0)


def test_run_without_ntc_fails_when_the_assay_requires_one(tmp_path: Path) -> None:
    export = read_export(
        shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv")
    )
    text = (Path(__file__).resolve().parents[2] / "assays" / "vcn-car-rpp30.yaml").read_text(
        encoding="utf-8"
    )
    path = tmp_path / "a.yaml"
    path.write_text(text.replace("[CAR]", "['1']").replace("[RPP30]", "['2']"), encoding="utf-8")
    result = compute_vcn(export, load_assay(path))
    assert not result.passed
    check = next(c for c in result.checks if c.check == "NTC (1)")
    assert (check.value, check.passed) == ("no NTC wells", False)
    rows = [r for r in _plate() if r["task"] != "ntc"]
    qpcr = compute_vcn(_run(rows), load_assay("vcn-car-rpp30"))
    assert "NTC (CAR): no NTC wells (limit undetermined or Cq > 35)" in qpcr.reasons


def test_excluded_wells_leave_the_fit_but_an_amplified_ntc_still_counts() -> None:
    rows = _plate(ntc_cq=31.0)
    for row in rows:
        if row["task"] == "ntc":
            row["excluded"] = True  # e.g. a Biomark "Fail" call that kept its Ct
    result = compute_vcn(_run(rows), load_assay("vcn-car-rpp30"))
    ntc = next(c for c in result.checks if c.check == "NTC (CAR)")
    assert (ntc.value, ntc.passed) == (31.0, False)
    # An outlier standard well marked excluded does not bend the curve.
    rows = _plate()
    rows[0] = {**rows[0], "cq": rows[0]["cq"] + 6.0, "excluded": True}
    result = compute_vcn(_run(rows), load_assay("vcn-car-rpp30"))
    assert result.passed
    assert result.curves[0].n == 14


def test_the_lots_product_sample_can_be_named_and_must_exist() -> None:
    from cytorelease.demo import find_sample_lot
    from cytorelease.errors import InputError
    from cytorelease.qpcr.vcn import analyse_export

    export = find_sample_lot() / "qpcr" / "qx_manager_results.csv"
    named = analyse_export(
        export, "vcn-car-rpp30", product_sample="lot-CAR-0001", car_fraction=0.35
    )
    assert {m.attribute for m in named.measurements} >= {
        "qpcr.vcn_per_diploid_genome",
        "qpcr.transgene_detected",
    }
    with pytest.raises(
        InputError, match=r"sample 'lot-X' named as this lot's drug product is not a test sample"
    ):
        analyse_export(export, "vcn-car-rpp30", product_sample="lot-X")
