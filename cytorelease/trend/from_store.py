"""``trend --data-dir``: the charts drawn from the data folder's lots dataset.

The dataset's rows of the charted attributes (each lot's latest release, one product) are
written as the table ``--from-csv`` reads (``lot``, ``date``, ``attribute``, ``value``, ``lsl``,
``usl`` and, when every row has one, ``site``) and read by the same parser, so both sources are
checked and charted by one code path: the same rows give the same charts. The report's source
is the record store and the SHA-256 of that table. Spec limits are those of the spec the
records name (``lots table``'s ``lsl``/``usl``); a series whose limits differ (two spec
versions) is refused as from a file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cytorelease.errors import InputError
from cytorelease.trend.report import TrendReport, report_of
from cytorelease.trend.table import parse_table

__all__ = ["TABLE_COLUMNS", "trend_from_data"]

TABLE_COLUMNS = ("lot", "date", "attribute", "value", "lsl", "usl")


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
    from cytorelease.records.lot_results import lot_table
    from cytorelease.records.lot_table import table_csv
    from cytorelease.records.store import open_data

    _, store = open_data(data_dir, existing=True)
    with store:
        source = Path(f"{store.location} (lots dataset)")
        rows = lot_table(store, product=product, since=since, attributes=attributes)
        products = sorted({str(r["product"]) for r in rows})
        if len(products) > 1:
            raise InputError(
                f"the dataset holds these attributes for products {', '.join(products)}: "
                "chart one product at a time",
                path=source,
                hint="choose one with --product",
            )
        found = {str(r["attribute"]) for r in rows}
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
    columns: tuple[str, ...] = TABLE_COLUMNS
    sited = [r for r in rows if r["site"] is not None]
    if len(sited) == len(rows):
        columns = (*columns, "site")
    elif by_site:
        lots = sorted({str(r["lot"]) for r in rows if r["site"] is None})
        raise InputError(
            f"--by-site: {len(lots)} lot(s) have no site ({', '.join(lots[:5])}"
            f"{', ...' if len(lots) > 5 else ''}); their records name none",
            path=source,
            hint="chart them pooled, without --by-site",
        )
    table = parse_table(source, table_csv(rows, columns), attributes)
    return report_of(table, attributes, baseline=baseline, by_site=by_site)
