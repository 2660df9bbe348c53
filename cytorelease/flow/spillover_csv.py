"""A spillover matrix as a CSV file: the form ``flow spillover --out`` writes and reads back.

The layout is an FCS $SPILLOVER laid out as a table, which FlowKit's ``Matrix`` (through
flowutils) also reads: one header row naming the detectors ($PnN), then one row of numbers per
fluorochrome, each fluorochrome named by (and in the order of) its detector, so the matrix is
square with 1 on the diagonal. Row ``i`` is how much of fluorochrome ``i``'s signal each
detector sees: ``observed = true @ matrix``. Numbers are written with 17 significant digits,
enough to read back the same float64.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.compensation import SpilloverMatrix

__all__ = ["parse_spillover_csv", "read_spillover_csv", "write_spillover_csv"]

MAX_DETECTORS = 512  # as GatingML matrices: a spectral instrument's detectors, not more


def write_spillover_csv(path: str | Path, matrix: SpilloverMatrix) -> Path:
    """Write a square matrix whose fluorochromes are its detectors, in their order."""
    path = Path(path)
    if matrix.fluorochromes != matrix.detectors:
        raise InputError(
            f"spillover matrix {matrix.id!r} does not name each fluorochrome by its detector, "
            "in the detectors' order; the CSV form cannot hold it",
            path=path,
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(matrix.detectors)
    for row in matrix.matrix:
        writer.writerow([format(float(v), ".17g") for v in row])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def read_spillover_csv(path: str | Path, *, id: str | None = None) -> SpilloverMatrix:
    """Read a matrix :func:`write_spillover_csv` wrote (or any CSV of that layout)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"not UTF-8 text (byte {error.start:,}); a spillover CSV is UTF-8", path=path
        ) from None
    return parse_spillover_csv(text, path=path, id=id)


def parse_spillover_csv(text: str, *, path: Path, id: str | None = None) -> SpilloverMatrix:
    """The matrix in ``text`` (the CSV's contents, read once by the caller, who also hashes
    those bytes); errors name ``path`` and the row and column."""
    text = text.removeprefix("\ufeff")  # a byte-order mark some spreadsheets write
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise InputError("the spillover CSV is empty", path=path)
    detectors = tuple(cell.strip() for cell in rows[0])
    if len(detectors) > MAX_DETECTORS:
        raise InputError(f"the header names {len(detectors):,} detectors; at most "
                         f"{MAX_DETECTORS} are read", path=path)  # fmt: skip
    if len(rows) - 1 != len(detectors):
        raise InputError(
            f"the header names {len(detectors)} detectors but {len(rows) - 1} rows follow; "
            "a spillover CSV is square (one row per detector)",
            path=path,
        )
    values = np.empty((len(detectors), len(detectors)))
    for i, row in enumerate(rows[1:]):
        if len(row) != len(detectors):
            raise InputError(f"row {i + 2} has {len(row)} values, not {len(detectors)}",
                             path=path)  # fmt: skip
        for j, cell in enumerate(row):
            try:
                value = float(cell)
            except ValueError:
                raise InputError(f"row {i + 2}, column {j + 1}: {cell.strip()[:40]!r} is not a "
                                 "number", path=path) from None  # fmt: skip
            if not math.isfinite(value):
                raise InputError(f"row {i + 2}, column {j + 1} is not finite", path=path)
            values[i, j] = value
    try:
        return SpilloverMatrix(id or path.stem, detectors, detectors, values)
    except TemplateError as error:  # the matrix's own checks: names, singularity
        raise InputError(error.problem, path=path, hint=error.hint) from None
