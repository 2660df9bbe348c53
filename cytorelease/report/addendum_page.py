"""The page of a signed addendum: what it adds to a CoA, what that changes, and the whole
re-evaluation, derived from the addendum record alone (as a CoA's page is from its record).

The record is built and checked by :mod:`cytorelease.addendum`; this module only shows it, so
``sign`` and ``verify`` can render it again and compare every byte, as they do for a CoA.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from cytorelease.report.area import AREA_BEGIN, AREA_END, render_area
from cytorelease.report.record import embed_json, record_digests
from cytorelease.report.render import (
    criterion_view,
    display_text,
    group_by_category,
    not_for_release_lines_of,
)
from cytorelease.report.template import rendering_of

__all__ = ["ADDENDUM_TEMPLATE", "build_addendum_view"]

ADDENDUM_TEMPLATE = "addendum.html.j2"

_DISPOSITION_TEXT = {
    "PASS": "With this addendum, every release test meets the specification.",
    "FAIL": "With this addendum, one or more tests do not meet the specification.",
    "INCOMPLETE": "With this addendum, one or more release tests still have no verified result.",
}


def _link(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, Mapping):
        return None
    keys = ("file", "number", "content_sha256", "record_sha256", "signatures", "disposition")
    return {k: display_text(raw.get(k)) for k in keys}


def _verdict(raw: Any) -> dict[str, str]:
    view = criterion_view(
        {"verdict": (raw or {}).get("verdict"), "reported": (raw or {}).get("reported")}
    )
    shown = {k: view[k] for k in ("reported", "verdict_label", "verdict_class")}
    if (raw or {}).get("reported") is None:
        shown["reported"] = ""  # the verdict (pending, no result) says it
    return shown


def build_addendum_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the addendum template shows."""
    evaluation = record["evaluation"]
    rows = [criterion_view(c) for c in evaluation["criteria"]]
    disposition = record.get("disposition") or {}
    after = str(disposition.get("after") or evaluation.get("disposition") or "INCOMPLETE").upper()
    before = str(disposition.get("before") or "—").upper()
    amends = record.get("amends") or {}
    stamped = rendering_of(record)
    assert stamped is not None  # render_coa stamps first
    return {
        "lot": {
            k: display_text((record["lot"]).get(k))
            for k in ("id", "product", "chain_of_identity", "manufacturing_date")
        },
        "software": {
            k: display_text((record.get("software") or {}).get(k)) for k in ("name", "version")
        },
        "spec": {
            k: display_text((evaluation.get("spec") or {}).get(k), empty="")
            for k in ("id", "version", "sha256", "title")
        },
        "number": display_text(record.get("number")),
        "coa": _link(amends.get("coa")) or {},
        "previous": _link(amends.get("previous")),
        "not_for_release": not_for_release_lines_of(record),
        "disposition_before": before,
        "disposition": after,
        "disposition_class": after.lower(),
        "disposition_text": _DISPOSITION_TEXT.get(after, ""),
        "added": [
            {
                "attribute": display_text(a.get("attribute")),
                "value": display_text(a.get("value")),
                "unit": display_text(a.get("unit"), ""),
                "entered": f"{display_text(a.get('entered_by'))}, {display_text(a.get('entered_at'))}",
                "verified": f"{display_text(a.get('verified_by'))}, {display_text(a.get('verified_at'))}",
                "record_sha256": display_text((a.get("manual_record") or {}).get("sha256")),
            }
            for a in record.get("added") or []
            if isinstance(a, Mapping)
        ],
        "changes": [
            {
                "test": display_text(c.get("test") or c.get("criterion")),
                "criterion": display_text(c.get("criterion")),
                "before": _verdict(c.get("before")),
                "after": _verdict(c.get("after")),
            }
            for c in record.get("changes") or []
            if isinstance(c, Mapping)
        ],
        "groups": group_by_category(rows),
        "inputs": [
            {k: display_text(i.get(k)) for k in ("role", "kind", "path", "sha256")}
            for i in record.get("inputs") or []
        ],
        "record_sha256": record_digests(dict(record)).record_sha256,
        "record_json": Markup(embed_json(record)),
        "signature_area": Markup(AREA_BEGIN + render_area([]).decode("utf-8") + AREA_END),
        "generated_at": stamped.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
