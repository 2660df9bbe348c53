"""Rendering the Certificate of Analysis: one self-contained, print-ready HTML file.

The template (``reports/coa.html.j2`` by default, found through the resource resolver so a site
can supply its own) receives a *view* built here from the canonical result record: grouped and
formatted criteria, pending tests, provenance, sanitised figures, the record as embeddable JSON
and the (empty) signature area. Autoescaping is on: every value from the record is text.

The page is a function of the record alone: the record's ``rendering`` block names the template,
its content hash and the rendering time (the only moment the page shows outside the record's own
values), so ``verify`` and ``sign`` can render it again and compare every byte.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from cytorelease.errors import InputError, TemplateError
from cytorelease.provenance import canonical_json
from cytorelease.report.area import AREA_BEGIN, AREA_END, render_area, split_report
from cytorelease.report.compensation_view import compensation_view
from cytorelease.report.record import (
    ADDENDUM_SCHEMA,
    RECORD_SCHEMA,
    embed_json,
    extract_record,
    is_addendum,
    is_impact,
    record_digests,
)
from cytorelease.report.svg import safe_inline_svg
from cytorelease.report.template import RENDERING_KEY, Rendering, rendering_of, template_sha256
from cytorelease.report.trend_section import out_of_trend_view

__all__ = ["build_view", "render_coa", "stamp_rendering", "write_coa"]

DEFAULT_TEMPLATE = "coa.html.j2"
_CATEGORY_ORDER = ("identity", "purity", "strength", "potency", "safety")
_VERDICTS = {
    "PASS": ("Pass", "pass"),
    "FAIL": ("Fail", "fail"),
    "PENDING": ("Pending", "pending"),
    "MISSING": ("No result", "missing"),
    "REPORTED": ("Reported", "reported"),
    "REPORT": ("Reported", "reported"),
    "REPORT_ONLY": ("Reported", "reported"),
    "UNVERIFIED": ("Not verified", "unverified"),
}
_DISPOSITION_TEXT = {
    "PASS": "All release tests available at release meet the specification.",
    "FAIL": "One or more release tests do not meet the specification. The lot may not be released.",
    "INCOMPLETE": "One or more release tests have no result or rest on a manual entry no second "
    "person has verified. The lot may not be released until every release test has a verified "
    "result.",
}


def page_environment(template_dir: Path) -> Any:
    """The jinja2 environment of cytorelease's HTML pages (autoescaped, strict undefined)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def display_text(value: Any, empty: str = "—") -> str:
    if value is None or value == "":
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def format_limit(limit: Any) -> str:
    """``{"min": "80.0"}`` -> ``≥ 80.0``; strings are shown as written."""
    if not isinstance(limit, Mapping):
        return display_text(limit)
    if limit.get("equals") is not None:
        return f"= {limit['equals']}"
    if limit.get("one_of"):
        return "one of: " + ", ".join(str(v) for v in limit["one_of"])
    low, high = limit.get("min"), limit.get("max")
    low_open = limit.get("min_inclusive") is False or bool(limit.get("min_exclusive"))
    high_open = limit.get("max_inclusive") is False or bool(limit.get("max_exclusive"))
    if low is not None and high is not None:
        left = ">" if low_open else "≥"
        right = "<" if high_open else "≤"
        return f"{left} {low} and {right} {high}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low}"
    if high is not None:
        return f"{'<' if high_open else '≤'} {high}"
    return "report only"


def format_method(method: Any) -> str:
    if isinstance(method, Mapping):
        name = method.get("id") or method.get("kind") or "—"
        return f"{name} v{method['version']}" if method.get("version") else str(name)
    return display_text(method)


