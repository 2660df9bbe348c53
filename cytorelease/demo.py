"""The demo: the whole pipeline on the bundled sample lot, as a QC lab would run it.

Release the lot (analyses, spec evaluation, result.json, draft CoA), generate throw-away keys
for two people (private keys in a temporary folder that is deleted afterwards; their public
registry ``signers.yaml`` kept in OUT), sign as "performed" by the analyst and "approved" by QA,
and verify the signed CoA against that registry.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease.errors import InputError

__all__ = ["find_sample_lot", "run_demo"]

_ANALYST = ("Dana Analyst (demo)", "demo.analyst")
_APPROVER = ("Quinn Approver (demo)", "demo.qa")


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
    from cytorelease.report.keys import SignerRole, generate_key
    from cytorelease.report.sign import sign_with_key_file
    from cytorelease.report.verify import verify_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lot_dir = find_sample_lot()
    # a demo run replaces its own earlier outputs (signed with keys that no longer exist)
    for earlier in (*out.glob("coa-*.html"), out / "result.json", out / "signers.yaml"):
        earlier.unlink(missing_ok=True)
    steps: list[dict[str, str]] = []

    outcome = release_lot(lot_dir, out=out)
    for analysis in outcome.record["analyses"]:
        state = analysis["status"] + (f" ({analysis['reason']})" if analysis["reason"] else "")
        steps.append({"step": f"analysis: {analysis['analysis']}", "outcome": state})
    steps.append({"step": "evaluate spec", "outcome": f"disposition {outcome.disposition}"})
    steps.append({"step": "write result", "outcome": str(outcome.result_path)})

    registry = out / "signers.yaml"
    with tempfile.TemporaryDirectory(prefix="cytorelease-demo-keys-") as keys_dir:
        passphrase = secrets.token_urlsafe(24)
        signers = []
        for (name, user_id), role in ((_ANALYST, SignerRole.ANALYST), (_APPROVER, SignerRole.QA)):
            signers.append(
                generate_key(
                    signer=name,
                    user_id=user_id,
                    passphrase=passphrase,
                    out_dir=keys_dir,
                    role=role,
                    registry_path=registry,
                )
            )
        for key, meaning in zip(signers, (Meaning.PERFORMED, Meaning.APPROVED), strict=True):
            sign_with_key_file(
                outcome.report_path,
                key_path=key.key_path,
                passphrase=passphrase,
                meaning=meaning,
                signers_path=registry,
                comment="demo signature on synthetic data",
            )
            steps.append({"step": f"sign ({meaning.value})", "outcome": key.entry.name})
    verification = verify_report(outcome.report_path, trust=registry)
    steps.append(
        {
            "step": "verify",
            "outcome": "valid: every byte and both signatures check out"
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
        "signers": str(registry),
        "disposition": outcome.disposition,
        "verified": verification.ok,
        "exit_code": 0 if verification.ok else 1,
    }
