"""The comparability report as one self-contained HTML page: nothing loaded, nothing run.

A summary table of every attribute, then per attribute its figure (inline SVG, checked inert by
the CoA's ``safe_inline_svg``) and its numbers, then the lots only one set holds and the
disposition flips. The whole record is embedded as JSON (``<``, ``>``, ``&`` escaped, so no text
from the inputs can close the element). Every text from the inputs is escaped. The page looks
like the trend report's (its style and fact tables).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from cytorelease.compare.analysis import AttributeComparison, Comparison
from cytorelease.compare.sets import ResultSet
from cytorelease.compare.svg import attribute_svg
from cytorelease.errors import InputError
from cytorelease.report.svg import safe_inline_svg

__all__ = ["render_page", "write_page"]

# the trend report's page style: printable, one section per figure kept on a page; hashes and
# paths break anywhere, so a 64-digit SHA-256 does not push a table past the printable width
_CSS = """
body { font-family: sans-serif; font-size: 11pt; margin: 2em; color: #202124; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; max-width: 100%; }
td, th { border: 1px solid #c0c6cc; padding: 2px 6px; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
svg { max-width: 100%; height: auto; }
section { break-inside: avoid; page-break-inside: avoid; }
@media print { body { margin: 0; } @page { margin: 12mm; } }
"""


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _rows(rows: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)


def _interval(values: list[float] | None) -> str:
    return "-" if values is None else f"{values[0]:.6g} to {values[1]:.6g}"


def _verdict(equivalent: bool | None, reason: str | None) -> str:
    if equivalent is None:
        return f"no verdict: {reason}"
    return "equivalent" if equivalent else "not shown equivalent"


def _summary(comparison: Comparison) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("attribute", "n", "bias (B - A)", "95 % CI", "LoA", "margin", "TOST p", "verdict")
    )
    rows = []
    for c in comparison.attributes:
        d = c.to_dict()
        loa = "-" if d["loa_low"] is None else f"{d['loa_low']:.4g} to {d['loa_high']:.4g}"
        cells = (
            c.attribute,
            str(d["n"]),
            _number(d["bias"]),
            _interval(d["bias_ci"]),
            loa,
            _number(d["margin"]),
            _number(d["tost_p"]),
            _verdict(d["equivalent"], d["equivalence_reason"]),
        )
        rows.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _facts(c: AttributeComparison) -> list[tuple[str, str]]:
    d = c.to_dict()
    facts = [("unit", d["unit"] or "-"), ("test", d["test"]), ("n", str(d["n"]))]
    if c.paired:
        facts += [
            ("SD of differences", _number(d["sd"])),
            (
                "limits of agreement (bias +- 1.96 SD)",
                f"{_number(d['loa_low'])} / {_number(d['loa_high'])}",
            ),
            (
                "95 % CI of the lower / upper limit",
                f"{_interval(d['loa_low_ci'])} / {_interval(d['loa_high_ci'])}",
            ),
            (
                "Deming slope / intercept",
                f"{_number(d['deming_slope'])} / {_number(d['deming_intercept'])}",
            ),
            (
                "95 % CI of the slope / intercept (jackknife)",
                f"{_interval(d['deming_slope_ci'])} / {_interval(d['deming_intercept_ci'])}",
            ),
            ("lots only in A", ", ".join(c.only_in_a) or "-"),
            ("lots only in B", ", ".join(c.only_in_b) or "-"),
        ]
    else:
        facts += [
            ("A: n, mean, SD", f"{d['n_a']}, {_number(d['mean_a'])}, {_number(d['sd_a'])}"),
            ("B: n, mean, SD", f"{d['n_b']}, {_number(d['mean_b'])}, {_number(d['sd_b'])}"),
            ("Welch df", _number(d["df"])),
            ("Kolmogorov-Smirnov D / p", f"{_number(d['ks_statistic'])} / {_number(d['ks_p'])}"),
        ]
    facts += [
        ("bias (B - A), 95 % CI", f"{_number(d['bias'])}, {_interval(d['bias_ci'])}"),
        (f"{100 * (1 - 2 * c.alpha):g} % CI (the TOST interval)", _interval(d["tost_ci"])),
        ("margin", "-" if c.margin is None else f"+- {c.margin:.6g}"),
        (
            "TOST p (lower / upper)",
            f"{_number(d['tost_p'])} ({_number(d['tost_p_lower'])} / {_number(d['tost_p_upper'])})",
        ),
        ("verdict", _verdict(d["equivalent"], d["equivalence_reason"])),
    ]
    if d["notes"]:
        facts.append(("notes", "; ".join(d["notes"])))
    return facts


def _flips(flips: list[dict[str, Any]]) -> str:
    if not flips:
        return "<p>No lot's verdict or disposition differs between A and B.</p>"
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(v))}</td>"
            for v in (f["lot"], f["what"], f["attribute"] or "-", f["a"], f["b"])
        )
        + "</tr>"
        for f in flips
    )
    head = "<tr><th>lot</th><th>what</th><th>attribute</th><th>A</th><th>B</th></tr>"
    return f"<table>{head}{rows}</table>"


def _source(s: ResultSet) -> str:
    picked = "" if s.selection is None else f", selection {s.selection or '(every lot)'}"
    return f"{s.path} ({s.kind}{picked}, sha256 {s.sha256})"


def render_page(comparison: Comparison) -> str:
    """The HTML text of ``comparison``."""
    record = comparison.to_dict()
    embedded = json.dumps(record, sort_keys=True, ensure_ascii=True, allow_nan=False)
    embedded = embedded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    p = comparison.protocol
    protocol = (
        f"{p.ref}, sha256 {p.sha256}, {'locked' if p.locked else 'NOT locked by the library'}"
        if p.id is not None
        else "margins from the command line (no protocol)"
    )
    lots = record["lots"]
    source = [
        ("A", _source(comparison.a)),
        ("B", _source(comparison.b)),
        ("difference", "B - A"),
        ("pairing", "by lot" if comparison.pair_by == "lot" else "none (two independent sets)"),
        ("protocol", protocol),
        ("alpha", f"{p.alpha:g}"),
        ("lots", f"{lots['in_a']} in A, {lots['in_b']} in B, {lots['in_both']} in both"),
        ("lots only in A", ", ".join(lots["only_in_a"]) or "-"),
        ("lots only in B", ", ".join(lots["only_in_b"]) or "-"),
    ]
    sections = "".join(
        f"<section><h2>{i}. {escape(c.attribute)}</h2>"
        f"{safe_inline_svg(attribute_svg(c), title=f'figure {i}')}"
        f"<table>{_rows(_facts(c))}</table></section>"
        for i, c in enumerate(comparison.attributes, start=1)
    )
    text_only = "".join(
        f"<li>{escape(n['attribute'])}: {escape(n['reason'])}</li>" for n in comparison.not_compared
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Comparability report</title><style>{_CSS}</style></head><body>"
        f"<h1>Comparability report</h1><table>{_rows(source)}</table>"
        f"<h2>Summary</h2>{_summary(comparison)}{sections}"
        f"<h2>Not compared as numbers</h2>{f'<ul>{text_only}</ul>' if text_only else '<p>None.</p>'}"
        f"<h2>Verdict and disposition flips</h2>{_flips(comparison.flips)}"
        f'<script type="application/json" id="compare-record">{embedded}</script>'
        "</body></html>\n"
    )


def write_page(comparison: Comparison, out: Path) -> Path:
    """Write the page to ``out``, never over either input."""
    for source in (comparison.a.path, comparison.b.path):
        if out.exists() and out.resolve() == source.resolve():
            raise InputError("is one of the compared inputs; choose another --out", path=out)
    out.write_text(render_page(comparison), encoding="utf-8")
    return out
