"""The demo: the whole pipeline on the bundled sample lot, as a QC lab would run it.

Release the lot (analyses, spec evaluation, result.json, draft CoA), create a throw-away signed
registry (a demo admin who registers an analyst, a reviewer and a QA approver; private keys in
a temporary folder deleted afterwards, the public ``registry.yaml`` kept in OUT), sign as the
default signature policy asks ("performed", "reviewed", then "approved" for a lot that passed or
"rejected" for one that did not) and verify the signed CoA against that registry.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease.errors import InputError

__all__ = ["find_sample_lot", "run_demo"]

_ADMIN = ("Registry Admin (demo)", "demo.admin")
_ANALYST = ("Dana Analyst (demo)", "demo.analyst")
_REVIEWER = ("Robin Reviewer (demo)", "demo.reviewer")
_APPROVER = ("Quinn Approver (demo)", "demo.qa")
# The registry records how each person's identity was verified; the demo's people are synthetic.
_EVIDENCE = "synthetic demo identity: no person exists and no document was checked"


def find_sample_lot() -> Path:
    """The first bundled sample lot (a folder with lot.yaml)."""
    root = resource_dir(ResourceKind.SAMPLE_DATA)
    lots = sorted(p.parent for p in root.glob("*/lot.yaml"))
    if not lots:
        raise InputError("no sample lot (a folder with lot.yaml) found", path=root)
    return lots[0]


def run_demo(out: str | Path) -> dict[str, Any]:
    from cytorelease.lot.release import release_lot
    from cytorelease.report.entry import Meaning
    from cytorelease.report.keys import load_private_key
    from cytorelease.report.registry_admin import enroll, init_registry
    from cytorelease.report.sign import sign_with_key_file
    from cytorelease.report.verify import verify_report
    from cytorelease.signature_policy import Role

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lot_dir = find_sample_lot()
    # a demo run replaces its own earlier outputs (signed with keys that no longer exist)
    for earlier in (*out.glob("coa-*.html"), out / "result.json", out / "registry.yaml"):
        earlier.unlink(missing_ok=True)
    steps: list[dict[str, str]] = []

    outcome = release_lot(lot_dir, out=out)
    for analysis in outcome.record["analyses"]:
        state = analysis["status"] + (f" ({analysis['reason']})" if analysis["reason"] else "")
        steps.append({"step": f"analysis: {analysis['analysis']}", "outcome": state})
    steps.append({"step": "evaluate spec", "outcome": f"disposition {outcome.disposition}"})
    steps.append({"step": "write result", "outcome": str(outcome.result_path)})

    decision = Meaning.APPROVED if outcome.disposition == "PASS" else Meaning.REJECTED
    with tempfile.TemporaryDirectory(prefix="cytorelease-demo-keys-") as keys_dir:
        passphrase = secrets.token_urlsafe(24)
        made = init_registry(
            keys_dir, signer=_ADMIN[0], user_id=_ADMIN[1], passphrase=passphrase,
            identity_evidence=_EVIDENCE,
        )  # fmt: skip
        admin = load_private_key(made.admin_key.key_path, passphrase)
        people = []
        for (name, user_id), role, meaning in (
            (_ANALYST, Role.ANALYST, Meaning.PERFORMED),
            (_REVIEWER, Role.REVIEWER, Meaning.REVIEWED),
            (_APPROVER, Role.QA_APPROVER, decision),
        ):
            pair, _ = enroll(
                keys_dir, admin_key=admin, signer=name, user_id=user_id, roles=[role],
                passphrase=passphrase, out_dir=keys_dir, identity_evidence=_EVIDENCE,
            )  # fmt: skip
            people.append((pair, meaning))
        steps.append({"step": "registry", "outcome": "signed; admin + 3 people registered"})
        for pair, meaning in people:
            sign_with_key_file(
                outcome.report_path,
                key_path=pair.key_path,
                passphrase=passphrase,
                meaning=meaning,
                registry=keys_dir,
                comment="demo signature on synthetic data",
            )
            steps.append({"step": f"sign ({meaning.value})", "outcome": pair.public.name})
        registry = out / "registry.yaml"
        registry.write_bytes((Path(keys_dir) / "registry.yaml").read_bytes())
    verification = verify_report(outcome.report_path, trust=registry)
    steps.append(
        {
            "step": "verify",
            "outcome": "valid: every byte and every signature check out"
            if verification.ok
            else "FAILED: " + "; ".join(verification.failures()),
        }
    )
    return {
        "lot": outcome.record["lot"]["id"],
        "out": str(out),
        "steps": steps,
        "result": str(outcome.result_path),
        "report": str(outcome.report_path),
        "registry": str(registry),
        "signers": str(registry),
        "disposition": outcome.disposition,
        "verified": verification.ok,
        "exit_code": 0 if verification.ok else 1,
    }
