"""The comparability protocol: a versioned, locked document that fixes the margins before the data.

```yaml
schema_version: 1
id: site-transfer-b
version: 1
title: Site B against site A (optional)
pairing: lot          # lot | none
alpha: 0.05           # optional, default 0.05
deming_variance_ratio: 1   # optional: error variance of B over that of A
margins:
  flow.viability_pct_of_cd45: {margin: 5, unit: "%"}   # unit optional; checked if given
```

Validation errors name the file, the field path and the line. The identity is the canonical
content SHA-256 of the document, as for specs. Only the site library's ``protocols/LOCK`` (lines
``<id>@<version> <sha256>``, read by :mod:`cytorelease._lock`) judges it: listed with this hash,
the protocol is locked; listed with another, it was changed under a released version and is
refused; not listed (or no site library), it loads unlocked and the report says so. A LOCK
beside the file is never read: anyone can write one next to an edited copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cytorelease._lock import LOCK_NAME, read_lock
from cytorelease._resources import site_library
from cytorelease._yaml import (
    YamlLinesError,
    load_yaml_with_lines,
    read_document_text,
    validation_problems,
)
from cytorelease.errors import InputError
from cytorelease.provenance import content_sha256

__all__ = [
    "DEFAULT_ALPHA",
    "Margin",
    "Protocol",
    "ProtocolModel",
    "load_protocol",
    "margins_from_options",
    "protocol_lock",
]

DEFAULT_ALPHA = 0.05
PROTOCOLS_FOLDER = "protocols"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class Margin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    margin: float = Field(gt=0, allow_inf_nan=False)
    unit: str | None = None


class ProtocolModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1]
    id: str = Field(pattern=_NAME)
    version: str = Field(pattern=_NAME)
    title: str | None = None
    pairing: Literal["lot", "none"]
    alpha: float = Field(DEFAULT_ALPHA, gt=0, lt=0.5, allow_inf_nan=False)
    deming_variance_ratio: float = Field(1.0, gt=0, allow_inf_nan=False)
    margins: dict[str, Margin] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # ``version: 1`` is written as a number; the reference is text (id@1)
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class Protocol:
    """A validated protocol (or the margins of the command line: ``id`` None) and its lock."""

    margins: dict[str, Margin]
    alpha: float = DEFAULT_ALPHA
    deming_variance_ratio: float = 1.0
    pairing: str | None = None
    id: str | None = None
    version: str | None = None
    sha256: str | None = None
    path: Path | None = None
    locked: bool = False

    @property
    def ref(self) -> str | None:
        return None if self.id is None else f"{self.id}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": "protocol" if self.id is not None else "command line",
            "id": self.id,
            "version": self.version,
            "sha256": self.sha256,
            "path": None if self.path is None else str(self.path),
            "locked": self.locked,
            "alpha": self.alpha,
            "deming_variance_ratio": self.deming_variance_ratio,
            "pairing": self.pairing,
            "margins": {k: m.model_dump() for k, m in sorted(self.margins.items())},
        }


def protocol_lock() -> tuple[Path | None, dict[str, str]]:
    """The site library's protocol LOCK and its entries (none without a site library)."""
    library = site_library()
    if library is None:
        return None, {}
    lock = library / PROTOCOLS_FOLDER / LOCK_NAME
    return lock, read_lock(lock, error=InputError)


def load_protocol(path: Path) -> Protocol:
    """Read, validate and judge by the library's LOCK the protocol at ``path``."""
    text = read_document_text(path, error=InputError, what="comparability protocol")
    try:
        document = load_yaml_with_lines(text)
    except YamlLinesError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise InputError(f"{where}{exc}", path=path) from None
    if not isinstance(document.data, dict):
        raise InputError(
            "a comparability protocol is a YAML mapping (schema_version, id, version, pairing, "
            "margins)",
            path=path,
        )
    version = document.data.get("schema_version")
    if version is not None and (isinstance(version, bool) or version != 1):
        line = document.lines.line_of(("schema_version",))
        raise InputError(
            f"schema_version (line {line}): unknown protocol schema version; this cytorelease "
            "reads schema 1",
            path=path,
        )
    try:
        model = ProtocolModel.model_validate(document.data)
    except ValidationError as exc:
        problems = validation_problems(exc, document.lines, document.data)
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(problems[0] + more, path=path) from None
    sha256 = content_sha256(document.data)
    lock, entries = protocol_lock()
    ref = f"{model.id}@{model.version}"
    if ref in entries and entries[ref] != sha256:
        raise InputError(
            f"{ref} is locked with content {entries[ref][:16]}... in {lock} but this file's "
            f"content is {sha256[:16]}...: a released protocol never changes",
            path=path,
            hint="a change of margins is a new version",
        )
    return Protocol(
        dict(model.margins),
        model.alpha,
        model.deming_variance_ratio,
        model.pairing,
        model.id,
        model.version,
        sha256,
        path,
        entries.get(ref) == sha256,
    )


def margins_from_options(options: list[str]) -> Protocol:
    """``ATTR=VALUE`` margins from the command line: unlocked, alpha 0.05, ratio 1."""
    margins: dict[str, Margin] = {}
    for option in options:
        attribute, sep, text = option.partition("=")
        attribute = attribute.strip()
        if not sep or not attribute:
            raise InputError(f"--margin {option!r}: expected ATTRIBUTE=VALUE")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"--margin {option!r}: the margin must be a positive number")
        if attribute in margins:
            raise InputError(f"--margin: attribute {attribute!r} is given twice")
        margins[attribute] = Margin(margin=value)
    return Protocol(margins)