def criterion_view(criterion: Mapping[str, Any]) -> dict[str, Any]:
    verdict = str(criterion.get("verdict") or "MISSING").upper()
    label, css = _VERDICTS.get(verdict, (verdict.title(), "other"))
    timing = str(criterion.get("timing") or "release")
    reported = criterion.get("reported_display") or criterion.get("reported")
    if reported is None or reported == "":
        reported_text = {"pending": "pending", "missing": "no result"}.get(css, "—")
    else:
        reported_text = str(reported)
    limit = format_limit(criterion.get("limit"))
    unit = display_text(criterion.get("unit"), empty="")
    return {
        "id": display_text(criterion.get("id")),
        "test": display_text(criterion.get("test") or criterion.get("id")),
        "category": str(criterion.get("category") or "other").lower(),
        "attribute": display_text(criterion.get("attribute")),
        "method": format_method(criterion.get("method")),
        "limit": limit,
        # a spec's printed limit ("<= 5.0 EU/mL") already names its unit
        "limit_unit": "" if unit and limit.endswith(unit) else unit,
        "reported": reported_text,
        "unit": unit,
        "verdict": verdict,
        "verdict_label": label,
        "verdict_class": css,
        "timing": timing,
        "post_release": timing.replace("_", "-").lower() == "post-release",
    }


def group_by_category(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    present = [c for c in _CATEGORY_ORDER if any(r["category"] == c for r in rows)]
    present += sorted({r["category"] for r in rows} - set(_CATEGORY_ORDER))
    return [
        {"name": c.capitalize(), "rows": [r for r in rows if r["category"] == c]} for c in present
    ]


def _alert_text(alert: Any) -> str:
    if isinstance(alert, Mapping):
        where = alert.get("criterion") or alert.get("attribute") or alert.get("source")
        text = alert.get("message") or alert.get("text") or embed_json(alert)
        return f"{where}: {text}" if where else str(text)
    return str(alert)


def not_for_release_lines_of(record: Mapping[str, Any]) -> list[str]:
    from cytorelease.lot.definitions import not_for_release_lines

    definitions = record.get("definitions") or []
    return [display_text(line) for line in not_for_release_lines(d for d in definitions if d)]


def _library_text(record: Mapping[str, Any]) -> str:
    library = record.get("library")
    if not isinstance(library, Mapping):
        return ""
    return f"{display_text(library.get('path'))} (site, LOCK sha256 {display_text(library.get('lock_sha256'))})"


def _checkpoint_text(record: Mapping[str, Any]) -> str:
    """The audit checkpoint in force when the CoA was rendered: the trail up to that row was
    signed outside the database, so a rewrite of it contradicts this page."""
    checkpoint = record.get("audit_checkpoint")
    if not isinstance(checkpoint, Mapping):
        return ""
    trusted = checkpoint.get("trusted_time")
    when = (
        f"trusted time {display_text(trusted)}"
        if trusted
        else f"{display_text(checkpoint.get('utc_time'))}"
    )
    return (
        f"checkpoint at row {display_text(checkpoint.get('sequence'))} "
        f"(row hash {display_text(checkpoint.get('row_hash'))[:16]}…, signed {when}, "
        f"file {display_text(checkpoint.get('file'))})"
    )


def _require(record: Any) -> None:
    if is_impact(record):
        from cytorelease.report.impact_page import require_impact

        lacking = require_impact(record)
        if lacking:
            raise InputError(lacking, path="record")
    elif not isinstance(record, Mapping) or record.get("schema") not in (
        RECORD_SCHEMA,
        ADDENDUM_SCHEMA,
    ):
        raise InputError(f"the result record is not a {RECORD_SCHEMA} document", path="record")
    for key in () if is_impact(record) else ("lot", "evaluation"):
        if not isinstance(record.get(key), Mapping):
            raise InputError(f"the result record has no '{key}' object", path="record")
    if not is_impact(record) and not isinstance(record["evaluation"].get("criteria"), list):
        raise InputError("the result record has no evaluation.criteria list", path="record")
    try:
        canonical_json(record)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"the result record is not plain JSON ({exc})",
            path="record",
            hint="use numbers, strings, lists and objects only; no NaN or infinity",
        ) from None


