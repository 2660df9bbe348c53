"""The operational known-answer checks pass on this build, and fail when the code they guard
is wrong (each failure reproduced by breaking the library function the check calls)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN
from pathlib import Path

import numpy as np
import pytest

from cytorelease.selftest import oq_crypto, oq_gating, oq_numeric
from cytorelease.selftest.checks import Status
from cytorelease.selftest.run import run_checks
from tests.conftest import shared_path


def test_every_check_runs_and_none_fails() -> None:
    checks = run_checks()
    assert [c.id for c in checks] == [
        "iq.record", "iq.dependencies", "oq.gating.bundled", "oq.usp_rounding", "oq.4pl",
        "oq.vcn", "oq.ed25519", "oq.coa_tamper",
    ]  # fmt: skip
    assert [c.id for c in checks if c.status is Status.FAIL] == []
    assert all(c.status is Status.PASS for c in checks if c.stage == "OQ")


def test_usp_check_fails_with_half_to_even_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    from cytorelease.spec import rounding

    monkeypatch.setattr(rounding, "ROUND_HALF_UP", ROUND_HALF_EVEN)
    check = oq_numeric.usp_rounding_check()
    assert check.status is Status.FAIL
    assert "2.45 -> 2.4, expected 2.5" in check.detail


def test_usp_check_fails_when_rounding_the_binary_float(monkeypatch: pytest.MonkeyPatch) -> None:
    from decimal import Decimal

    from cytorelease.spec import rounding

    monkeypatch.setattr(rounding, "to_decimal", lambda v: Decimal(float(v)))  # exact binary
    check = oq_numeric.usp_rounding_check()
    assert check.status is Status.FAIL
    assert "2.55 -> 2.5, expected 2.6" in check.detail


def test_4pl_check_fails_for_a_biased_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from cytorelease.potency import curve

    real = curve.fit_curve
    monkeypatch.setattr(curve, "fit_curve", lambda x, y, **k: real(x, np.asarray(y) * 1.01, **k))
    check = oq_numeric.fourpl_check()
    assert check.status is Status.FAIL
    assert check.observed["params"]["D"] == pytest.approx(2.424, rel=1e-6)


def test_vcn_expected_value_is_the_poisson_ratio() -> None:
    # 2 x ln(1 - 1200/16000) / ln(1 - 800/16000), to 4 decimals
    assert round(oq_numeric.VCN_EXPECTED, 4) == 3.0398
    assert oq_numeric.vcn_check().observed["DP_vcn"] == 3.0398


def test_vcn_check_fails_without_the_poisson_correction(monkeypatch: pytest.MonkeyPatch) -> None:
    from cytorelease.qpcr import dpcr

    monkeypatch.setattr(dpcr, "poisson_lambda", lambda p, n: np.asarray(p, float) / n)
    assert oq_numeric.vcn_check().status is Status.FAIL


def test_gating_check_fails_when_max_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    # events moved onto the Rect1 edges: FL1-H = 30 (max, exclusive) must stay outside
    grid = oq_gating._grid_events()

    def shifted() -> np.ndarray:
        moved = grid.copy()
        moved[:, 0] = np.where(moved[:, 0] == 29.5, 30.0, moved[:, 0])
        return moved

    monkeypatch.setattr(oq_gating, "_grid_events", shifted)
    check = oq_gating.bundled_gating_check()
    # 30 events at FL1-H = 30, FL2-H 20..49 leave Rect1: a gate counting them is wrong
    assert check.observed["Rect1"] == 570
    assert check.status is Status.FAIL


def test_isac_subset_matches_truth() -> None:
    suite = shared_path("gatingml")
    check = oq_gating.suite_gating_check(suite)
    assert check.status is Status.PASS, check.items
    assert [i["events_differing"] for i in check.items] == [0] * len(oq_gating.SUITE_SUBSET)
    assert check.items[0]["expected_in_gate"] == 252  # Rectangle1 of data1.fcs


def test_isac_subset_fails_against_another_truth(tmp_path: Path) -> None:
    import shutil

    suite = shared_path("gatingml")
    copy = tmp_path / "suite"
    shutil.copytree(suite, copy)
    truth = copy / "truth" / "Results_Ellipse1.txt"
    truth.chmod(0o644)
    lines = truth.read_text().splitlines()
    lines[0] = "1" if lines[0] == "0" else "0"
    truth.write_text("\n".join(lines) + "\n")
    check = oq_gating.suite_gating_check(copy)
    assert check.status is Status.FAIL
    assert [i["events_differing"] for i in check.items if i["gate"] == "Ellipse1"] == [1]


def test_ed25519_check_fails_for_a_wrong_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    secret, public, _message, signature = oq_crypto.RFC8032_VECTORS[1]
    wrong = (secret, public, "73", signature)  # another message, same signature
    monkeypatch.setattr(oq_crypto, "RFC8032_VECTORS", (oq_crypto.RFC8032_VECTORS[0], wrong))
    check = oq_crypto.ed25519_check()
    assert check.status is Status.FAIL
    assert check.detail == "RFC 8032 7.1 TEST 2"


def test_tamper_check_fails_when_verification_accepts_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cytorelease.report import verify

    real = verify.verify_bytes

    def lenient(data: bytes, **kwargs: object) -> object:
        result = real(data, **kwargs)  # type: ignore[arg-type]
        result.problems.clear()
        for signature in result.signatures:
            signature.problems.clear()
        return result

    monkeypatch.setattr(verify, "verify_bytes", lenient)
    check = oq_crypto.coa_tamper_check()
    assert check.status is Status.FAIL
    assert check.detail == "the tampered CoA was not refused"
