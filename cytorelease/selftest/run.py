"""``run_selftest``: every IQ and OQ check, the report written (and signed) in one folder."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.provenance import software
from cytorelease.selftest.checks import Check, Status, guarded
from cytorelease.selftest.document import JSON_NAME, SCHEMA, write_document

__all__ = ["SelftestResult", "coa_template_identity", "run_checks", "run_selftest"]


@dataclass(frozen=True)
class SelftestResult:
    document: dict[str, Any]
    json_path: Path | None = None
    html_path: Path | None = None
    signature_path: Path | None = None

    @property
    def failed(self) -> bool:
        return self.document["summary"]["fail"] > 0

    def to_dict(self) -> dict[str, Any]:
        files = {
            "json": str(self.json_path) if self.json_path else None,
            "html": str(self.html_path) if self.html_path else None,
            "signature": str(self.signature_path) if self.signature_path else None,
        }
        return {**self.document, "files": files}


def coa_template_identity() -> dict[str, str]:
    """The bundled (or site library's) CoA template and its content hash, as records name it."""
    from cytorelease._resources import resource_dir
    from cytorelease.report.render import DEFAULT_TEMPLATE, page_environment
    from cytorelease.report.template import template_sha256

    env = page_environment(resource_dir("reports"))
    return {"template": DEFAULT_TEMPLATE, "sha256": template_sha256(env, DEFAULT_TEMPLATE)}


def _catalogue(suite: Path | None) -> list[tuple[str, str, Callable[[], Check]]]:
    from cytorelease.selftest import iq, oq_crypto, oq_gating, oq_numeric

    entries: list[tuple[str, str, Callable[[], Check]]] = [
        ("iq.record", "installed files match RECORD", iq.installed_record_check),
        ("iq.dependencies", "dependencies", iq.installed_dependency_check),
        ("oq.gating.bundled", "bundled GatingML case", oq_gating.bundled_gating_check),
        ("oq.usp_rounding", "USP rounding", oq_numeric.usp_rounding_check),
        ("oq.4pl", "4PL known parameters", oq_numeric.fourpl_check),
        ("oq.vcn", "dPCR VCN", oq_numeric.vcn_check),
        ("oq.ed25519", "Ed25519 RFC 8032", oq_crypto.ed25519_check),
        ("oq.coa_tamper", "tampered CoA", oq_crypto.coa_tamper_check),
    ]
    if suite is not None:
        found = suite
        entries.insert(
            3,
            ("oq.gating.isac_suite", "ISAC suite", lambda: oq_gating.suite_gating_check(found)),
        )
    return entries


def run_checks(suite: Path | None = None) -> list[Check]:
    """Every check; one that raises is that check's failure, the others still run."""
    return [guarded(cid, cid.split(".")[0].upper(), title, run) for cid, title, run in
            _catalogue(suite)]  # fmt: skip


def _verdict(checks: list[Check]) -> str:
    if any(c.status is Status.FAIL for c in checks):
        return "FAIL"
    if any(c.status is Status.FLAG for c in checks):
        return "NOT QUALIFIED"  # passed what could be run; the flags say what could not
    return "PASS"


def build_document(checks: list[Check], created_at: datetime) -> dict[str, Any]:
    summary = {s.value: sum(c.status is s for c in checks) for s in Status}
    return {
        "schema": SCHEMA,
        "created_at": created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": software(),
        "platform": {"python": platform.python_version(), "system": platform.system(),
                     "machine": platform.machine()},
        "coa_template": coa_template_identity(),
        "verdict": _verdict(checks),
        "summary": summary,
        "flags": [c.id for c in checks if c.status is Status.FLAG],
        "checks": [c.to_dict() for c in checks],
    }  # fmt: skip


def run_selftest(
    out: Path | None = None,
    *,
    private_key: Any = None,
    suite: Path | None = None,
    now: datetime | None = None,
) -> SelftestResult:
    """Run the self-test; with ``out`` write selftest.json/.html there (signed with
    ``private_key``, an unlocked Ed25519 key, when given). An existing report is never replaced."""
    if private_key is not None and out is None:
        raise InputError("a self-test report is signed only when written: give --out with --key")
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(
            "is a file, not a folder (--out is the folder for the report)",
            path=out,
            hint="choose another --out folder",
        )
    if out is not None and (out / JSON_NAME).exists():
        raise InputError(
            "a self-test report is already here; refusing to overwrite it",
            path=out / JSON_NAME,
            hint="choose another --out folder",
        )
    if suite is not None and not (suite / "data1.fcs").is_file():
        raise InputError(
            "not a Gating-ML 2.0 compliance suite folder (no data1.fcs beside gml/ and truth/)",
            path=suite,
        )
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    document = build_document(run_checks(suite), moment)
    if out is None:
        return SelftestResult(document)
    json_path, html_path = write_document(document, out)
    signature = None
    if private_key is not None:
        from cytorelease.selftest.signature import sign_selftest

        signature = sign_selftest(out, private_key, now=moment)
    return SelftestResult(document, json_path, html_path, signature)
