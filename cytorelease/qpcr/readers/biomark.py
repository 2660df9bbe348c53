"""Standard BioTools (Fluidigm) Biomark "Table Results" CSV, Real-Time PCR Analysis 2.x-4.x.

Layout: a ``key,value`` preamble, a blank line, then three header rows whose cells only name a
column when read together (``Chamber/ID``, ``Sample/Name``, ``<dye>/Name`` for the assay,
``Ct/Value``, ``Ct/Call``), then one row per chamber. Chamber ids are ``S<sample>-A<assay>``;
the chip (48.48, 96.96, 192.24) follows from the highest indices. Ct 999 means no
amplification; a "Fail" call may still carry a Ct (kept, and the row marked ``excluded``).
Standards' ``rConc`` becomes ``quantity``; it is a relative concentration unless the lab
entered copies, so the assay's list of standards (copies per reaction) takes precedence.
EvaGreen (intercalating dye) exports carry melt columns; their first value becomes an extra
``tm`` column (°C) after the documented ones.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.qpcr.readers._text import check_row_lengths, decode, strip_bom
from cytorelease.qpcr.table import ExportFormat, QpcrExport, Task, table_from_columns

FORMAT = ExportFormat.BIOMARK
NO_CT = 999.0
_PREAMBLE_LINES = 200  # the key,value block and header rows always sit in the first lines
_CHAMBER = re.compile(r"^S(\d+)-A(\d+)$")
_CHAMBERS = re.compile(r"^S(\d+)-A(\d+)$", re.M)
# (samples, assays) -> chambers, for the chips Biomark exports.
_CHIPS = {(48, 48): "48.48", (96, 96): "96.96", (192, 24): "192.24", (24, 192): "192.24"}
_TASKS = {
    "standard": Task.STANDARD,
    "unknown": Task.UNKNOWN,
    "ntc": Task.NTC,
    "negative": Task.NEGATIVE_CONTROL,
    "positive": Task.POSITIVE_CONTROL,
    "empty": Task.EMPTY,
}


def sniff(head: bytes) -> bool:
    lines = strip_bom(head)[:65536].replace(b"\r", b"").split(b"\n")
    if any(line.startswith(b"Export Type,Table Results") for line in lines[:40]):
        return True
    # Without the preamble: the first two header rows of the joined three-row header.
    return any(
        a.startswith(b"Experiment Information,") and b.startswith(b"Chamber,")
        for a, b in pairwise(lines)
    )


def _chip(wells: list[str], path: Path) -> tuple[str, int]:
    found = _CHAMBERS.findall("\n".join(wells))
    if len(found) != len(wells):
        bad = next(w for w in wells if not _CHAMBER.match(w))
        raise InputError(f"chamber id {bad!r} is not of the form S<n>-A<n>", path=path)
    max_s = max(int(s) for s in {s for s, _ in found})
    max_a = max(int(a) for a in {a for _, a in found})
    for (samples, assays), name in _CHIPS.items():
        if max_s <= samples and max_a <= assays:
            return name, samples * assays
    raise InputError(f"no Biomark chip has sample {max_s} and assay {max_a}", path=path)


def _column_map(rows3: list[list[str]], path: Path) -> dict[str, int]:
    """Names for the joined header cells: well, sample, task, quantity, target, cq, call, tm."""
    top, mid, low = (r + [""] * (len(rows3[1]) - len(r)) for r in rows3)
    found: dict[str, int] = {}
    for index, (a, b, c) in enumerate(zip(top, mid, low, strict=False)):
        a, b, c = a.strip(), b.strip(), c.strip()
        key = {
            ("Chamber", "ID"): "well",
            ("Sample", "Name"): "sample",
            ("Sample", "Type"): "task",
            ("Sample", "rConc"): "quantity",
            ("Ct", "Value"): "cq",
            ("Ct", "Call"): "call",
            ("Ct", "Quality"): "quality",
        }.get((b, c))
        if key is None and c == "Name" and b not in ("Chamber", "Sample", "Ct"):
            key = "target"
        # EvaGreen runs add melt columns ("Tm In Range" / "Tm Peak" ...): keep the first value.
        if key is None and (a.startswith("Tm") or b.startswith("Tm")) and "tm" not in found:
            key = "tm"
        if key is not None and key not in found:
            found[key] = index
    missing = [k for k in ("well", "sample", "target", "cq") if k not in found]
    if missing:
        raise InputError(
            f"Table Results header lacks {', '.join(missing)} (expected Chamber/ID, "
            "Sample/Name, <dye>/Name, Ct/Value in the three header rows)",
            path=path,
        )
    return found


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _coerce(values: Any) -> Any:
    """Floats from a text column, NaN where a cell is not a number.

    Goes through the column's distinct values with ``float`` rather than ``pd.to_numeric``,
    which crashed the interpreter on some non-ASCII cells of damaged files (pandas 2.3).
    """
    import numpy as np

    if values.dtype == np.float64:
        return values.to_numpy(np.float64)
    return _mapped(values, _to_float).astype(np.float64)


def _numbers(values: Any, label: str, first_line: int, path: Path) -> Any:
    """Float column; a cell that is neither blank nor a number is named with its line."""
    import numpy as np

    numbers = _coerce(values)
    if values.dtype == np.float64:
        return numbers
    suspect = np.flatnonzero(np.isnan(numbers))
    if suspect.size:
        text = values.to_numpy(object)[suspect]
        bad = np.array([str(t).strip() not in ("", "nan", "NaN") for t in text], dtype=bool)
        if bad.any():
            index = int(suspect[np.argmax(bad)])
            raise InputError(
                f"line {first_line + index:,}: {label} {values.iloc[index]!r} is not a number",
                path=path,
            )
    return numbers


def _parse_body(body: str, usecols: list[int], numeric: list[int]) -> Any:
    import io

    import pandas as pd

    return pd.read_csv(
        io.StringIO(body),
        header=None,
        usecols=usecols,
        dtype={i: (float if i in numeric else str) for i in usecols},
        keep_default_na=False,
        na_values={i: [""] for i in numeric},
        engine="c",
    )


def _mapped(values: Any, mapping: Any) -> Any:
    """Apply a per-value function through the column's few distinct values (fast)."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return np.asarray([mapping(u) for u in uniques], dtype=object)[codes]


