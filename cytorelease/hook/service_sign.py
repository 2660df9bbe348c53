"""The worker's signature: the service key, under "computer-generated evaluation" only.

The meaning is fixed here and nowhere configurable: an unattended process may record that it
evaluated a lot, never that a person performed, reviewed or approved it (segregation of duties;
the signing library also refuses a human meaning for a service-role key). The key is
``DATA/keys/service.pem``, registered by an admin with the role ``service`` in the site's signed
registry, a copy of which is ``DATA/keys/registry.yaml`` (``keys register service.pub --role
service``); the passphrase comes from ``CYTORELEASE_SERVICE_PASSPHRASE``. Without a key the draft stays unsigned and the
audit trail says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytorelease.errors import SignatureError
from cytorelease.records.datadir import DataDir

__all__ = ["SERVICE_KEY_NAME", "SERVICE_MEANING", "ServiceSignature", "sign_as_service"]

SERVICE_KEY_NAME = "service.pem"
PASSPHRASE_ENV = "CYTORELEASE_SERVICE_PASSPHRASE"


SERVICE_MEANING = "computer-generated-evaluation"  # Meaning.COMPUTER_GENERATED, never a human one


@dataclass(frozen=True, slots=True)
class ServiceSignature:
    entry: Any | None  # cytorelease.report.entry.SignatureEntry, None when unsigned
    reason: str | None = None
    verification_problems: list[str] = field(default_factory=list)


def sign_as_service(data: DataDir, report: Path) -> ServiceSignature:
    """Sign ``report`` with the service key and verify it against the service registry."""
    from cytorelease.report.entry import Meaning
    from cytorelease.report.sign import sign_with_key_file
    from cytorelease.report.verify import verify_report

    key = data.keys_dir / SERVICE_KEY_NAME
    registry = data.keys_dir / "registry.yaml"
    if not key.is_file():
        return ServiceSignature(None, reason=f"no service key at {key}; the draft is unsigned")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise SignatureError(f"the service key needs its passphrase in {PASSPHRASE_ENV}", path=key)
    entry = sign_with_key_file(
        report,
        key_path=key,
        passphrase=passphrase,
        meaning=Meaning(SERVICE_MEANING),
        registry=registry,
        allow_computer_generated=True,
    )
    result = verify_report(report, trust=registry)
    return ServiceSignature(entry, verification_problems=result.failures())
