"""The lots dataset: one row per release record and attribute, the tidy table trending reads.

A row holds what the result record says of one attribute of one lot: the value (the measurement
as recorded, 6 significant digits; for an attribute only a criterion reports, a derived dose
say, the reported decimal string, ``value_source`` says which), the reported value, unit and
verdict of the criterion that names it, the spec (id, version, SHA-256) and the method
(gating template or assay: id, version, SHA-256) behind it, the instrument, the lot's
disposition and the record's SHA-256. An attribute the record holds no result for (a criterion
``missing`` or ``pending``) has no row: the disposition says the lot was incomplete.

``date`` is the lot's manufacturing date when the record carries one (``date_kind``
``manufacturing``), else the day the record was made (``release``). ``site`` is the record's
``lot.site`` when it has one, else the site the importer states (``lots import --site``), else
empty: records made today carry no site.

Rows are immutable and keyed by (record SHA-256, attribute): storing a record twice adds
nothing. A second, different record of a lot is a new release of it; :func:`lot_table` takes
the latest release of each lot (by the record's ``created_at``, then its SHA-256) unless asked
for every release. ``lsl``/``usl`` are the numeric limits of the spec the record names, taken
from the library's copy of that spec only when its SHA-256 is the record's (else empty).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cytorelease.lot_id import lot_id_problem
from cytorelease.records.store import Store

__all__ = [
    "COLUMNS",
    "FIRST_COLUMNS",
    "RESULT_SCHEMA",
    "ResultRow",
    "SpecLimits",
    "archived_instruments",
    "lot_table",
    "lot_table_tuples",
    "lots_through",
    "record_problem",
    "record_rows",
    "result_rows",
    "store_record",
    "stored_records",
]

RESULT_SCHEMA = "cytorelease.result/1"
# the tidy table's first columns, in this order (issue 17); the rest follow in COLUMNS order
FIRST_COLUMNS = ("lot", "product", "site", "date", "attribute", "value", "unit", "verdict", "spec")
_STORED = (
    "record_sha256", "attribute", "lot", "product", "site", "date", "date_kind", "released_at",
    "value", "value_number", "value_source", "reported", "unit", "verdict", "criterion",
    "spec_id", "spec_version", "spec_sha256", "lsl", "usl", "method_kind", "method_id",
    "method_version", "method_sha256", "instrument", "disposition", "release_id", "origin",
    "checked_against", "stored_at",
)  # fmt: skip
COLUMNS = (
    *FIRST_COLUMNS,
    *(c for c in _STORED if c not in FIRST_COLUMNS and c not in ("value_number", "stored_at")),
)

# (lsl, usl) by attribute, from the spec a record names
SpecLimits = Mapping[str, tuple[float | None, float | None]]


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One attribute of one record, as stored (``_STORED`` order via :meth:`values`)."""

    fields: dict[str, Any]

    def values(self) -> tuple[Any, ...]:
        return tuple(self.fields[c] for c in _STORED)


def record_problem(record: Any) -> str | None:
    """Why ``record`` is not a release record this table can hold, or None when it is."""
    if not isinstance(record, dict):
        return "not a JSON object (expected a cytorelease.result/1 release record)"
    if record.get("schema") != RESULT_SCHEMA:
        return f"not a release record (its schema is {record.get('schema')!r}, not {RESULT_SCHEMA})"
    lot, evaluation = record.get("lot"), record.get("evaluation")
    if not isinstance(lot, dict) or not all(
        isinstance(lot.get(k), str) and lot.get(k) for k in ("id", "product")
    ):
        return "the record names no lot id and product"
    if (problem := lot_id_problem(lot["id"])) is not None:
        # the value is not quoted (it may hold a line break); it also names the CoA beside it
        return f"the record's lot id is not a lot id: {problem}"
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("criteria"), list):
        return "the record has no evaluation (criteria)"
    if not isinstance(evaluation.get("disposition"), str):
        return "the record's evaluation has no disposition"
    if not isinstance(evaluation.get("spec"), dict):
        return "the record's evaluation names no spec"
    if not isinstance(record.get("measurements"), list):
        return "the record has no measurements list"
    if _created(record) is None:
        return f"created_at {record.get('created_at')!r} is not an ISO 8601 time"
    made = lot.get("manufacturing_date")
    if made is not None and _day(made) is None:
        return f"lot.manufacturing_date {made!r} is not an ISO 8601 date"
    for index, item in enumerate(record["measurements"]):
        if not isinstance(item, dict) or not isinstance(item.get("attribute"), str):
            return f"measurements[{index}] names no attribute"
    for index, item in enumerate(evaluation["criteria"]):
        if not isinstance(item, dict):
            return f"evaluation.criteria[{index}] is not an object"
    return None


