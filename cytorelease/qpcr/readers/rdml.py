"""RDML 1.1-1.4: a zip holding ``rdml_data.xml`` (or the bare XML), read with a hardened parser.

The XML is parsed by defusedxml with DTDs, entities and external references forbidden, after
the zip member passed the size and ratio limits of :mod:`._zip`. Samples carry their type
(``std``, ``unkn``, ``ntc``, ``nac``, ``pos``, ``neg``...) and, for standards, a quantity;
each ``run/react/data`` gives a well (the react id placed on the run's ``pcrFormat``), a target
and a Cq. When a file carries amplification curves but no Cq, the Cq is determined from the
curves (:mod:`._amplification`) and the table says so in ``cq_source`` (``computed``) and
``call`` ("Cq from curve"). Each row names its ``run`` (the run id; ``experiment/run`` when two
experiments reuse a run id), since one file may hold runs of different instruments.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._text import parse_float, strip_bom
from cytorelease.qpcr.readers._zip import check_archive, read_member
from cytorelease.qpcr.table import CqSource, ExportFormat, QpcrExport, Task, make_table

FORMAT = ExportFormat.RDML
MEMBER = "rdml_data.xml"
CQ_FROM_CURVE = "Cq from curve"
_SUPPORTED = ("1.1", "1.2", "1.3", "1.4")
_TASKS = {
    "std": Task.STANDARD,
    "unkn": Task.UNKNOWN,
    "ntc": Task.NTC,
    "nac": Task.NEGATIVE_CONTROL,
    "ntp": Task.NEGATIVE_CONTROL,
    "nrt": Task.NEGATIVE_CONTROL,
    "neg": Task.NEGATIVE_CONTROL,
    "pos": Task.POSITIVE_CONTROL,
    "opt": Task.POSITIVE_CONTROL,
}


def sniff(head: bytes) -> bool:
    if head.startswith(b"PK\x03\x04"):
        return MEMBER.encode() in head[:512]
    text = strip_bom(head)[:4096].lstrip()
    return text.startswith(b"<") and b"<rdml" in text


def _xml(data: bytes, path: Path) -> bytes:
    if data.startswith(b"PK\x03\x04"):
        archive = check_archive(data, path)
        return read_member(archive, MEMBER, path)
    return data


def _parse(xml: bytes, path: Path) -> Any:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError(
            f"RDML XML declares a DTD or entities ({type(exc).__name__}); refused "
            "(external-entity and entity-expansion protection)",
            path=path,
        ) from None
    except ParseError as exc:
        raise InputError(
            f"RDML XML is not well-formed ({exc}; truncated copy?)", path=path
        ) from None
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise InputError(f"RDML XML is not well-formed ({exc})", path=path) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Any, name: str) -> Any:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: Any, name: str) -> list[Any]:
    return [c for c in element if _local(c.tag) == name]


def _text(element: Any, name: str) -> str:
    child = _child(element, name)
    return (child.text or "").strip() if child is not None else ""


def _samples(root: Any) -> dict[str, tuple[Task, float]]:
    out: dict[str, tuple[Task, float]] = {}
    for sample in _children(root, "sample"):
        task = _TASKS.get(_text(sample, "type"), Task.UNKNOWN)
        quantity = math.nan
        q = _child(sample, "quantity")
        # Only copies ("cop") are copies; ng, fold or dilution quantities stay out.
        if q is not None and _text(q, "unit") in ("cop", ""):
            try:
                quantity = parse_float(_text(q, "value"))
            except ValueError:
                quantity = math.nan
        out[sample.get("id", "")] = (task, quantity)
    return out


_MAX_LETTER_ROWS = 52  # rows A-Z then AA-AZ: 32 rows make the largest (1536-well) plate


def _format_number(run: Any, fmt: Any, name: str, path: Path) -> int:
    text = _text(fmt, name) if fmt is not None else ""
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value <= 10_000:
        raise InputError(
            f"run {run.get('id', '')!r}: pcrFormat {name} {text[:40]!r} is not a plate size",
            path=path,
        )
    return value


def _well_namer(run: Any, path: Path) -> Any:
    """React id (1-based, row by row) to a well name on the run's pcrFormat."""
    fmt = _child(run, "pcrFormat")
    columns = _format_number(run, fmt, "columns", path)
    rows = _format_number(run, fmt, "rows", path)
    letters = fmt is not None and _text(fmt, "rowLabel") == "ABC"
    max_rows = min(rows or _MAX_LETTER_ROWS, _MAX_LETTER_ROWS) if letters else rows

    def name(react_id: str) -> str:
        if columns <= 0 or not (react_id.isascii() and react_id.isdigit()):
            return react_id
        row, col = divmod(int(react_id) - 1, columns)
        if row < 0 or (max_rows and row >= max_rows):
            raise InputError(
                f"run {run.get('id', '')!r}: react id {react_id[:20]} is not a well of its "
                f"{max_rows or '?'} x {columns} pcrFormat",
                path=path,
            )
        row_label = (
            (chr(ord("A") + row) if row < 26 else f"A{chr(ord('A') + row - 26)}")
            if letters
            else str(row + 1)
        )
        return f"{row_label}{col + 1}"

    return name


