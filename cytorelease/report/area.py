"""The signature area of a CoA: where it sits, its exact bytes, and reading it back.

A rendered CoA is ``prefix + BEGIN + area + END + suffix``. The *content* that every signature
covers is the document with the area emptied, ``prefix + BEGIN + END + suffix``: every byte
outside the area, markers included, so no byte can move across the area unnoticed. The area is
not free text: it is produced by :func:`render_area` from the signature entries alone, so a
verifier rebuilds it from the entries it reads and compares byte for byte. Together the two
rules leave no byte of the file unchecked.

This markup is versioned (``format=1``) and is plain Python, never a user-editable template, so
a report signed today still verifies after the CoA template or the software changes.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cytorelease.report.entry import Meaning, SignatureEntry, parse_utc
from cytorelease.report.record import embed_json

__all__ = [
    "AREA_BEGIN",
    "AREA_END",
    "AREA_FORMAT",
    "ReportParts",
    "displayed_fields",
    "expected_display",
    "read_entries",
    "render_area",
    "split_report",
    "visible_fields",
]

AREA_FORMAT = 1
AREA_BEGIN = f"<!-- cytorelease:signature-area:begin format={AREA_FORMAT} -->"
AREA_END = "<!-- cytorelease:signature-area:end -->"
_BEGIN = AREA_BEGIN.encode()
_END = AREA_END.encode()
_ANY_BEGIN = re.compile(rb"<!-- cytorelease:signature-area:begin format=(\d+) -->")
_MACHINE_BLOCK = re.compile(
    rb'<script type="application/json" class="cytorelease-signature">(.*?)</script>', re.S
)
_ARTICLE = re.compile(rb'<article class="sig" id="signature-(\d+)">(.*?)</article>', re.S)
_DISPLAYED = re.compile(rb'<dd[^>]*? data-field="(\w+)">(.*?)</dd>', re.S)

NOT_SIGNED_TEXT = (
    "Not yet signed. This draft Certificate of Analysis is not valid for release until it "
    "carries the electronic signatures required by the site's procedures."
)
# The visible fields of each signature, in display order: (field, printed label).
_VISIBLE_FIELDS = (
    ("signer", "Printed name"),
    ("user_id", "User ID"),
    ("role", "Role"),
    ("meaning", "Meaning"),
    ("utc_time", "Date and time (UTC)"),
    ("comment", "Comment"),
    ("key_fingerprint", "Key fingerprint"),
)


@dataclass(frozen=True, slots=True)
class ReportParts:
    """A CoA split at its signature area."""

    prefix: bytes
    area: bytes
    suffix: bytes

    @property
    def content(self) -> bytes:
        """The bytes every signature covers: the whole file with the area emptied."""
        return self.prefix + _BEGIN + _END + self.suffix

    def with_area(self, area: bytes) -> bytes:
        return self.prefix + _BEGIN + area + _END + self.suffix


def split_report(data: bytes) -> ReportParts:
    """Split at the one signature area; ``ValueError`` saying what is wrong otherwise."""
    begins, ends = data.count(_BEGIN), data.count(_END)
    if begins == 0:
        other = _ANY_BEGIN.search(data)
        if other:
            raise ValueError(
                f"signature area format {other.group(1).decode()} is not readable by this "
                f"version (it reads format {AREA_FORMAT})"
            )
    if begins != 1 or ends != 1:
        raise ValueError(
            f"expected one signature area (begin and end markers), found {begins} begin and "
            f"{ends} end markers"
        )
    start = data.index(_BEGIN)
    end = data.index(_END)
    if end < start:
        raise ValueError("the signature area's end marker comes before its begin marker")
    return ReportParts(data[:start], data[start + len(_BEGIN) : end], data[end + len(_END) :])


def _fields_of(entry: SignatureEntry) -> tuple[tuple[str, str], ...]:
    """The visible fields of this entry: the fields every entry has, then the later ones it
    carries (an entry without them renders exactly as it did before they existed)."""
    extra: tuple[tuple[str, str], ...] = ()
    if entry.deviation is not None:
        extra += (("deviation", "Deviation"),)
    if entry.has_trusted_time_field:
        extra += (("trusted_time", "Trusted time (RFC 3161)"),)
    return _VISIBLE_FIELDS + extra


def visible_fields(entry: SignatureEntry) -> tuple[str, ...]:
    return tuple(name for name, _ in _fields_of(entry))


def expected_display(entry: SignatureEntry, field: str) -> str:
    """The text a signature shows for ``field`` (unescaped)."""
    if field == "trusted_time":
        token = entry.token_bytes()
        if token is None:
            return "none: no trusted time (the signing computer's clock)"
        from cytorelease.report.tsa import token_time

        moment = token_time(token)
        if moment is None:
            return "unreadable token"
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC") + " (time-stamping authority)"
    if field == "utc_time":
        return parse_utc(entry.utc_time).strftime("%Y-%m-%d %H:%M:%S UTC")
    if field == "comment":
        return entry.comment if entry.comment else "(none)"
    return str(getattr(entry, field))


def _render_entry(number: int, entry: SignatureEntry) -> str:
    label = Meaning(entry.meaning).label
    rows = "".join(
        f'<dt>{title}</dt><dd class="sig-{name.replace("_", "-")}" data-field="{name}">'
        f"{html.escape(expected_display(entry, name))}</dd>\n"
        for name, title in _fields_of(entry)
    )
    return (
        f'<article class="sig" id="signature-{number}">\n'
        f'<h3 class="sig-title">{number}. {html.escape(label)} '
        f"{html.escape(entry.signer)}</h3>\n"
        f'<dl class="sig-fields">\n{rows}</dl>\n'
        '<script type="application/json" class="cytorelease-signature">'
        f"{embed_json(entry.to_dict())}</script>\n"
        "</article>\n"
    )


def render_area(entries: Sequence[SignatureEntry]) -> bytes:
    """The exact bytes of the signature area for these entries (their order is kept)."""
    if not entries:
        body = f'\n<p class="sig-none" id="not-signed">{html.escape(NOT_SIGNED_TEXT)}</p>\n'
    else:
        body = "\n" + "".join(_render_entry(i, e) for i, e in enumerate(entries, start=1))
    return body.encode("utf-8")


def signature_count(data: bytes) -> int | None:
    """How many signatures a report holds; None when it is not a cytorelease CoA at all."""
    try:
        return len(read_entries(split_report(data).area))
    except ValueError:
        return None


def read_entries(area: bytes) -> list[Any]:
    """The decoded JSON of every machine block in the area, in order (not yet validated).

    A block that is not UTF-8 JSON is returned as the ``ValueError`` describing it, so a
    verifier can report it against its position.
    """
    found: list[Any] = []
    for match in _MACHINE_BLOCK.finditer(area):
        try:
            found.append(json.loads(match.group(1).decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            found.append(ValueError(f"machine block is not valid JSON ({exc})"))
    return found


def displayed_fields(area: bytes) -> dict[int, dict[str, str]]:
    """What each visible signature block shows: {signature number: {field: unescaped text}}."""
    shown: dict[int, dict[str, str]] = {}
    for article in _ARTICLE.finditer(area):
        values: dict[str, str] = {}
        for field, text in _DISPLAYED.findall(article.group(2)):
            values[field.decode("ascii")] = html.unescape(text.decode("utf-8", "replace"))
        shown[int(article.group(1))] = values
    return shown
