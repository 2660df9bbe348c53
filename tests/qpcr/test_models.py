"""Assay files, standard curves and Poisson dPCR statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.errors import AssayError
from cytorelease.qpcr.assay import load_assay
from cytorelease.qpcr.dpcr import DpcrFlag, concentration, poisson_estimate, poisson_lambda
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.stdcurve import fit_standard_curve
from tests.conftest import shared_path

# --- assay files -------------------------------------------------------------------------------


def test_bundled_assay_loads_with_provenance() -> None:
    loaded = load_assay("vcn-car-rpp30")
    assay = loaded.assay
    assert (assay.id, assay.version, assay.schema_version) == ("vcn-car-rpp30", "1.0", 1)
    assert assay.transgene.targets == ["CAR"]
    assert assay.reference.targets == ["RPP30"]
    assert assay.reference.copies_per_diploid_genome == 2
    assert assay.standard_copies()["STD-1e4"] == 1.0e4
    assert (assay.acceptance.efficiency_pct.min, assay.acceptance.efficiency_pct.max) == (90, 110)
    assert assay.dpcr.partition_volume_nl["qx"] == 0.85
    assert assay.samples["drug_product"] == "DP"
    ref = loaded.method_ref()
    assert (ref.kind, ref.id, ref.version) == ("assay", "vcn-car-rpp30", "1.0")
    assert len(loaded.sha256) == 64


def _assay_text(project_root: Path) -> str:
    return (project_root / "assays" / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_assay_error_names_field_and_line(tmp_path: Path, project_root: Path) -> None:
    text = _assay_text(project_root).replace("r_squared_min: 0.98", "r_squared_min: 1.5")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AssayError) as info:
        load_assay(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert f"acceptance.r_squared_min (line {_line_of(text, 'r_squared_min')})" in message


def test_assay_rejects_unknown_field_and_bad_volume(tmp_path: Path, project_root: Path) -> None:
    text = _assay_text(project_root).replace("  ntc_max_positives: 3", "  ntc_max_positive: 3")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AssayError) as info:
        load_assay(path)
    message = str(info.value)
    assert f"dpcr (line {_line_of(text, 'ntc_max_positive:')})" in message
    assert "unknown field (check the spelling)" in message
    text = _assay_text(project_root).replace("absoluteq: 0.432", "absoluteq: -1")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AssayError, match=r"dpcr \(line \d+\): partition volume for absoluteq"):
        load_assay(path)


def test_assay_schema_version_and_overlap(tmp_path: Path, project_root: Path) -> None:
    text = _assay_text(project_root).replace("schema_version: 1", "schema_version: 7")
    text = text.replace("targets: [RPP30]", "targets: [CAR]")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AssayError, match=r"schema_version 7 is not supported.*reads 1"):
        load_assay(path)
    path.write_text(text.replace("schema_version: 7", "schema_version: 1"), encoding="utf-8")
    with pytest.raises(AssayError, match=r"\['CAR'\] are both transgene and reference"):
        load_assay(path)


def test_assay_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nversion: [1\n", encoding="utf-8")
    with pytest.raises(AssayError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_assay(path)


# --- standard curves ---------------------------------------------------------------------------


def _series(rng: np.random.Generator, slope: float, intercept: float, sd: float):
    copies = np.repeat(10.0 ** np.arange(2, 7), 3)
    cq = intercept + slope * np.log10(copies) + rng.normal(0, sd, copies.size)
    return copies, cq


def test_curve_recovers_slope_efficiency_and_r2() -> None:
    rng = np.random.default_rng(11)
    copies, cq = _series(rng, -3.32, 38.0, 0.05)
    curve = fit_standard_curve("CAR", copies, cq)
    assert curve.slope == pytest.approx(-3.32, abs=0.05)
    assert curve.efficiency_pct == pytest.approx(100.0, abs=2.0)
    assert curve.r_squared > 0.999
    assert (curve.levels, curve.n) == (5, 15)
    # The MIQE bounds: slope -3.587 is 90 % and -3.103 is 110 %.
    assert fit_standard_curve("x", copies, 38 - 3.587 * np.log10(copies)).efficiency_pct == (
        pytest.approx(90.0, abs=0.05)
    )
    assert fit_standard_curve("x", copies, 38 - 3.103 * np.log10(copies)).efficiency_pct == (
        pytest.approx(110.0, abs=0.05)
    )


def test_inverse_prediction_interval_covers_truth_about_95_percent() -> None:
    rng = np.random.default_rng(5)
    hits = 0
    trials = 300
    for _ in range(trials):
        copies, cq = _series(rng, -3.4, 39.0, 0.2)
        curve = fit_standard_curve("T", copies, cq)
        truth = 3.0e4
        replicate_cq = 39.0 - 3.4 * math.log10(truth) + rng.normal(0, 0.2, 3)
        pred = curve.inverse_predict(replicate_cq)
        hits += pred.low <= truth <= pred.high
    assert 0.90 <= hits / trials <= 0.99


def test_curve_on_real_quantstudio_standards() -> None:
    """Two standard levels of a real run: slope from the level means; unknowns near the export."""
    table = read_export(
        shared_path("qpcr", "quantstudio", "allotropy_example_quantsudio_results_only.txt")
    ).table
    std = table[table["task"] == "standard"]
    curve = fit_standard_curve("3'UTR", std["quantity"], std["cq"])
    means = std.groupby("quantity")["cq"].mean()
    assert curve.slope == pytest.approx(means[1e8] - means[1e7])
    a4 = table[table["well"] == "A4"]["cq"].to_numpy()
    # The instrument's own curve (more levels) put A4 at 118,248 copies.
    assert float(curve.copies(a4)[0]) == pytest.approx(118_248.2, rel=0.1)


def test_curve_refuses_too_few_points_and_rising_slope() -> None:
    with pytest.raises(AssayError, match="needs at least 3 wells over 2 levels"):
        fit_standard_curve("CAR", np.array([1e3, 1e3, 1e3]), np.array([30.0, 30.1, np.nan]))
    with pytest.raises(AssayError, match=r"slope is 3.000 \(Cq must fall as copies rise"):
        fit_standard_curve("CAR", np.array([1e2, 1e3, 1e4]), np.array([20.0, 23.0, 26.0]))


# --- digital PCR -------------------------------------------------------------------------------


def test_poisson_lambda_and_concentration() -> None:
    # QX Manager A01 FAM: 10,940 of 20,486 droplets positive, exported 898.3759 copies/µL.
    assert float(poisson_lambda(10_940, 20_486)[()]) == pytest.approx(math.log(20_486 / 9_546))
    assert float(concentration(10_940, 20_486, 0.85)[()]) == pytest.approx(898.3759, rel=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=100, max_value=30_000),
    frac=st.floats(min_value=0.0, max_value=0.985),
)
def test_poisson_interval_brackets_estimate(n: int, frac: float) -> None:
    positives = round(n * frac)
    est = poisson_estimate(positives, n)
    lam, low, high = est.lambda_[0], est.lambda_low[0], est.lambda_high[0]
    assert low <= lam <= high
    assert low >= 0


def test_dpcr_flags() -> None:
    est = poisson_estimate(
        [20_000, 5_000, 100, 0], [20_050, 20_000, 8_000, 0], min_partitions=10_000
    )
    assert est.flags[0] == [DpcrFlag.SATURATED]
    assert est.flags[1] == []
    assert est.flags[2] == [DpcrFlag.TOO_FEW_PARTITIONS]
    assert est.flags[3] == [DpcrFlag.NO_PARTITIONS]


def test_poisson_interval_coverage() -> None:
    rng = np.random.default_rng(3)
    lam, n = 0.4, 15_000
    hits = 0
    for _ in range(400):
        k = rng.binomial(n, -math.expm1(-lam))
        est = poisson_estimate(k, n)
        hits += est.lambda_low[0] <= lam <= est.lambda_high[0]
    assert 0.92 <= hits / 400 <= 0.98