def _created(record: Mapping[str, Any]) -> datetime | None:
    text = record.get("created_at")
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def _value(value: Any) -> tuple[str, float | None] | None:
    """(the value as text, as a number when it is one); None for no value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return None  # a canonical record holds none; never stored as a number
        return repr(value) if isinstance(value, float) else str(value), number
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text, None
    return text, number if math.isfinite(number) else None


def _instruments(record: Mapping[str, Any]) -> dict[str, str]:
    """Analysis family ("flow", "qpcr"...) -> the instrument its summary names."""
    named: dict[str, set[str]] = {}
    for analysis in record.get("analyses") or []:
        if not isinstance(analysis, dict):
            continue
        summary = analysis.get("summary")
        if isinstance(summary, dict) and isinstance(summary.get("instrument"), str):
            family = str(analysis.get("analysis", "")).split(".")[0]
            named.setdefault(family, set()).add(summary["instrument"])
    return {family: " + ".join(sorted(names)) for family, names in named.items()}


def _instrument(
    item: Mapping[str, Any], archived: Mapping[str, str], by_family: Mapping[str, str]
) -> str | None:
    """The instrument of a measurement: the allow-list ids the store archived its input files
    under, else the instrument its analysis's summary names."""
    inputs = [i for i in item.get("inputs") or [] if isinstance(i, str)]
    ids = sorted({archived[sha] for sha in inputs if sha in archived})
    if ids:
        return " + ".join(ids)
    return by_family.get(str(item.get("attribute", "")).split(".")[0])


def result_rows(
    record: Mapping[str, Any],
    *,
    record_sha256: str,
    origin: str,
    checked_against: str,
    site: str | None = None,
    limits: SpecLimits | None = None,
    archived: Mapping[str, str] | None = None,
    release_id: int | None = None,
    stored_at: str | None = None,
) -> list[ResultRow]:
    """The rows of a release record (checked with :func:`record_problem` first)."""
    lot, evaluation = record["lot"], record["evaluation"]
    spec = evaluation["spec"]
    created = _created(record)
    assert created is not None  # record_problem refused it otherwise
    made = _day(lot.get("manufacturing_date")) if lot.get("manufacturing_date") else None
    common = {
        "record_sha256": record_sha256,
        "lot": lot["id"],
        "product": lot["product"],
        "site": lot.get("site") if isinstance(lot.get("site"), str) else site,
        "date": (made or created.date()).isoformat(),
        "date_kind": "manufacturing" if made else "release",
        "released_at": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "spec_id": spec.get("id"),
        "spec_version": None if spec.get("version") is None else str(spec["version"]),
        "spec_sha256": spec.get("sha256"),
        "disposition": evaluation["disposition"],
        "release_id": release_id,
        "origin": origin,
        "checked_against": checked_against,
        "stored_at": stored_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }
    criteria: dict[str, Mapping[str, Any]] = {}
    for criterion in evaluation["criteria"]:
        if isinstance(criterion.get("attribute"), str):
            criteria.setdefault(criterion["attribute"], criterion)  # the spec's first
    by_family = _instruments(record)
    rows: list[ResultRow] = []
    seen: set[str] = set()
    for item in record["measurements"]:
        attribute = item["attribute"]
        value = _value(item.get("value"))
        if value is None or attribute in seen:
            continue
        seen.add(attribute)
        method = item.get("method") if isinstance(item.get("method"), dict) else {}
        rows.append(
            _row(common, attribute, value, "measurement", item.get("unit"), criteria, limits,
                 method, _instrument(item, archived or {}, by_family))
        )  # fmt: skip
    for attribute, criterion in criteria.items():
        value = _value(criterion.get("reported"))
        if attribute in seen or value is None:
            continue
        seen.add(attribute)
        rows.append(
            _row(common, attribute, value, "reported", criterion.get("unit"), criteria, limits,
                 {}, None)
        )  # fmt: skip
    return rows