def read(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
    import csv
    import io

    import numpy as np

    text = decode(data)
    # The preamble is short: scan its lines, then hand the chamber rows to the C parser whole.
    lines = text.split("\n", _PREAMBLE_LINES)[:_PREAMBLE_LINES]
    metadata: dict[str, str] = {}
    index = 0
    while index < len(lines) and not lines[index].startswith("Experiment Information"):
        parts = lines[index].rstrip("\r").split(",", 1)
        if len(parts) == 2 and parts[0].strip():
            metadata[parts[0].strip()] = parts[1].strip()
        index += 1
    if index + 3 > len(lines):
        raise InputError(
            "no 'Experiment Information' header rows: not a complete Table Results export "
            "(truncated copy?)",
            path=path,
        )
    header = list(csv.reader(io.StringIO("\n".join(lines[index : index + 3]))))
    columns = _column_map(header, path)
    body = text.split("\n", index + 3)[-1] if len(lines) > index + 3 else ""
    stripped = body.rstrip()
    if not stripped:
        raise InputError("the Table Results export has no chamber rows", path=path)
    # Only the last row can be cut short by a truncated copy; check it, then parse in C.
    last = stripped.rsplit("\n", 1)[-1]
    check_row_lengths(
        header[1], list(csv.reader([last])), path=path, first_line=index + 4 + stripped.count("\n")
    )
    wanted = sorted(columns.values())
    numeric = [columns[k] for k in ("cq", "quantity") if k in columns]
    try:
        frame = _parse_body(body, wanted, numeric)
    except ValueError:
        # A cell that is not a number: parse as text to name the line and the value.
        frame = _parse_body(body, wanted, [])
    first = index + 4

    def col(name: str) -> Any:
        return frame[columns[name]] if name in columns else None

    ct = _numbers(col("cq"), "Ct", first, path)
    no_ct = ~(ct < NO_CT)  # 999 and blanks: no amplification
    call = col("call")
    calls = _mapped(call, str.strip) if call is not None else np.full(len(frame), "", object)
    task_text = col("task")
    tasks = (
        _mapped(task_text, lambda t: _TASKS.get(t.strip().lower(), Task.UNKNOWN).value)
        if task_text is not None
        else np.full(len(frame), Task.UNKNOWN.value, object)
    )
    quantity = np.full(len(frame), np.nan)
    if "quantity" in columns:
        is_std = tasks == Task.STANDARD.value
        quantity[is_std] = _numbers(col("quantity"), "rConc", first, path)[is_std]
    wells = col("well").to_numpy(object)
    if not _CHAMBER.match(wells[0]) or not _CHAMBER.match(wells[-1]):
        wells = _mapped(col("well"), str.strip)
    chip, chambers = _chip(list(wells), path)
    if len(frame) < chambers:
        raise InputError(
            f"a {chip} chip has {chambers:,} chambers but the export has {len(frame):,} rows "
            "(truncated copy?)",
            path=path,
        )
    metadata["Chip"] = chip
    table = table_from_columns(
        {
            "well": wells,
            "sample": _mapped(col("sample"), str.strip),
            "target": _mapped(col("target"), str.strip),
            "task": tasks,
            "cq": np.where(no_ct, np.nan, ct),
            "call": calls,
            "excluded": _mapped(calls, lambda c: c.lower() == "fail").astype(bool) & ~no_ct,
            "quantity": quantity,
        },
        len(frame),
        digital=False,
    )
    if "tm" in columns:
        # Melting temperature of the product (°C), NaN when the export left it blank.
        table["tm"] = _coerce(col("tm"))
    version = metadata.get("Application Version", "?")
    return QpcrExport(
        format=FORMAT,
        instrument=f"Biomark {chip} (Real-Time PCR Analysis {version})",
        table=table,
        path=path,
        sha256=sha256,
        digital=False,
        metadata=metadata,
    )
