"""The demo: the whole pipeline on the bundled sample lot, as a QC lab would run it.

Create a throw-away signed registry (a demo admin who registers two analysts, a reviewer and a
QA approver; private keys in a temporary folder deleted afterwards, the public ``registry.yaml``
kept in OUT); copy the sample lot to OUT and enter its manual results from the lot's bench
sheet, each typed by one analyst and verified by the other (``manual enter`` / ``verify``);
release the lot (analyses, spec evaluation, result.json, draft CoA) against that registry; sign
as the default signature policy asks ("performed", "reviewed", then "approved" for a lot that
passed or "rejected" for one that did not) and verify the signed CoA against that registry.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease.errors import InputError

__all__ = ["find_sample_lot", "run_demo"]

_ADMIN = ("Registry Admin (demo)", "demo.admin")
_ANALYST = ("Dana Analyst (demo)", "demo.analyst")
_SECOND = ("Sam Second (demo)", "demo.second")
_REVIEWER = ("Robin Reviewer (demo)", "demo.reviewer")
_APPROVER = ("Quinn Approver (demo)", "demo.qa")
# marks the demo's copy of the sample lot, so a later demo run may replace it (and nothing else)
_COPY_MARK = ".cytorelease-demo-copy"
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
    sample = find_sample_lot()
    lot_dir = out / sample.name
    # a demo run replaces its own earlier outputs (signed with keys that no longer exist)
    for earlier in (*out.glob("coa-*.html"), out / "result.json", out / "registry.yaml"):
        earlier.unlink(missing_ok=True)
    if lot_dir.resolve() == sample.resolve():
        raise InputError("the demo's output folder is the bundled sample data", path=out,
                         hint="choose another --out folder")  # fmt: skip
    if lot_dir.exists() or lot_dir.is_symlink():
        # only a folder an earlier demo made is replaced, never a lot of the user's
        if not (lot_dir / _COPY_MARK).is_file() or lot_dir.is_symlink():
            raise InputError(
                "exists and is not an earlier demo's copy of the sample lot; the demo will "
                "not replace it",
                path=lot_dir,
                hint="choose another --out folder",
            )
        shutil.rmtree(lot_dir)
    # the bundled lot is never written to: its manual results are entered in a copy
    shutil.copytree(sample, lot_dir)
    (lot_dir / _COPY_MARK).write_text("a copy of the bundled sample lot made by cytorelease demo\n")
    steps: list[dict[str, str]] = []

    with tempfile.TemporaryDirectory(prefix="cytorelease-demo-keys-") as keys_dir:
        passphrase = secrets.token_urlsafe(24)
        made = init_registry(
            keys_dir, signer=_ADMIN[0], user_id=_ADMIN[1], passphrase=passphrase,
            identity_evidence=_EVIDENCE,
        )  # fmt: skip
        admin = load_private_key(made.admin_key.key_path, passphrase)
        keys = {}
        for (name, user_id), role in (
            (_ANALYST, Role.ANALYST),
            (_SECOND, Role.ANALYST),
            (_REVIEWER, Role.REVIEWER),
            (_APPROVER, Role.QA_APPROVER),
        ):
            pair, _ = enroll(
                keys_dir, admin_key=admin, signer=name, user_id=user_id, roles=[role],
                passphrase=passphrase, out_dir=keys_dir, identity_evidence=_EVIDENCE,
            )  # fmt: skip
            keys[user_id] = pair
        steps.append({"step": "registry", "outcome": "signed; admin + 4 people registered"})
        entered = _enter_bench_sheet(
            lot_dir, keys_dir, keys[_ANALYST[1]].key_path, keys[_SECOND[1]].key_path, passphrase
        )
        steps.append({"step": "manual results", "outcome": f"{entered} entered and verified"})

        outcome = release_lot(lot_dir, out=out, registry=keys_dir)
        for analysis in outcome.record["analyses"]:
            state = analysis["status"] + (f" ({analysis['reason']})" if analysis["reason"] else "")
            steps.append({"step": f"analysis: {analysis['analysis']}", "outcome": state})
        steps.append({"step": "evaluate spec", "outcome": f"disposition {outcome.disposition}"})
        steps.append({"step": "write result", "outcome": str(outcome.result_path)})

        decision = Meaning.APPROVED if outcome.disposition == "PASS" else Meaning.REJECTED
        for user_id, meaning in (
            (_ANALYST[1], Meaning.PERFORMED),
            (_REVIEWER[1], Meaning.REVIEWED),
            (_APPROVER[1], decision),
        ):
            sign_with_key_file(
                outcome.report_path,
                key_path=keys[user_id].key_path,
                passphrase=passphrase,
                meaning=meaning,
                registry=keys_dir,
                comment="demo signature on synthetic data",
            )
            steps.append({"step": f"sign ({meaning.value})", "outcome": keys[user_id].public.name})
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
        "lot_dir": str(lot_dir),
        "steps": steps,
        "result": str(outcome.result_path),
        "report": str(outcome.report_path),
        "registry": str(registry),
        "signers": str(registry),
        "disposition": outcome.disposition,
        "verified": verification.ok,
        "exit_code": 0 if verification.ok else 1,
    }


def _enter_bench_sheet(
    lot_dir: Path, registry: str, first: Path, second: Path, passphrase: str
) -> int:
    """Each bench-sheet result entered by ``first`` and verified, by typing it again, by
    ``second``; the number entered."""
    from cytorelease.bench_sheet import BENCH_SHEET, read_bench_sheet
    from cytorelease.lot.manifest import load_manifest
    from cytorelease.manual import LotIdentity, enter_value, verify_value

    sheet = lot_dir / BENCH_SHEET
    if not sheet.is_file():
        return 0
    manifest = load_manifest(lot_dir)
    identity = LotIdentity(manifest.lot_id, manifest.chain_of_identity)
    results = read_bench_sheet(sheet)
    for result in results:
        for act, key in ((enter_value, first), (verify_value, second)):
            act(
                lot_dir, identity, attribute=result.attribute, value=result.value,
                unit=result.unit, key_path=key, passphrase=passphrase, registry=registry,
                comment=f"demo: from the bench sheet ({result.recorded_by}, {result.recorded_at})",
            )  # fmt: skip
    return len(results)
