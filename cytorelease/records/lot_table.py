"""``lots table``: the lots dataset written out tidy, as CSV or (with pyarrow) Parquet.

Columns are :data:`~cytorelease.records.lot_results.COLUMNS`: ``lot``, ``product``, ``site``,
``date``, ``attribute``, ``value``, ``unit``, ``verdict``, ``spec`` first, then the record's
provenance (``date_kind``, ``reported``, spec and method ids, versions and hashes, instrument,
disposition, record SHA-256...). ``value`` is text (a qualitative result is a word); the CSV
is the table ``trend --from-csv`` reads (it carries ``lsl`` and ``usl`` too).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.records.lot_results import COLUMNS, lot_table_tuples

__all__ = ["TableReport", "export_table", "table_csv"]

_FLOATS = ("lsl", "usl")


@dataclass(frozen=True, slots=True)
class TableReport:
    out: Path
    format: str
    rows: int
    lots: int
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": self.format,
            "rows": self.rows,
            "lots": self.lots,
            "columns": list(self.columns),
        }


def table_csv(rows: list[tuple[Any, ...]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    """Rows (tuples of ``columns``) as UTF-8 CSV with a header; an empty cell for no value, a
    float as its shortest repr (read back, the same number)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _parquet(rows: list[tuple[Any, ...]], out: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            "writing Parquet needs pyarrow, which is not installed",
            path=out,
            hint="pip install pyarrow, or write a .csv",
        ) from None
    arrays = {}
    for index, column in enumerate(COLUMNS):
        values = [row[index] for row in rows]
        if column in _FLOATS:
            arrays[column] = pa.array(values, type=pa.float64())
        elif column == "release_id":
            arrays[column] = pa.array(values, type=pa.int64())
        else:
            arrays[column] = pa.array([v if v is None else str(v) for v in values], pa.string())
    pq.write_table(pa.table(arrays), out)


def export_table(
    data_dir: str | Path | None,
    out: Path,
    *,
    product: str | None = None,
    since: date | None = None,
    site: str | None = None,
    every_release: bool = False,
) -> TableReport:
    """Write the data folder's lots dataset (each lot's latest release unless
    ``every_release``) to ``out``: ``.csv`` or ``.parquet``."""
    from cytorelease.records.store import open_data

    kind = out.suffix.lower().lstrip(".")
    if kind not in ("csv", "parquet"):
        raise InputError(
            f"the file name ends in {out.suffix or 'nothing'!r}: write a .csv or a .parquet",
            path=out,
        )
    if out.is_dir():
        raise InputError("is a folder (--out names the table file to write)", path=out)
    _, store = open_data(data_dir, existing=True)
    with store:
        rows = lot_table_tuples(
            store, COLUMNS, product=product, since=since, site=site, every_release=every_release
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    if kind == "csv":
        tmp.write_bytes(table_csv(rows))
    else:
        _parquet(rows, tmp)
    tmp.replace(out)
    lot = COLUMNS.index("lot")
    return TableReport(out, kind, len(rows), len({r[lot] for r in rows}), COLUMNS)
