"""Operational known-answer tests of the numbers a CoA prints: USP rounding, a 4PL, a VCN.

Each expected value is derived here by hand (or by a formula written independently of the code
under test) and stated as a constant, so a change in the library that changes a result fails.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from cytorelease.selftest.checks import Check, Status

__all__ = ["fourpl_check", "numeric_checks", "usp_rounding_check", "vcn_check"]

_STAGE = "OQ"

# (value as written, decimals, exponent, expected decimal string): USP General Notices 7.20,
# round half away from zero on the decimal string, never on the binary float.
USP_CASES: tuple[tuple[str | float, int, int, str], ...] = (
    (79.95, 1, 0, "80.0"),  # the carry into a new digit
    (2.45, 1, 0, "2.5"),  # half away from zero, not half to even (2.4)
    (2.55, 1, 0, "2.6"),  # the float nearest 2.55 is below it; the decimal string is not
    (-2.45, 1, 0, "-2.5"),
    (1.005, 2, 0, "1.01"),  # float 1.005 is 1.00499999999999989...
    (-0.04, 1, 0, "0.0"),  # no negative zero
    (99.95, 1, 0, "100.0"),
    (0.5, 0, 0, "1"),
    ("0.15", 1, 0, "0.2"),
    (6.04e8, 1, 8, "6.0E8"),  # a dose in units of 10^7
    (5.95e8, 1, 8, "6.0E8"),
    (1.2345e9, 2, 9, "1.23E9"),
)


def usp_rounding_check() -> Check:
    from cytorelease.spec.rounding import format_number, to_decimal

    items = []
    for value, decimals, exponent, expected in USP_CASES:
        got = format_number(to_decimal(value), decimals, exponent)
        items.append(
            {"value": str(value), "decimals": decimals, "exponent": exponent,
             "expected": expected, "observed": got, "ok": got == expected}
        )  # fmt: skip
    bad = [i for i in items if not i["ok"]]
    return Check(
        "oq.usp_rounding", _STAGE, f"USP <7.20> rounding, {len(items)} cases",
        Status.PASS if not bad else Status.FAIL,
        expected={"failed": 0}, observed={"cases": len(items), "failed": len(bad)},
        detail="; ".join(f"{i['value']} -> {i['observed']}, expected {i['expected']}" for i in bad),
        items=items,
    )  # fmt: skip


# 4PL with known parameters: A the response at zero dose, D at infinite dose, C the EC50.
FOURPL_TRUTH = {"A": 0.05, "B": 1.3, "C": 120.0, "D": 2.4}
FOURPL_DOSES = tuple(2000.0 / 2.0**k for k in range(12))  # 2000 ... 0.98, two-fold
FOURPL_REL_TOL = 1e-6  # noise-free responses: the optimum is the truth to solver precision


def _fourpl(x: float, a: float, b: float, c: float, d: float) -> float:
    # written here, not taken from the library, so the check does not test the code by itself
    return d + (a - d) / (1.0 + (x / c) ** b)


def fourpl_check() -> Check:
    from cytorelease.potency.curve import fit_curve

    t = FOURPL_TRUTH
    xs = [x for x in FOURPL_DOSES for _ in range(2)]
    ys = [_fourpl(x, t["A"], t["B"], t["C"], t["D"]) for x in xs]
    fit = fit_curve(xs, ys, model="4PL")
    observed = {k: round(v, 9) for k, v in fit.params.items()} if fit.converged else None
    errors = {k: abs(fit.params[k] - v) / abs(v) for k, v in t.items()} if fit.converged else {}
    ok = fit.converged and all(e <= FOURPL_REL_TOL for e in errors.values())
    # a response read back through the curve: the EC50's response must give C back
    back = fit.inverse((t["A"] + t["D"]) / 2.0)[0] if fit.converged else float("nan")
    back_ok = math.isfinite(back) and abs(back - t["C"]) / t["C"] <= FOURPL_REL_TOL
    return Check(
        "oq.4pl", _STAGE, "4PL fit recovers known parameters (12 two-fold doses, duplicates)",
        Status.PASS if ok and back_ok else Status.FAIL,
        expected={**t, "rel_tol": FOURPL_REL_TOL, "ec50_back_calculated": t["C"]},
        observed={"params": observed, "converged": fit.converged,
                  "ec50_back_calculated": round(back, 9) if math.isfinite(back) else None},
        detail="" if fit.converged else fit.message,
    )  # fmt: skip


# A QX Manager duplex export (FAM CAR, HEX RPP30), written as QX Manager writes its CSV, with
# fixed droplet counts: four DP wells, two untransduced (UTD) wells, two NTCs.
_QX_HEADER = (
    "Well,Sample description 1,Sample description 2,Sample description 3,Sample description 4,"
    "Target,Conc(copies/µL),pg/µL,Status,Status Reason,Experiment,SampleType,TargetType,"
    "Supermix,DyeName(s),Copies/20µLWell,TotalConfMax,TotalConfMin,PoissonConfMax,PoissonConfMin,"
    "Accepted Droplets,Positives,Negatives"
)
VCN_ACCEPTED = 16_000
VCN_POSITIVES = {"CAR": 1_200, "RPP30": 800}  # per DP well
_DROPLET_NL = 0.85  # the bundled assay's QX droplet volume
# copies per diploid genome = 2 x lambda_CAR / lambda_RPP30 (RPP30 two copies per genome),
# lambda = -ln(1 - positives / accepted), pooled over the four wells of equal volume:
# 2 x ln(1 - 1200/16000) / ln(1 - 800/16000) = 2 x 0.0779615 / 0.0512933 = 3.0398
VCN_EXPECTED = 2.0 * math.log1p(-1_200 / 16_000) / math.log1p(-800 / 16_000)
VCN_DIGITS = 4  # the export prints concentrations to 6 decimals; pooling is exact


def _qx_csv() -> bytes:
    wells = [(f"{r}01", "DP", "Unknown") for r in "ABCD"]
    wells += [("E01", "UTD", "Unknown"), ("F01", "UTD", "Unknown")]
    wells += [("G01", "NTC", "NTC"), ("H01", "NTC", "NTC")]
    lines = [_QX_HEADER]
    for well, name, kind in wells:
        for target, dye, ttype in (("CAR", "FAM", "Unknown"), ("RPP30", "HEX", "Reference")):
            positives = (
                0
                if name == "NTC" or (name == "UTD" and target == "CAR")
                else (VCN_POSITIVES[target])
            )
            negatives = VCN_ACCEPTED - positives
            conc = -math.log(negatives / VCN_ACCEPTED) / (_DROPLET_NL * 1e-3)
            lines.append(
                f"{well},{name},,,,{target},{conc:.6f},,OK,,ABS,{kind},{ttype},"
                f"ddPCR Supermix for Probes (No dUTP),{dye},{conc * 20:.4f},,,,,"
                f"{VCN_ACCEPTED},{positives},{negatives}"
            )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def vcn_check() -> Check:
    from cytorelease.qpcr.vcn import analyse_export

    with tempfile.TemporaryDirectory(prefix="cytorelease-selftest-") as folder:
        path = Path(folder) / "qx_manager_results.csv"
        path.write_bytes(_qx_csv())
        result = analyse_export(path, "vcn-car-rpp30")
    samples = {s.sample: s for s in result.samples}
    dp, utd = samples.get("DP"), samples.get("UTD")
    observed = {
        "run_passed": result.passed,
        "DP_vcn": None if dp is None or dp.vcn is None else round(dp.vcn, VCN_DIGITS),
        "UTD_transgene_detected": None if utd is None else utd.transgene_detected,
    }
    expected = {
        "run_passed": True,
        "DP_vcn": round(VCN_EXPECTED, VCN_DIGITS),
        "UTD_transgene_detected": False,
    }
    return Check(
        "oq.vcn", _STAGE, "dPCR VCN per diploid genome from a QX duplex export (Poisson)",
        Status.PASS if observed == expected else Status.FAIL, expected=expected, observed=observed,
    )  # fmt: skip


def numeric_checks() -> list[Check]:
    return [usp_rounding_check(), fourpl_check(), vcn_check()]
