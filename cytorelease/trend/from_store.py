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
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import InputError
from cytorelease.trend.report import TrendReport, report_of
from cytorelease.trend.table import Observation, TrendTable

if TYPE_CHECKING:
    from cytorelease.records.store import Store

__all__ = ["trend_from_data"]

# the value's text is read only for a value that is no number (to name it), the product only
# when none was chosen: two columns fewer of every row of a large dataset
_COLUMNS = ("lot", "date", "attribute", "value_number", "site", "lsl", "usl", "record_sha256")


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
        products = [product] if product is not None else _products(store, since, attributes)
        if len(products) > 1:
            raise InputError(
                f"the dataset holds these attributes for products {', '.join(products)}: "
                "chart one product at a time",
                path=source,
                hint="choose one with --product",
            )
        found = set(map(itemgetter(2), rows))
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
        table = _table(source, rows, by_site, store)
    return report_of(table, attributes, baseline=baseline, by_site=by_site)


def _products(store: Store, since: date | None, attributes: tuple[str, ...]) -> list[str]:
    """The products whose lots' latest releases hold these attributes (sorted)."""
    from cytorelease.records.lot_results import lot_table_tuples

    rows = lot_table_tuples(store, ("product",), since=since, attributes=attributes)
    return sorted({str(r[0]) for r in rows})


def _text_of(store: Store, sha: str, attribute: str) -> Any:
    """The stored text of a value that is no number (read for its refusal only)."""
    return store.scalar(
        "SELECT value FROM lot_results WHERE record_sha256 = ? AND attribute = ?", (sha, attribute)
    )


def _table(source: Path, rows: list[tuple[Any, ...]], by_site: bool, store: Store) -> TrendTable:
    unsited = sorted({str(r[0]) for r in rows if r[4] is None})
    if unsited and by_site:
        raise InputError(
            f"--by-site: {len(unsited)} lot(s) have no site ({', '.join(unsited[:5])}"
            f"{', ...' if len(unsited) > 5 else ''}); their records name none",
            path=source,
            hint="chart them pooled, without --by-site",
        )
    has_site = not unsited  # as a table with a site column: every row names one
    observations = []
    days: dict[str, date] = {}  # lots share days: parse each once
    for line, (lot, day, attribute, number, site, lsl, usl, sha) in enumerate(rows, start=2):
        if number is None:
            raise InputError(
                f"lot {lot!r}: attribute {attribute!r} is {_text_of(store, sha, attribute)!r}, "
                "not a number (a qualitative result is not charted)",
                path=source,
            )
        observations.append(
            Observation(
                str(lot), days.get(day) or days.setdefault(day, date.fromisoformat(day)),
                str(attribute), float(number),
                str(site) if has_site else None, lsl, usl, line,
            )
        )  # fmt: skip
    # one update of the whole text: the same digest as a line at a time
    named = "".join([f"{r[7]} {r[2]}\n" for r in rows]).encode()
    return TrendTable(source, hashlib.sha256(named).hexdigest(), has_site, tuple(observations))
