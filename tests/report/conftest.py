"""A realistic result record for CoA tests, throw-away signing keys, and helpers."""

from __future__ import annotations

import copy
import hashlib
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cytorelease.report.keys import load_private_key
from cytorelease.report.registry import REGISTRY_FILE, Registry, load_registry
from cytorelease.report.registry_admin import enroll, init_registry
from cytorelease.report.render import stamp_rendering
from cytorelease.signature_policy import Role

PASSPHRASE = "correct horse battery staple"
# The moment fixed records are rendered and signed at, so outputs are reproducible.
RENDERED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
KEYS_FROM = datetime(2026, 1, 1, tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _frame(body: str, title: str, xlabel: str, ylabel: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 180" role="img" '
        f'aria-label="{title}" font-family="sans-serif" font-size="8">'
        '<rect x="34" y="8" width="198" height="142" fill="#fff" stroke="#333" stroke-width="0.6"/>'
        f"{body}"
        f'<text x="133" y="172" text-anchor="middle">{xlabel}</text>'
        f'<text x="10" y="79" text-anchor="middle" transform="rotate(-90 10 79)">{ylabel}</text>'
        "</svg>"
    )


def gate_plot_svg(seed: int = 1) -> str:
    rng = random.Random(seed)
    dots = []
    for _ in range(160):
        positive = rng.random() < 0.42
        x = rng.gauss(170 if positive else 80, 14)
        y = rng.gauss(60 if positive else 110, 12)
        x, y = min(max(x, 36), 230), min(max(y, 10), 148)
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.1" fill="#1f3b5c" opacity="0.55"/>')
    gate = (
        '<polygon points="128,20 228,20 228,100 128,100" fill="none" stroke="#b3261e" '
        'stroke-width="1.2"/><text x="178" y="30" text-anchor="middle" fill="#b3261e">CAR+ 42.4%</text>'
    )
    return _frame("".join(dots) + gate, "CAR vs CD3 gate", "CAR (CD19-Fc)", "CD3")


def standard_curve_svg() -> str:
    points = []
    for i, log_n in enumerate(range(1, 7)):
        cq = -3.32 * log_n + 38.1 + (0.12 if i % 2 else -0.08)
        x, y = 34 + (log_n - 0.5) * 33, 8 + (38 - cq) * 5.5
        points.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#1f3b5c"/>')
    line = '<line x1="50.5" y1="26.8" x2="215.5" y2="118.1" stroke="#b3261e" stroke-width="1"/>'
    label = '<text x="140" y="24" fill="#333">slope −3.32, E 100.1%, R² 0.998</text>'
    return _frame("".join(points) + line + label, "qPCR standard curve", "log10 copies", "Cq")


def potency_curve_svg() -> str:
    path = []
    for i in range(41):
        log_x = -1 + i * 0.1
        y = 20 + (1800 - 20) / (1 + (10**log_x / 8.0) ** -1.3)
        path.append(f"{34 + i * 4.9:.1f},{148 - y / 1800 * 136:.1f}")
    curve = f'<polyline points="{" ".join(path)}" fill="none" stroke="#1f3b5c" stroke-width="1.2"/>'
    return _frame(curve, "IFN-γ 4PL fit", "log10 effector:target", "IFN-γ pg/mL")


def _criterion(
    cid: str, test: str, category: str, attribute: str, method: str,
    reported: str | None, limit: dict[str, Any], unit: str, verdict: str,
    timing: str = "release",
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": cid, "test": test, "category": category, "attribute": attribute,
        "method": method, "reported": reported, "limit": limit, "unit": unit,
        "verdict": verdict, "timing": timing,
    }  # fmt: skip


def example_record() -> dict[str, Any]:
    """A lot evaluated against every test category, one test pending and one without result.

    Stamped, as release stamps its records, with the bundled CoA template and RENDERED_AT.
    """
    return stamp_rendering(unstamped_record(), generated_at=RENDERED_AT)


def unstamped_record() -> dict[str, Any]:
    """The example record as analysis and evaluation leave it, before it names its template."""
    inputs = [
        {"role": "flow.stained", "path": "tube1_stained.fcs", "sha256": _sha("tube1"), "kind": "fcs"},
        {"role": "flow.fmo_car", "path": "tube2_fmo_car.fcs", "sha256": _sha("tube2"), "kind": "fcs"},
        {"role": "qpcr.vcn", "path": "vcn_run_2026-11-18.csv", "sha256": _sha("vcn"), "kind": "qpcr-export"},
        {"role": "potency.ifng", "path": "ifng_elisa_plate1.xlsx", "sha256": _sha("elisa"), "kind": "plate-export"},
        {"role": "manual", "path": "lot.yaml", "sha256": _sha("lot.yaml"), "kind": "manifest"},
    ]  # fmt: skip
    criteria = [
        _criterion("appearance", "Appearance", "identity", "manual.appearance", "visual inspection", "conforms", {"equals": "conforms"}, "", "PASS"),
        _criterion("transgene", "CAR transgene", "identity", "qpcr.transgene_detected", "vcn-rpp30 v2", "detected", {"equals": "detected"}, "", "PASS"),
        _criterion("cd3", "T cells (CD3+)", "purity", "flow.cd3_pct_of_viable_cd45", "car-t-release v3", "93.4", {"min": "80"}, "% of viable CD45+", "PASS"),
        _criterion("cd19", "Residual B cells (CD19+)", "purity", "flow.cd19_pct_of_viable", "car-t-release v3", "0.2", {"max": "1.0"}, "% of viable", "PASS"),
        _criterion("viability", "Viability", "strength", "flow.viability_pct_of_cd45", "car-t-release v3", "91.2", {"min": "80.0"}, "% of CD45+", "PASS"),
        _criterion("car", "CAR expression", "strength", "flow.car_pct_of_viable_cd3", "car-t-release v3", "42.4", {"min": "10.0"}, "% of viable CD3+", "PASS"),
        _criterion("dose", "Dose (CAR+ viable T cells)", "strength", "derived.car_viable_t_cells", "derived", "2.1e8", {"min": "0.6e8", "max": "6.0e8"}, "cells", "PASS"),
        _criterion("vcn", "Vector copy number", "safety", "qpcr.vcn_per_transduced_cell", "vcn-rpp30 v2", "2.7", {"max": "5.0", "max_inclusive": False}, "copies per transduced cell", "PASS"),
        _criterion("ifng", "IFN-γ release on CD19+ targets", "potency", "potency.ifng_pg_ml", "ifng-elisa v1", "1480", {"min": "50"}, "pg/mL", "PASS"),
        _criterion("endotoxin", "Endotoxin", "safety", "manual.endotoxin_eu_ml", "LAL (kinetic chromogenic)", "<0.5", {"max": "5.0"}, "EU/mL", "PASS"),
        _criterion("mycoplasma", "Mycoplasma", "safety", "manual.mycoplasma", "NAT", "not detected", {"equals": "not detected"}, "", "PASS"),
        _criterion("sterility", "Sterility (14-day culture)", "safety", "manual.sterility", "USP <71>", None, {"equals": "no growth"}, "", "PENDING", "post-release"),
        _criterion("rcl", "Replication-competent lentivirus", "safety", "manual.rcl", "VSV-G qPCR", None, {"equals": "not detected"}, "", "MISSING"),
    ]  # fmt: skip
    gating = {
        "kind": "gating-template",
        "id": "car-t-release",
        "version": "3",
        "sha256": _sha("gating"),
    }
    vcn = {"kind": "assay", "id": "vcn-rpp30", "version": "2", "sha256": _sha("assay-vcn")}
    elisa = {"kind": "assay", "id": "ifng-elisa", "version": "1", "sha256": _sha("assay-elisa")}
    measurements = [
        {"attribute": "flow.viability_pct_of_cd45", "value": 91.23, "unit": "%", "method": gating, "inputs": [_sha("tube1")], "details": {"parent": "CD45+", "events": 48211}},
        {"attribute": "flow.cd3_pct_of_viable_cd45", "value": 93.41, "unit": "%", "method": gating, "inputs": [_sha("tube1")], "details": {"parent": "viable CD45+"}},
        {"attribute": "flow.car_pct_of_viable_cd3", "value": 42.38, "unit": "%", "method": gating, "inputs": [_sha("tube1"), _sha("tube2")], "details": {"threshold": "FMO 99.5th percentile"}},
        {"attribute": "qpcr.vcn_per_transduced_cell", "value": 2.71, "unit": "copies/cell", "method": vcn, "inputs": [_sha("vcn")], "details": {"efficiency_pct": 100.1}},
        {"attribute": "potency.ifng_pg_ml", "value": 1480.2, "unit": "pg/mL", "method": elisa, "inputs": [_sha("elisa")], "details": {}},
    ]  # fmt: skip
    return {
        "schema": "cytorelease.result/1",
        "lot": {
            "id": "CAR-0001",
            "product": "Autologous anti-CD19 CAR-T cells (sample product)",
            "chain_of_identity": "COI-7F3A-20261102-0001",
            "manufacturing_date": "2026-11-02",
        },
        "software": {"name": "cytorelease", "version": "0.1.0"},
        "inputs": inputs,
        "methods": [gating, vcn, elisa],
        "measurements": measurements,
        "evaluation": {
            "spec": {"id": "cd19-car-t", "version": "2", "sha256": _sha("spec-v2")},
            "criteria": criteria,
            "disposition": "INCOMPLETE",
            "alerts": [
                {"criterion": "rcl", "message": "no result in the lot manifest"},
                {"criterion": "sterility", "message": "reports after release (signed addendum)"},
            ],
        },
        "figures": [
            {"title": "CAR+ gate on viable CD3+ (tube 1)", "svg": gate_plot_svg()},
            {"title": "VCN standard curve (transgene)", "svg": standard_curve_svg()},
            {"title": "IFN-γ release, 4PL fit", "svg": potency_curve_svg()},
        ],
    }


@pytest.fixture
def record() -> dict[str, Any]:
    return copy.deepcopy(example_record())


ADMIN = ("Alex Admin", "aadmin")
# What tests record as how a person's identity was verified (synthetic: nobody was checked).
EVIDENCE = "synthetic test identity: no document checked (test fixture)"


def evidence_text(user_id: str) -> str:
    """The identity evidence a test records for a person (synthetic: nobody was checked)."""
    return f"synthetic test identity {user_id}: no document checked (test fixture)"


def site_registry(folder: Path, now: datetime = KEYS_FROM) -> Path:
    """``folder/registry.yaml``, created (with the admin ``aadmin``) when absent."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REGISTRY_FILE
    if not path.exists():
        init_registry(
            folder, signer=ADMIN[0], user_id=ADMIN[1], passphrase=PASSPHRASE, now=now,
            valid_days=3650, identity_evidence=evidence_text(ADMIN[1]),
        )  # fmt: skip
    return path


def admin_key(folder: Path) -> Any:
    return load_private_key(folder / f"{ADMIN[1]}.pem", PASSPHRASE)


class Signer:
    """A throw-away key holder registered by the folder's admin: entry, key file, unlocked key."""

    def __init__(
        self,
        folder: Path,
        name: str,
        user_id: str,
        role: Role | list[Role],
        *,
        now: datetime = KEYS_FROM,
        valid_days: int = 3650,
        passphrase: str = PASSPHRASE,
        identity_evidence: str | None = "",
    ) -> None:
        """``identity_evidence``: "" (default) records :func:`evidence_text` for a person and
        none for a service key; None registers with none (refused for a person)."""
        self.registry_path = site_registry(folder, now)
        roles = role if isinstance(role, list) else [role]
        if identity_evidence == "":
            identity_evidence = None if roles == [Role.SERVICE] else evidence_text(user_id)
        pair, registry = enroll(
            folder, admin_key=admin_key(folder), signer=name, user_id=user_id, roles=roles,
            passphrase=passphrase, out_dir=folder, now=now, valid_days=valid_days,
            identity_evidence=identity_evidence,
        )  # fmt: skip
        entry = registry.head.active_entry(user_id)
        assert entry is not None
        self.entry = entry
        self.key_path = pair.key_path
        self.public_path = pair.public_path
        self.private_key = load_private_key(pair.key_path, passphrase)

    @property
    def registry(self) -> Registry:
        return load_registry(self.registry_path)


@pytest.fixture(scope="session")
def signers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Signer]:
    """Analyst, QA approver, reviewer and a service key, in one signed registry (one folder)."""
    folder = tmp_path_factory.mktemp("keys")
    return {
        "analyst": Signer(folder, "Ada Analyst", "aanalyst", Role.ANALYST),
        "qa": Signer(folder, "Quinn Q. Approver", "qapprover", Role.QA_APPROVER),
        "reviewer": Signer(folder, "Rémy Réviseur", "rreviewer", Role.REVIEWER),
        "service": Signer(folder, "Release evaluation service", "svc-eval", Role.SERVICE),
    }


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


def passing_example_record() -> dict[str, Any]:
    """The example record as a lot that met its spec (RCL entered, disposition PASS): the
    only kind the default signature policy lets a QA approver approve."""
    record = unstamped_record()
    evaluation = record["evaluation"]
    for criterion in evaluation["criteria"]:
        if criterion["id"] == "rcl":
            criterion.update(reported="not detected", verdict="PASS")
    evaluation["disposition"] = "PASS"
    evaluation["alerts"] = [a for a in evaluation["alerts"] if a["criterion"] != "rcl"]
    return stamp_rendering(record, generated_at=RENDERED_AT)


def service_key(keys_dir: Path, passphrase: str = PASSPHRASE, role: Role = Role.SERVICE) -> Path:
    """A data folder's ``keys/``: ``service.pem`` registered (``role``) in ``registry.yaml``,
    as a site admin sets it up (`keys generate`, `keys register ... --role service`)."""
    signer = Signer(
        keys_dir, "cytorelease evaluation service", "service", role, passphrase=passphrase
    )
    (keys_dir / "service.pem").write_bytes(signer.key_path.read_bytes())
    (keys_dir / "service.pem").chmod(0o600)
    return keys_dir / REGISTRY_FILE
