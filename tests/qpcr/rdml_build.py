"""Build an RDML file holding two runs the way the issue's real file is built.

The real file (not ours to ship) holds two experiments: a QuantStudio run whose
``react/data`` elements carry the instrument's ``<cq>``, and a LightCycler run whose
``react/data`` elements carry only ``<adp>`` amplification points (no Cq). Samples and
targets are declared once at the top, as RDML 1.3/1.4 writes them; wells are react ids
placed on each run's ``pcrFormat`` (8 x 12, rows labelled A-H).

The plate is a duplex VCN plate (CAR and RPP30 in each react): standards 1e2-1e6 copies in
triplicate, the product ``dp`` in triplicate (CAR 2.5e4, RPP30 2e4 copies: VCN 2.5), two NTCs.
Cq = 38 - log2(copies) (100 % efficiency); a curve is a logistic with doubling per cycle whose
10 %-of-plateau point lies at that Cq, so the Cqs computed from it come out near the same.
"""

from __future__ import annotations

import io
import math
import zipfile
from xml.sax.saxutils import quoteattr

CYCLES = 45
STANDARDS = {f"STD-1e{k}": 10.0**k for k in range(2, 7)}
DP_COPIES = {"CAR": 2.5e4, "RPP30": 2.0e4}


def _cq(copies: float) -> float:
    return 38.0 - math.log2(copies)


def _curve(cq: float | None) -> list[float]:
    """Fluorescence per cycle: baseline + logistic reaching 10 % of its plateau at ``cq``."""
    out = []
    for cycle in range(1, CYCLES + 1):
        rise = 0.0 if cq is None else 10.0 / (1.0 + 9.0 * 2.0 ** (cq - cycle))
        out.append(0.5 + 0.002 * cycle + rise)
    return out


def plate(dp: str) -> list[tuple[str, str, dict[str, float | None]]]:
    """(sample id, RDML type, target -> Cq or None) per react, in react order."""
    reacts: list[tuple[str, str, dict[str, float | None]]] = []
    for name, copies in STANDARDS.items():
        for rep in range(3):
            jitter = (rep - 1) * 0.04
            reacts.append((name, "std", {t: _cq(copies) + jitter for t in ("CAR", "RPP30")}))
    for rep in range(3):
        jitter = (rep - 1) * 0.05
        reacts.append((dp, "unkn", {t: _cq(c) + jitter for t, c in DP_COPIES.items()}))
    reacts += [("NTC", "ntc", {"CAR": None, "RPP30": None})] * 2
    return reacts


def _run(run_id: str, instrument: str, reacts: list, *, with_cq: bool) -> str:
    parts = [
        f"<run id={quoteattr(run_id)}><instrument>{instrument}</instrument>",
        "<pcrFormat><rows>8</rows><columns>12</columns><rowLabel>ABC</rowLabel>"
        "<columnLabel>123</columnLabel></pcrFormat>",
    ]
    for index, (sample, _, cqs) in enumerate(reacts, start=1):
        parts.append(f'<react id="{index}"><sample id={quoteattr(sample)}/>')
        for target, cq in cqs.items():
            parts.append(f"<data><tar id={quoteattr(target)}/>")
            if with_cq:
                parts.append(f"<cq>{-1.0 if cq is None else round(cq, 3)}</cq>")
            else:
                for cycle, fluor in enumerate(_curve(cq), start=1):
                    parts.append(f"<adp><cyc>{cycle}</cyc><fluor>{fluor:.5f}</fluor></adp>")
            parts.append("</data>")
        parts.append("</react>")
    parts.append("</run>")
    return "".join(parts)


def two_run_rdml(
    dp: str = "DP", *, qs_run: str = "QS7-2026-11-30", lc_run: str = "LC480-2026-11-30"
) -> bytes:
    """The zipped RDML (member rdml_data.xml) with the QuantStudio and LightCycler runs."""
    reacts = plate(dp)
    samples = "".join(
        f"<sample id={quoteattr(name)}><type>{kind}</type>"
        + (
            f"<quantity><value>{STANDARDS[name]:g}</value><unit>cop</unit></quantity>"
            if kind == "std"
            else ""
        )
        + "</sample>"
        for name, kind in dict.fromkeys((name, kind) for name, kind, _ in reacts)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rdml version="1.3" xmlns="http://www.rdml.org">'
        f"{samples}"
        '<target id="CAR"><type>toi</type></target><target id="RPP30"><type>ref</type></target>'
        '<experiment id="QuantStudio 7 Pro">'
        + _run(qs_run, "QuantStudio 7 Pro", reacts, with_cq=True)
        + '</experiment><experiment id="LightCycler 480">'
        + _run(lc_run, "LightCycler 480", reacts, with_cq=False)
        + "</experiment></rdml>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rdml_data.xml", xml)
    return buffer.getvalue()
