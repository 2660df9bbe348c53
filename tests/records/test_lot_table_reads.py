"""How the lots dataset is read for ``trend --data-dir`` and ``lots table`` (issue 17 item 6):
the same rows whichever way SQLite is told to read the table, the value's text read only to
name a value that is no number, the product read only when none was chosen."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cytorelease.errors import InputError
from cytorelease.lot.dataset import store_results
from cytorelease.provenance import content_sha256
from cytorelease.records.datadir import DataDir
from cytorelease.records.lot_results import COLUMNS, lot_table_tuples
from cytorelease.records.store import Store
from cytorelease.synth.history import CAR, VCN, VIABILITY, write_history
from cytorelease.trend.from_store import trend_from_data
from tests.records.lot_records import history_records


def _store(store: Store, records: list[dict[str, Any]]) -> None:
    with store.write():
        for record in records:
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                          checked_against="none")  # fmt: skip


def _history(tmp_path: Path, lots: int = 60) -> list[dict[str, Any]]:
    write_history(tmp_path / "history", lots=lots, sites=2, seed=5)
    return history_records(tmp_path / "history" / "history.csv")


def _other_product(records: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    others = []
    for record in records[:count]:
        other = copy.deepcopy(record)
        other["lot"]["id"] = "X" + other["lot"]["id"]
        other["lot"]["product"] = "other-product"
        others.append(other)
    return others


def _expected(store: Store, product: str, attributes: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The selection made in Python from every latest row (no filter in SQL)."""
    names = (*COLUMNS, "value_number")
    rows = [dict(zip(names, r, strict=True)) for r in lot_table_tuples(store, names)]
    return [
        tuple(r[c] for c in COLUMNS)
        for r in rows
        if r["product"] == product and r["attribute"] in attributes
    ]


def test_a_small_and_a_large_selection_read_the_rows_a_filter_would_keep(
    store: Store, tmp_path: Path
) -> None:
    records = _history(tmp_path)
    _store(store, [*records, *_other_product(records, 3)])
    # most of the table (SQLite reads it through) and a small part (through the index)
    for product, attributes in (("cd19-car-t", (VIABILITY, CAR, VCN)), ("other-product", (CAR,))):
        found = lot_table_tuples(store, COLUMNS, product=product, attributes=attributes)
        assert found and found == _expected(store, product, attributes)


def test_a_value_that_is_no_number_is_refused_naming_its_text(
    data: DataDir, store: Store, tmp_path: Path
) -> None:
    records = _history(tmp_path)
    odd = records[7]
    for item in odd["measurements"]:
        if item["attribute"] == CAR:
            item["value"] = "not done"
    _store(store, records)
    with pytest.raises(InputError) as refused:
        trend_from_data(data.root, (CAR,), product="cd19-car-t", baseline=20)
    message = str(refused.value)
    assert f"lot {odd['lot']['id']!r}" in message and "'not done', not a number" in message


def test_without_a_product_one_product_is_charted_and_two_are_refused(
    data: DataDir, store: Store, tmp_path: Path
) -> None:
    records = _history(tmp_path)
    _store(store, records)
    chosen = trend_from_data(data.root, (CAR,), product="cd19-car-t", baseline=20)
    pooled = trend_from_data(data.root, (CAR,), baseline=20)
    assert pooled.to_dict()["charts"] == chosen.to_dict()["charts"]
    assert pooled.source_sha256 == chosen.source_sha256
    _store(store, _other_product(records, 45))
    with pytest.raises(InputError, match="products cd19-car-t, other-product"):
        trend_from_data(data.root, (CAR,), baseline=20)


def _loaded(argv: list[str], modules: tuple[str, ...]) -> tuple[str, str]:
    """(stdout, the modules of ``modules`` a fresh process running ``argv`` imported)."""
    code = (
        "import sys\n"
        "from cytorelease.cli.main import main\n"
        f"sys.argv = ['cytorelease', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CYTORELEASE_DB"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return proc.stdout, proc.stdout.strip().splitlines()[-1]


def test_table_and_trend_load_only_what_they_use(
    data: DataDir, sqlite_store: Store, tmp_path: Path
) -> None:
    """A whole ``lots table`` or ``trend --json`` process from SQLite imports no PostgreSQL
    driver, no Parquet writer, no HTML templating and no rich (a third of a second each to
    import the first time); ``lots table`` no numpy either."""
    _store(sqlite_store, _history(tmp_path))
    shared = ("psycopg", "pyarrow", "jinja2", "rich", "scipy", "pandas", "numba")
    out, loaded = _loaded(
        ["lots", "table", "--data-dir", str(data.root), "--out", str(tmp_path / "t.csv")],
        (*shared, "numpy"),
    )
    assert "rows (60 lots) written to" in out and loaded == "loaded:"
    out, loaded = _loaded(
        ["trend", CAR, "--data-dir", str(data.root), "--product", "cd19-car-t", "--json"], shared
    )
    assert '"charts"' in out and loaded == "loaded:"
