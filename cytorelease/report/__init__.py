"""The Certificate of Analysis: rendering, Ed25519 keys, electronic signatures, verification."""

from __future__ import annotations

from cytorelease.report.entry import Meaning, SignatureEntry
from cytorelease.report.keys import (
    GeneratedKey,
    SignerEntry,
    SignerRegistry,
    SignerRole,
    generate_key,
    load_private_key,
    load_registry,
)
from cytorelease.report.record import extract_record, record_digests
from cytorelease.report.render import build_view, render_coa, write_coa
from cytorelease.report.sign import sign_bytes, sign_report, sign_with_key_file
from cytorelease.report.verify import VerificationResult, verify_bytes, verify_report

__all__ = [
    "GeneratedKey",
    "Meaning",
    "SignatureEntry",
    "SignerEntry",
    "SignerRegistry",
    "SignerRole",
    "VerificationResult",
    "build_view",
    "extract_record",
    "generate_key",
    "load_private_key",
    "load_registry",
    "record_digests",
    "render_coa",
    "sign_bytes",
    "sign_report",
    "sign_with_key_file",
    "verify_bytes",
    "verify_report",
    "write_coa",
]
