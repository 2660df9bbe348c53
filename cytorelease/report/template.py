"""Which CoA template a record was rendered with, and that template's content hash.

A CoA is reproducible from its embedded record only if the template is the one used at release.
The hash covers the template file and every template it includes or extends (the CSS partial,
for one), in the order jinja2 resolves them, so a change to any of them is a different hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError, TemplateError

__all__ = ["RENDERING_KEY", "Rendering", "rendering_of", "template_sha256"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _referenced(env: Any, name: str, source: str) -> list[str]:
    from jinja2 import TemplateSyntaxError, meta

    try:
        names = list(meta.find_referenced_templates(env.parse(source)))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"the CoA template does not parse: {exc}", path=name) from None
    if any(n is None for n in names):
        # A name computed at render time could differ per record: the hash would not pin it.
        raise TemplateError(
            "the CoA template includes a template by a computed name; only literal names can "
            "be pinned by its content hash",
            path=name,
        )
    return [str(n) for n in names]


def template_sha256(env: Any, name: str) -> str:
    """SHA-256 over ``name`` and every template it references, each as its file's bytes.

    :class:`TemplateError` when a template is missing or cannot be parsed.
    """
    from jinja2 import TemplateNotFound

    digest = hashlib.sha256()
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop(0)
        if current in seen:
            continue
        seen.add(current)
        try:
            source, filename, _ = env.loader.get_source(env, current)
        except TemplateNotFound:
            raise TemplateError("no such CoA template", path=current) from None
        data = Path(filename).read_bytes() if filename else source.encode("utf-8")
        # name and length framed, so no two template sets hash the same by concatenation
        digest.update(f"{current}\n{len(data)}\n".encode())
        digest.update(data)
        pending.extend(_referenced(env, current, source))
    return digest.hexdigest()


RENDERING_KEY = "rendering"


@dataclass(frozen=True, slots=True)
class Rendering:
    """The record's ``rendering`` block: template name, its content hash, the rendering time."""

    template: str
    template_sha256: str
    generated_at: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "template": self.template,
            "template_sha256": self.template_sha256,
            "generated_at": self.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def rendering_of(record: Mapping[str, Any]) -> Rendering | None:
    """The record's rendering block; None when it has none; :class:`InputError` when malformed."""
    block = record.get(RENDERING_KEY)
    if block is None:
        return None
    fields = ("template", "template_sha256", "generated_at")
    if (
        not isinstance(block, Mapping)
        or set(block) != set(fields)
        or not all(isinstance(block[f], str) for f in fields)
        or not _SHA256.fullmatch(block["template_sha256"])
    ):
        raise InputError(
            f"the record's '{RENDERING_KEY}' block must hold exactly template, template_sha256 "
            "(64 hex digits) and generated_at, as text",
            path="record",
        )
    try:
        moment = datetime.strptime(block["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(
            f"the record's {RENDERING_KEY}.generated_at {block['generated_at']!r} is not "
            "YYYY-MM-DDTHH:MM:SSZ",
            path="record",
        ) from None
    return Rendering(block["template"], block["template_sha256"], moment)