def _curve(datum: Any, where: str, path: Path) -> list[tuple[float, float]]:
    """The (cycle, fluorescence) points of one reaction's amplification data."""
    points = []
    for number, point in enumerate(_children(datum, "adp"), start=1):
        try:
            cycle, fluor = parse_float(_text(point, "cyc")), parse_float(_text(point, "fluor"))
        except ValueError:
            cycle = fluor = math.nan
        if not (math.isfinite(cycle) and math.isfinite(fluor)):
            raise InputError(
                f"{where}: amplification point {number} has no numeric cycle and fluorescence",
                path=path,
            )
        points.append((cycle, fluor))
    return points


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    import numpy as np

    from cytorelease.qpcr.readers._amplification import threshold_cq

    root = _parse(_xml(data, path), path)
    if _local(root.tag) != "rdml":
        raise InputError(f"root element is <{_local(root.tag)}>, not <rdml>", path=path)
    version = root.get("version", "")
    if version not in _SUPPORTED:
        raise InputError(
            f"RDML version {version or '(none)'} is not supported; this release reads "
            f"{', '.join(_SUPPORTED)}",
            path=path,
        )
    samples = _samples(root)
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, str], list[tuple[int, Any, Any]]] = {}
    instruments: list[str] = []  # each run's, once: a file may hold runs of two instruments
    experiments = _children(root, "experiment")
    run_ids = [r.get("id", "") for e in experiments for r in _children(e, "run")]
    for experiment in experiments:
        for run in _children(experiment, "run"):
            if _text(run, "instrument") and _text(run, "instrument") not in instruments:
                instruments.append(_text(run, "instrument"))
            well = _well_namer(run, path)
            run_key = f"{experiment.get('id', '')}/{run.get('id', '')}"
            run_name = run.get("id", "") if run_ids.count(run.get("id", "")) == 1 else run_key
            for react in _children(run, "react"):
                sample_el = _child(react, "sample")
                sample = sample_el.get("id", "") if sample_el is not None else ""
                task, quantity = samples.get(sample, (Task.UNKNOWN, math.nan))
                for datum in _children(react, "data"):
                    tar = _child(datum, "tar")
                    target = tar.get("id", "") if tar is not None else ""
                    cq_text = _text(datum, "cq")
                    try:
                        cq = parse_float(cq_text)
                    except ValueError:
                        raise InputError(
                            f"react {react.get('id')} target {target}: cq {cq_text!r} is not a "
                            "number",
                            path=path,
                        ) from None
                    if cq == -1.0:  # RDML writes -1 for "no amplification"
                        cq = math.nan
                    row = {
                        "well": well(react.get("id", "")),
                        "sample": sample,
                        "target": target,
                        "task": task,
                        "cq": cq,
                        "call": "",
                        "excluded": bool(_text(datum, "excl")),
                        "quantity": quantity if task is Task.STANDARD else math.nan,
                        "run": run_name,
                    }
                    if not cq_text:
                        where = f"react {react.get('id')} target {target}"
                        points = _curve(datum, where, path)
                        if points:
                            arr = np.array(sorted(points), dtype=np.float64)
                            curves.setdefault((run_key, target), []).append(
                                (len(rows), arr[:, 0], arr[:, 1])
                            )
                            row["call"] = CQ_FROM_CURVE
                            row["cq_source"] = CqSource.COMPUTED
                    rows.append(row)
    for group in curves.values():
        cqs = threshold_cq([(c, f) for _, c, f in group])
        for (index, _, _), cq in zip(group, cqs, strict=True):
            rows[index]["cq"] = cq
    if not rows:
        raise InputError("RDML file has no reactions with data", path=path)
    return QpcrExport(
        format=FORMAT,
        instrument=" + ".join(instruments) or f"RDML {version}",
        table=make_table(rows, digital=False),
        path=path,
        sha256=sha256,
        digital=False,
        metadata={"RDML version": version},
    )
