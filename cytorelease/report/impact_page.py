"""The page of an impact assessment: a proposed change, and what it would have said of every
archived lot, derived from the impact record alone (as a CoA's page is from its record).

The record is built and checked by :mod:`cytorelease.reanalyse.impact`; this module only shows
it, so ``sign`` and ``verify`` can render it again and compare every byte, as for a CoA.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from cytorelease.report.area import AREA_BEGIN, AREA_END, render_area
from cytorelease.report.record import embed_json, record_digests
from cytorelease.report.render import display_text
from cytorelease.report.template import rendering_of

__all__ = ["IMPACT_TEMPLATE", "build_impact_view", "require_impact"]

IMPACT_TEMPLATE = "impact.html.j2"

_PARTS = {"template": "Gating template", "assay": "Assay", "spec": "Specification"}


def require_impact(record: Mapping[str, Any]) -> str | None:
    """What the page needs of the record and it lacks (None: it can be shown)."""
    if not isinstance(record.get("change"), Mapping):
        return "the impact record has no 'change' object"
    for key in ("outcomes", "failed", "flips"):
        if not isinstance(record.get(key), list):
            return f"the impact record has no '{key}' list"
    for key in ("changes", "counts", "selection"):
        if not isinstance(record.get(key), Mapping):
            return f"the impact record has no '{key}' object"
    return None


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return display_text(value)
    return f"{value:.6g}"


def _interval(values: Any) -> str:
    if not isinstance(values, list) or len(values) != 2:
        return "—"
    return f"{_number(values[0])} to {_number(values[1])}"


def _part(name: str, part: Any) -> dict[str, str]:
    part = part if isinstance(part, Mapping) else {}
    locked = part.get("locked") is True
    return {
        "part": _PARTS.get(name, name),
        **{k: display_text(part.get(k)) for k in ("kind", "id", "version", "sha256", "source")},
        "state": "locked in the library" if locked else "draft (not locked in the library)",
        "state_class": "pass" if locked else "unverified",
    }


def _attribute(name: str, found: Any) -> dict[str, str]:
    found = found if isinstance(found, Mapping) else {}
    reasons = [str(r) for r in found.get("reasons") or []]
    return {
        "attribute": display_text(name),
        "n": display_text(found.get("n")),
        "mean": _number(found.get("mean")),
        "max": _number(found.get("max")),
        "bias": _number(found.get("bias")),
        "bias_ci": _interval(found.get("bias_ci")),
        "loa": _interval([found.get("loa_low"), found.get("loa_high")])
        if found.get("loa_low") is not None
        else "—",
        "loa_ci": f"{_interval(found.get('loa_low_ci'))}; {_interval(found.get('loa_high_ci'))}"
        if found.get("loa_low_ci") is not None
        else "—",
        "note": "; ".join(reasons),
    }


def _flip(flip: Any) -> dict[str, Any]:
    flip = flip if isinstance(flip, Mapping) else {}
    return {
        "lot": display_text(flip.get("lot")),
        "from": display_text(flip.get("from")),
        "to": display_text(flip.get("to")),
        "to_class": str(flip.get("to") or "").lower(),
        "verdicts": [
            {
                "criterion": display_text(v.get("criterion")),
                "before": display_text(v.get("before")),
                "after": display_text(v.get("after")),
                "reported": display_text(v.get("reported"), empty=""),
            }
            for v in flip.get("verdicts") or []
            if isinstance(v, Mapping)
        ],
    }


def build_impact_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the impact template shows."""
    stamped = rendering_of(record)
    assert stamped is not None  # render_coa stamps first
    change = record["change"]
    parts = [_part(name, change[name]) for name in sorted(change)]
    counts = record["counts"]
    selection = record["selection"]
    lots = selection.get("lots")
    return {
        "software": {
            k: display_text((record.get("software") or {}).get(k)) for k in ("name", "version")
        },
        "title": ", ".join(f"{p['id']} {p['version']}" for p in parts),
        "parts": parts,
        "drafts": sum(1 for p in parts if p["state_class"] != "pass"),
        "change_sha256": display_text(record.get("change_sha256")),
        "created_at": display_text(record.get("created_at")),
        "selection": {
            "product": display_text(selection.get("product"), empty="every product"),
            "since": display_text(selection.get("since"), empty="any date"),
            "lots": ", ".join(str(lot) for lot in lots) if lots else "every released lot",
        },
        "counts": {
            k: display_text(counts.get(k)) for k in ("lots", "reanalysed", "skipped", "failed")
        },
        "assessed": len(record["outcomes"]),
        "current_manifests": sum(
            1
            for o in record["outcomes"]
            if isinstance(o, Mapping) and o.get("manifest") == "current"
        ),
        "attributes": [_attribute(name, found) for name, found in record["changes"].items()],
        "flips": [_flip(f) for f in record["flips"]],
        "failed": [
            {"lot": display_text(f.get("lot")), "reason": display_text(f.get("reason"))}
            for f in record["failed"]
            if isinstance(f, Mapping)
        ],
        "record_sha256": record_digests(dict(record)).record_sha256,
        "record_json": Markup(embed_json(record)),
        "signature_area": Markup(AREA_BEGIN + render_area([]).decode("utf-8") + AREA_END),
        "generated_at": stamped.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
