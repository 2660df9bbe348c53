"""``cytorelease selftest``: installation (IQ) and operational (OQ) qualification evidence."""

from __future__ import annotations

from cytorelease.selftest.checks import Check, Status
from cytorelease.selftest.run import SelftestResult, run_checks, run_selftest
from cytorelease.selftest.signature import sign_selftest, verify_selftest

__all__ = [
    "Check",
    "SelftestResult",
    "Status",
    "run_checks",
    "run_selftest",
    "sign_selftest",
    "verify_selftest",
]