def _provenance_view(record: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Inputs, method definitions and measurements, as the provenance section lists them."""
    return {
        "inputs": [
            {k: display_text(i.get(k)) for k in ("role", "kind", "path", "sha256")}
            for i in record.get("inputs") or []
        ],
        "methods": [
            {
                "kind": display_text(m.get("kind")),
                "name": format_method(m),
                "sha256": display_text(m.get("sha256")),
            }
            for m in record.get("methods") or []
        ],
        "measurements": [
            {
                "attribute": display_text(m.get("attribute")),
                "value": display_text(m.get("value")),
                "unit": display_text(m.get("unit"), ""),
                "method": format_method(m.get("method")),
                "inputs": len(m.get("inputs") or []),
            }
            for m in record.get("measurements") or []
        ],
        "manual_entries": _manual_view(record),
    }


def _manual_view(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """Who entered each manual result and who verified it (double entry), from the record."""
    rows = []
    for m in record.get("measurements") or []:
        method = m.get("method") if isinstance(m, Mapping) else None
        if not isinstance(method, Mapping) or method.get("kind") != "manual":
            continue
        details = m.get("details") if isinstance(m.get("details"), Mapping) else {}
        verified = details.get("verified_by")
        rows.append(
            {
                "attribute": display_text(m.get("attribute")),
                "value": display_text(m.get("value")),
                "unit": display_text(m.get("unit"), ""),
                "entered": f"{display_text(details.get('entered_by'))}, {display_text(details.get('entered_at'))}",
                "verified": f"{verified}, {display_text(details.get('verified_at'))}"
                if verified and details.get("verification") == "verified"
                else "not verified: "
                + display_text(details.get("verification_note"), "no second entry"),
            }
        )
    return rows


def build_view(record: Mapping[str, Any], *, generated_at: datetime | None = None) -> dict:
    """Everything the CoA template shows, derived from the record alone."""
    _require(record)
    evaluation = record["evaluation"]
    rows = [criterion_view(c) for c in evaluation["criteria"]]
    disposition = str(evaluation.get("disposition") or "INCOMPLETE").upper()
    counts = {css: sum(r["verdict_class"] == css for r in rows) for _, css in _VERDICTS.values()}
    figures = [
        {
            "title": display_text(f.get("title"), "Figure"),
            "svg": safe_inline_svg(str(f.get("svg", "")), title=str(f.get("title", "figure"))),
        }
        for f in record.get("figures") or []
    ]
    stamped = rendering_of(record)
    if stamped is not None:
        moment = stamped.generated_at
    else:
        moment = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "lot": {
            **{
                k: display_text((record["lot"]).get(k))
                for k in ("id", "product", "chain_of_identity", "manufacturing_date")
            },
            # where the lot was made (lot.yaml's site); a record without one shows no row
            "site": display_text(record["lot"].get("site"), empty=""),
        },
        "software": {
            k: display_text((record.get("software") or {}).get(k)) for k in ("name", "version")
        },
        "spec": {
            k: display_text((evaluation.get("spec") or {}).get(k), empty="")
            for k in ("id", "version", "sha256", "title")
        },
        # unlocked definitions (cytorelease.lot.definitions): the header says NOT FOR RELEASE
        "not_for_release": not_for_release_lines_of(record),
        "library": _library_text(record),
        "audit_checkpoint": _checkpoint_text(record),
        # the spillover matrix each flow analysis used (report/compensation_view.py)
        "compensation": compensation_view(record),
        # the out-of-trend review section (report/trend_section.py); None: nothing is shown
        "out_of_trend": out_of_trend_view(record),
        "disposition": disposition,
        "disposition_class": disposition.lower(),
        "disposition_text": _DISPOSITION_TEXT.get(disposition, ""),
        "counts": counts,
        "total": len(rows),
        "alerts": [_alert_text(a) for a in evaluation.get("alerts") or []],
        "analyses": [
            {
                "analysis": display_text(a.get("analysis")),
                "status": display_text(a.get("status")),
                "reason": display_text(a.get("reason"), empty=""),
                "flags": [display_text(f) for f in a.get("flags") or []],
            }
            for a in record.get("analyses") or []
        ],
        "groups": group_by_category(rows),
        "pending": [
            r
            for r in rows
            if r["verdict_class"] == "pending"
            or (r["post_release"] and r["verdict_class"] not in {"pass", "fail"})
        ],
        "missing": [r for r in rows if r["verdict_class"] == "missing"],
        **_provenance_view(record),
        "figures": figures,
        "record_sha256": record_digests(dict(record)).record_sha256,
        "record_json": Markup(embed_json(record)),
        "signature_area": Markup(AREA_BEGIN + render_area([]).decode("utf-8") + AREA_END),
        "generated_at": moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def stamp_rendering(
    record: Mapping[str, Any],
    *,
    template: str = DEFAULT_TEMPLATE,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """A copy of ``record`` naming the CoA template, its content hash and the rendering time.

    Release stamps the record before it writes result.json, so the stored record and the one
    embedded in the CoA are the same document.
    """
    from cytorelease._resources import resource_dir

    if RENDERING_KEY in record:
        raise InputError(f"the record already has a '{RENDERING_KEY}' block", path="record")
    env = page_environment(resource_dir("reports"))
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    block = Rendering(template, template_sha256(env, template), moment)
    return {**copy.deepcopy(dict(record)), RENDERING_KEY: block.to_dict()}


def _stamped(
    record: Mapping[str, Any], template: str | None, generated_at: datetime | None
) -> tuple[Mapping[str, Any], Rendering]:
    stamped = rendering_of(record)
    if stamped is None:
        record = stamp_rendering(
            record, template=template or DEFAULT_TEMPLATE, generated_at=generated_at
        )
        stamped = rendering_of(record)
        assert stamped is not None
        return record, stamped
    if template is not None and template != stamped.template:
        raise InputError(
            f"the record names the CoA template {stamped.template!r}, not {template!r}",
            path="record",
        )
    if (
        generated_at is not None
        and generated_at.astimezone(UTC).replace(microsecond=0) != stamped.generated_at
    ):
        raise InputError(
            f"the record was stamped for rendering at {stamped.to_dict()['generated_at']}, "
            "not at the time given",
            path="record",
        )
    return record, stamped


def render_coa(
    record: Mapping[str, Any],
    *,
    template: str | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The draft (unsigned) CoA for ``record`` as HTML text (or the addendum, for an addendum
    record: the same page rules, its own view and template).

    A record without a ``rendering`` block is stamped first (``template``, default
    ``coa.html.j2``, and ``generated_at``, default now), and the stamped record is the one
    embedded; a stamped record is rendered with the template it names, which must still have
    the content hash it records.
    """
    from jinja2 import TemplateError as JinjaTemplateError
    from jinja2 import TemplateNotFound

    from cytorelease._resources import resource_dir

    _require(record)
    record, stamped = _stamped(record, template, generated_at)
    if is_addendum(record):
        from cytorelease.report.addendum_page import build_addendum_view

        view = build_addendum_view(record)
    elif is_impact(record):
        from cytorelease.report.impact_page import build_impact_view

        view = build_impact_view(record)
    else:
        view = build_view(record)
    template_dir = resource_dir("reports")
    env = page_environment(template_dir)
    where = template_dir / stamped.template
    current = template_sha256(env, stamped.template)
    if current != stamped.template_sha256:
        raise TemplateError(
            f"the CoA template has changed since the record was stamped (recorded sha256 "
            f"{stamped.template_sha256[:12]}…, now {current[:12]}…)",
            path=where,
        )
    try:
        html = env.get_template(stamped.template).render(**view)
    except TemplateNotFound:
        raise TemplateError("no such CoA template", path=where) from None
    except JinjaTemplateError as exc:
        raise TemplateError(f"the CoA template failed: {exc}", path=where) from None
    data = html.encode("utf-8")
    try:
        split_report(data)
        extract_record(data)
    except (ValueError, InputError) as exc:
        raise TemplateError(
            f"the CoA template must place {{{{ signature_area }}}} and {{{{ record_json }}}} "
            f"exactly once: {exc}",
            path=where,
        ) from None
    return html


def write_coa(
    record: Mapping[str, Any],
    path: str | Path,
    *,
    template: str | None = None,
    generated_at: datetime | None = None,
) -> Path:
    """Render and write the CoA as UTF-8 bytes exactly as rendered (signatures hash them)."""
    out = Path(path)
    html = render_coa(record, template=template, generated_at=generated_at)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(html.encode("utf-8"))
    return out
