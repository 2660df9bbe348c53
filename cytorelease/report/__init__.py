"""The Certificate of Analysis: rendering, Ed25519 keys, electronic signatures, verification."""

from __future__ import annotations

from cytorelease.report.entry import Meaning, SignatureEntry
from cytorelease.report.keys import KeyPair, generate_key, load_private_key
from cytorelease.report.record import extract_record, record_digests
from cytorelease.report.registry import Registry, RegistryEntry, load_registry
from cytorelease.report.registry_admin import enroll, init_registry, register_key, revoke_key
from cytorelease.report.render import build_view, render_coa, write_coa
from cytorelease.report.sign import sign_bytes, sign_report, sign_with_key_file
from cytorelease.report.verify import VerificationResult, verify_bytes, verify_report

__all__ = [
    "KeyPair",
    "Meaning",
    "Registry",
    "RegistryEntry",
    "SignatureEntry",
    "VerificationResult",
    "build_view",
    "enroll",
    "extract_record",
    "generate_key",
    "init_registry",
    "load_private_key",
    "load_registry",
    "record_digests",
    "register_key",
    "render_coa",
    "revoke_key",
    "sign_bytes",
    "sign_report",
    "sign_with_key_file",
    "verify_bytes",
    "verify_report",
    "write_coa",
]