def _row(
    common: Mapping[str, Any],
    attribute: str,
    value: tuple[str, float | None],
    source: str,
    unit: Any,
    criteria: Mapping[str, Mapping[str, Any]],
    limits: SpecLimits | None,
    method: Mapping[str, Any],
    instrument: str | None,
) -> ResultRow:
    criterion = criteria.get(attribute, {})
    lsl, usl = (limits or {}).get(attribute, (None, None))
    reported = criterion.get("reported")
    return ResultRow(
        {
            **common,
            "attribute": attribute,
            "value": value[0],
            "value_number": value[1],
            "value_source": source,
            "reported": None if reported is None else str(reported),
            "unit": str(unit if unit is not None else criterion.get("unit") or ""),
            "verdict": criterion.get("verdict"),
            "criterion": criterion.get("id"),
            "lsl": lsl,
            "usl": usl,
            "method_kind": method.get("kind"),
            "method_id": method.get("id"),
            "method_version": None if method.get("version") is None else str(method["version"]),
            "method_sha256": method.get("sha256"),
            "instrument": instrument,
        }
    )


def archived_instruments(store: Store, record: Mapping[str, Any]) -> dict[str, str]:
    """Input SHA-256 -> the instrument id the store received it from (the worker's archive)."""
    shas = sorted(
        {
            sha
            for item in record.get("measurements") or []
            if isinstance(item, dict)
            for sha in item.get("inputs") or []
            if isinstance(sha, str)
        }
    )
    if not shas:
        return {}
    marks = ", ".join("?" for _ in shas)
    return {
        str(r["sha256"]): str(r["instrument"])
        for r in store.rows(
            f"SELECT sha256, instrument FROM raw_files WHERE sha256 IN ({marks})", shas
        )
    }


def stored_records(store: Store, shas: Iterable[str]) -> set[str]:
    """Which of the record SHA-256s ``shas`` the dataset already holds."""
    wanted = sorted(set(shas))
    held: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        held.update(
            str(r["record_sha256"])
            for r in store.rows(
                f"SELECT DISTINCT record_sha256 FROM lot_results WHERE record_sha256 IN ({marks})",
                chunk,
            )
        )
    return held


def store_record(
    store: Store,
    record: Mapping[str, Any],
    *,
    record_sha256: str,
    origin: str,
    checked_against: str,
    site: str | None = None,
    limits: SpecLimits | None = None,
    release_id: int | None = None,
) -> int:
    """Store a release record's rows (inside the caller's write transaction); how many were
    added: 0 when the dataset already holds the record. ``record_sha256`` is the caller's,
    checked against the record's content before it got here; ``limits`` are those of the spec
    the record names (``lot/dataset.py`` looks them up: records/ reads no spec)."""
    problem = record_problem(record)
    if problem is not None:
        from cytorelease.errors import InputError

        raise InputError(problem, path=f"record {record_sha256}")
    rows = result_rows(
        record,
        record_sha256=record_sha256,
        origin=origin,
        checked_against=checked_against,
        site=site,
        limits=limits,
        archived=archived_instruments(store, record),
        release_id=release_id,
    )
    sql = (
        f"INSERT INTO lot_results ({', '.join(_STORED)}) VALUES ({', '.join('?' for _ in _STORED)})"
        " ON CONFLICT (record_sha256, attribute) DO NOTHING"
    )
    return sum(store.execute(sql, row.values()) for row in rows)


def lot_table(
    store: Store,
    *,
    product: str | None = None,
    since: date | None = None,
    site: str | None = None,
    attributes: Iterable[str] | None = None,
    every_release: bool = False,
) -> list[dict[str, Any]]:
    """The tidy table (:data:`COLUMNS`, plus ``value_number``), ordered by lot, then attribute.

    Each lot's latest release (its record's ``created_at``, then SHA-256) unless
    ``every_release``; the filters apply to the rows of that release.
    """
    names = (*COLUMNS, "value_number")
    found = lot_table_tuples(
        store, names, product=product, since=since, site=site, attributes=attributes,
        every_release=every_release,
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in found]


