"""Out of trend at release: a new lot's values against the product's frozen baseline.

A release made with a data folder (a person's ``release --data-dir``, the worker's) calls
:func:`out_of_trend` with its record before the CoA is rendered; the section it returns is the
record's ``out_of_trend`` block, so the signed content carries it. The baseline is the one in
force for the lot's site (:func:`~cytorelease.trend.frozen.baseline_in_force`: the site's own,
frozen with ``trend --by-site --freeze``, when the lot names a site that has one; else the
product's pooled baseline), and the block names it: product, scope (``site`` or ``pooled``),
site, version and SHA-256. Per attribute of that baseline: the series is the previous lots in
the lots dataset (those of the same site for a site's baseline; each lot's latest release,
ordered by date then lot id, those ordered before this lot; a release of the same lot is not a
previous lot), then this lot's value; the Nelson rules 1-8 are evaluated on it with the frozen
centre and sigma, and every rule whose violation includes this lot's point is broken by the new
value. Such an attribute is a review flag ``OUT_OF_TREND``: out of trend is not out of
specification, so the verdicts and the disposition are never changed. The block holds the last
30 points of each series (this lot's last) for the CoA's sparkline.

Without a baseline the block says so (``baseline`` null), so an auditor can tell a lot checked
against none from a lot not checked; a baseline that cannot be vouched for is refused, and so is
a data folder whose trail records freezes whose files are gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cytorelease.trend.frozen import baseline_in_force
from cytorelease.trend.imr import E2
from cytorelease.trend.nelson import RULES, nelson_violations

__all__ = ["FLAG", "SPARKLINE_LOTS", "out_of_trend"]

FLAG = "OUT_OF_TREND"
SPARKLINE_LOTS = 30
_METHOD = (
    "Nelson rules 1-8 against the frozen limits (sigma = 2.66 MR-bar / 3), on the product's "
    "previous lots in the lots dataset (the site's, against a site's baseline; each lot's "
    "latest release, by date, then lot id) and "
    "this lot's value; a rule is broken when its violation includes this lot"
)


def _new_values(record: Mapping[str, Any]) -> tuple[str, dict[str, float | None]]:
    """This lot's date and numeric value per attribute, as the lots dataset would store them."""
    from cytorelease.records.lot_results import result_rows

    rows = result_rows(record, record_sha256="-", origin="release", checked_against="-")
    day = str(rows[0].fields["date"]) if rows else str(record["lot"].get("manufacturing_date"))
    return day, {str(r.fields["attribute"]): r.fields["value_number"] for r in rows}


def _attribute(
    frozen: Mapping[str, Any],
    lot: str,
    day: str,
    value: float | None,
    history: list[tuple[str, str, float | None]],
) -> dict[str, Any]:
    center, mr_bar = float(frozen["center"]), float(frozen["mr_bar"])
    entry: dict[str, Any] = {
        "attribute": frozen["attribute"], "value": value, "center": center,
        "ucl": frozen["ucl"], "lcl": frozen["lcl"],
    }  # fmt: skip
    previous = sorted(
        (d, name, v) for d, name, v in history if name != lot and (d, name) < (day, lot)
    )
    skipped = [name for _, name, v in previous if v is None]
    series = [(name, float(v)) for _, name, v in previous if v is not None]
    entry["previous_lots"] = len(series)
    entry["skipped_lots"] = skipped  # qualitative values: not points of the chart
    if value is None:
        return {**entry, "status": "no_value", "rules": [], "sparkline": []}
    series.append((lot, value))
    lots = tuple(name for name, _ in series)
    violations = nelson_violations(
        tuple(v for _, v in series), lots, center=center, sigma=E2 * mr_bar / 3.0, baseline_n=0
    )
    broken = [
        {"rule": v.rule, "description": RULES[v.rule], "lots": list(v.lots)}
        for v in violations
        if lot in v.lots
    ]
    return {
        **entry,
        "status": "out_of_trend" if broken else "in_trend",
        "rules": broken,
        "sparkline": [{"lot": name, "value": v} for name, v in series[-SPARKLINE_LOTS:]],
    }


def out_of_trend(data_dir: str | Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's ``out_of_trend`` block for a release into ``data_dir`` (see the module)."""
    from cytorelease.records.lot_results import lot_table_tuples, record_problem
    from cytorelease.records.store import open_data

    product, lot = str(record["lot"]["product"]), str(record["lot"]["id"])
    site = record["lot"].get("site")
    _, store = open_data(data_dir)
    with store:
        # the trail is read even without a baselines folder: a removed one is refused
        baseline = baseline_in_force(data_dir, product, None if site is None else str(site), store)
        if baseline is None:
            return _none(product, site)
        problem = record_problem(record)
        if problem is not None:  # the pipeline's own record: a bug, never a silent skip
            raise ValueError(f"the release record cannot be trended: {problem}")
        attributes = baseline.attributes()
        rows = lot_table_tuples(
            store, ("lot", "date", "attribute", "value_number", "site"), product=product,
            attributes=[a["attribute"] for a in attributes],
        )  # fmt: skip
    history: dict[str, list[tuple[str, str, float | None]]] = {}
    for name, day, attribute, number, row_site in rows:
        if baseline.site is None or row_site == baseline.site:  # a site's chart is its lots
            history.setdefault(str(attribute), []).append((str(day), str(name), number))
    day, values = _new_values(record)
    checked = [
        _attribute(a, lot, day, values.get(a["attribute"]), history.get(a["attribute"], []))
        for a in attributes
    ]
    return {
        "baseline": baseline.identity(),
        "method": _METHOD,
        "attributes": checked,
        "flags": [
            {"flag": FLAG, "attribute": a["attribute"], "rules": [r["rule"] for r in a["rules"]]}
            for a in checked
            if a["status"] == "out_of_trend"
        ],
    }


def _none(product: str, site: Any) -> dict[str, Any]:
    where = "" if site is None else f" (neither for site {site!r} nor pooled)"
    return {
        "baseline": None,
        "note": f"the data folder holds no frozen trend baseline for product {product!r}{where}",
        "attributes": [],
        "flags": [],
    }
