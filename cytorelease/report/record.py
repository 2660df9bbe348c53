"""The canonical result record inside a CoA: embedding, extraction and the digests it binds.

The record travels in the report as ``<script type="application/json" id="cytorelease-record">``.
Every ``<``, ``>`` and ``&`` of its canonical JSON is written as a ``\\u00XX`` escape, so no
value (a sample called ``</script>``, a comment holding ``<!--``) can end the element early or
switch the HTML parser into another state; JSON decoders read the escapes back unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json, content_sha256

__all__ = [
    "ADDENDUM_SCHEMA",
    "IMPACT_SCHEMA",
    "RECORD_ELEMENT_ID",
    "RECORD_SCHEMA",
    "RecordDigests",
    "embed_json",
    "extract_record",
    "is_addendum",
    "is_impact",
    "record_digests",
]

RECORD_SCHEMA = "cytorelease.result/1"
# A signed addendum to a CoA (cytorelease.addendum): a later result, re-evaluated; the same
# embedding, signature area and signatures as a CoA.
ADDENDUM_SCHEMA = "cytorelease.addendum/1"
# A signed impact assessment of a proposed change (cytorelease.reanalyse): what it would have
# said of every archived lot; the same embedding, signature area and signatures.
IMPACT_SCHEMA = "cytorelease.impact/1"
_SCHEMAS = (RECORD_SCHEMA, ADDENDUM_SCHEMA, IMPACT_SCHEMA)
RECORD_ELEMENT_ID = "cytorelease-record"

_RECORD_OPEN = f'<script type="application/json" id="{RECORD_ELEMENT_ID}">'.encode()
_SCRIPT_CLOSE = b"</script>"
_HTML_SENSITIVE = re.compile("[<>&]")


def embed_json(obj: Any) -> str:
    """Canonical JSON of ``obj`` that is safe as the text of a ``<script>`` element."""
    return _HTML_SENSITIVE.sub(lambda m: f"\\u{ord(m.group()):04x}", canonical_json(obj))


@dataclass(frozen=True, slots=True)
class RecordDigests:
    """What a signature binds of the record (21 CFR 11.70): record, spec and input hashes."""

    record_sha256: str
    spec_sha256: str | None
    input_sha256s: tuple[str, ...]


def record_digests(record: dict[str, Any]) -> RecordDigests:
    """The record's canonical hash, its spec's hash and its inputs' hashes, in record order."""
    spec = (record.get("evaluation") or {}).get("spec") or {}
    inputs = record.get("inputs") or []
    return RecordDigests(
        record_sha256=content_sha256(record),
        spec_sha256=spec.get("sha256"),
        input_sha256s=tuple(str(item.get("sha256")) for item in inputs if isinstance(item, dict)),
    )


def is_addendum(record: Any) -> bool:
    return isinstance(record, dict) and record.get("schema") == ADDENDUM_SCHEMA


def is_impact(record: Any) -> bool:
    return isinstance(record, dict) and record.get("schema") == IMPACT_SCHEMA


def extract_record(html: bytes, *, path: str | None = None) -> dict[str, Any]:
    """The record embedded in a rendered CoA or addendum; :class:`InputError` when absent or
    unreadable."""
    start = html.find(_RECORD_OPEN)
    if start < 0 or html.find(_RECORD_OPEN, start + 1) >= 0:
        count = "no" if start < 0 else "more than one"
        raise InputError(
            f'{count} <script id="{RECORD_ELEMENT_ID}"> element holds the result record',
            path=path,
            hint="is this a CoA rendered by cytorelease?",
        )
    body_start = start + len(_RECORD_OPEN)
    end = html.find(_SCRIPT_CLOSE, body_start)
    if end < 0:
        raise InputError("the embedded result record is not closed by </script>", path=path)
    try:
        record = json.loads(html[body_start:end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"the embedded result record is not valid JSON: {exc}", path=path
        ) from None
    if not isinstance(record, dict) or record.get("schema") not in _SCHEMAS:
        raise InputError(
            f"the embedded result record is not a {' or '.join(_SCHEMAS)} document", path=path
        )
    return record