def lot_table_tuples(
    store: Store,
    columns: Sequence[str],
    *,
    product: str | None = None,
    since: date | None = None,
    site: str | None = None,
    attributes: Iterable[str] | None = None,
    every_release: bool = False,
) -> list[tuple[Any, ...]]:
    """:func:`lot_table`'s rows as tuples of ``columns`` (names of :data:`COLUMNS` or
    ``value_number``), for reads of every row of a large dataset."""
    unknown = [c for c in columns if c not in (*COLUMNS, "value_number")]
    if unknown:
        raise ValueError(f"no column {unknown[0]!r} in the lots dataset")
    where, params = [], []
    for column, wanted in (("product", product), ("site", site)):
        if wanted is not None:
            where.append(f"r.{column} = ?")
            params.append(wanted)
    if since is not None:
        where.append("r.date >= ?")
        params.append(since.isoformat())
    chosen = list(dict.fromkeys(attributes or ()))
    if chosen:
        where.append(f"r.attribute IN ({', '.join('?' for _ in chosen)})")
        params.extend(chosen)
    selected = ", ".join(
        "r.spec_id || '@' || r.spec_version AS spec" if c == "spec" else f"r.{c}" for c in columns
    )
    latest = (
        ""
        if every_release
        else " JOIN (SELECT record_sha256 FROM (SELECT record_sha256, ROW_NUMBER() OVER"
        " (PARTITION BY lot ORDER BY released_at DESC, record_sha256 DESC) AS n"
        " FROM (SELECT DISTINCT lot, released_at, record_sha256 FROM lot_results) AS d) AS k"
        " WHERE n = 1) AS l ON l.record_sha256 = r.record_sha256"
    )
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    scan = " NOT INDEXED" if _most_of_table(store, where, params) else ""
    return store.tuples(
        f"SELECT {selected} FROM lot_results r{scan}{latest}{condition}"
        " ORDER BY r.lot, r.released_at, r.attribute",
        params,
    )


def lots_through(
    store: Store,
    columns: Sequence[str],
    *,
    product: str,
    site: str | None,
    attributes: Sequence[str],
    last: str,
) -> list[tuple[Any, ...]]:
    """Every row (any attribute, product and site) of every release of each lot that has a row
    of ``product`` (at ``site`` when given) for one of ``attributes`` dated ``last`` or earlier,
    as tuples of ``columns`` (stored names), in one statement: what a frozen baseline is held
    to, the lots it lists and those it might have left out."""
    _stored_columns(columns)
    where = ["r.product = ?", *([] if site is None else ["r.site = ?"]),
             f"r.attribute IN ({', '.join('?' for _ in attributes)})"]  # fmt: skip
    params = [product, *([] if site is None else [site]), *attributes]
    # no index has the date: the lots are found by (product, attribute) or in one pass
    scan = " NOT INDEXED" if _most_of_table(store, where, params) else ""
    return store.tuples(
        f"SELECT {', '.join(columns)} FROM lot_results WHERE lot IN (SELECT r.lot FROM"
        f" lot_results r{scan} WHERE {' AND '.join(where)} AND r.date <= ?)"
        " ORDER BY lot, record_sha256, attribute",
        [*params, last],
    )


def record_rows(store: Store, columns: Sequence[str], record_sha256: str) -> list[tuple[Any, ...]]:
    """The rows of one release record, as tuples of ``columns`` (stored names)."""
    _stored_columns(columns)
    return store.tuples(
        f"SELECT {', '.join(columns)} FROM lot_results WHERE record_sha256 = ? ORDER BY attribute",
        (record_sha256,),
    )


def _stored_columns(columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in _STORED]
    if unknown:
        raise ValueError(f"no column {unknown[0]!r} in the lots dataset")


def _most_of_table(store: Store, where: list[str], params: list[Any]) -> bool:
    """Whether SQLite should read the table in one pass rather than through an index.

    SQLite has no statistics here (nothing runs ANALYZE), so it reaches the rows of a product
    and attributes through the (product, attribute) index, one table lookup per row: for most
    of the table (every attribute of 10,000 lots) that is twice as slow as reading the table
    through. The index counts the rows the filters select without touching the table; a
    selection of at least a quarter of the rows is read in one pass. PostgreSQL keeps its own
    statistics and plans for itself. The rows and their order are the same either way."""
    from cytorelease.records.store import Dialect

    if store.dialect is not Dialect.SQLITE or not where:
        return False
    total = store.scalar("SELECT max(rowid) FROM lot_results")  # no count: an O(1) bound
    if not total:
        return False
    condition = " AND ".join(where)
    chosen = store.scalar(f"SELECT count(*) FROM lot_results r WHERE {condition}", params)
    return 4 * int(chosen) >= int(total)
