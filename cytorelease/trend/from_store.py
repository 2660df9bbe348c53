"""``trend --data-dir``: the charts drawn from the data folder's lots dataset.

The dataset's rows of the charted attributes (each lot's latest release, one product) become
the same :class:`~cytorelease.trend.table.TrendTable` a ``--from-csv`` table is read into,
held to the same rules (a value that is no finite number is refused, naming its lot), so the
same rows give the same charts. The report's source is the record store, and its SHA-256 is
that of the rows charted: the (record SHA-256, attribute) of each, one per line in table
order, which names them exactly (rows are immutable). Spec limits are those of the spec the
records name (``lots table``'s ``lsl``/``usl``); a series whose limits differ (two spec
versions) is refused as from a file. A row's ``line`` is its place in that order, counted as
a CSV's lines are (the first row is line 2).
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.trend.report import TrendReport, report_of
from cytorelease.trend.table import Observation, TrendTable

__all__ = ["trend_from_data"]

_COLUMNS = ("lot", "date", "attribute", "value", "value_number", "site", "lsl", "usl",
            "product", "record_sha256")  # fmt: skip


def trend_from_data(
    data_dir: str | Path | None,
    attributes: tuple[str, ...],
    *,
    product: str | None = None,
    since: date | None = None,
    baseline: int,
    by_site: bool = False,
) -> TrendReport:
    """Charts of ``attributes`` from the lots dataset of ``data_dir`` (see the module)."""
    from cytorelease.records.lot_results import lot_table_tuples
    from cytorelease.records.store import open_data

    _, store = open_data(data_dir, existing=True)
    with store:
        source = Path(f"{store.location} (lots dataset)")
        rows = lot_table_tuples(
            store, _COLUMNS, product=product, since=since, attributes=attributes
        )
        products = sorted({str(r[8]) for r in rows})
        if len(products) > 1:
            raise InputError(
                f"the dataset holds these attributes for products {', '.join(products)}: "
                "chart one product at a time",
                path=source,
                hint="choose one with --product",
            )
        found = {str(r[2]) for r in rows}
        absent = [a for a in attributes if a not in found]
        if absent:
            where, params = ("WHERE product = ?", (product,)) if product else ("", ())
            held = [
                str(r["attribute"])
                for r in store.rows(
                    f"SELECT DISTINCT attribute FROM lot_results {where} ORDER BY attribute",
                    params,
                )
            ]
            raise InputError(
                f"no result for attribute {', '.join(repr(a) for a in absent)}"
                + (f" of product {product!r}" if product else "")
                + f" (the dataset has: {', '.join(held[:20]) or 'none'})",
                path=source,
            )
    return report_of(_table(source, rows, by_site), attributes, baseline=baseline, by_site=by_site)


def _table(source: Path, rows: list[tuple[Any, ...]], by_site: bool) -> TrendTable:
    unsited = sorted({str(r[0]) for r in rows if r[5] is None})
    if unsited and by_site:
        raise InputError(
            f"--by-site: {len(unsited)} lot(s) have no site ({', '.join(unsited[:5])}"
            f"{', ...' if len(unsited) > 5 else ''}); their records name none",
            path=source,
            hint="chart them pooled, without --by-site",
        )
    has_site = not unsited  # as a table with a site column: every row names one
    digest = hashlib.sha256()
    observations = []
    days: dict[str, date] = {}  # lots share days: parse each once
    for line, (lot, day, attribute, text, number, site, lsl, usl, _, sha) in enumerate(
        rows, start=2
    ):
        if number is None:
            raise InputError(
                f"lot {lot!r}: attribute {attribute!r} is {text!r}, not a number (a "
                "qualitative result is not charted)",
                path=source,
            )
        digest.update(f"{sha} {attribute}\n".encode())
        observations.append(
            Observation(
                str(lot), days.get(day) or days.setdefault(day, date.fromisoformat(day)),
                str(attribute), float(number),
                str(site) if has_site else None, lsl, usl, line,
            )
        )  # fmt: skip
    return TrendTable(source, digest.hexdigest(), has_site, tuple(observations))
