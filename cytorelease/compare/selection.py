"""A selection of a data folder's lots dataset as a result set: ``lots:site=S1,product=P``.

A side of ``compare`` written ``lots:`` followed by ``KEY=VALUE`` pairs (comma-separated, each
key at most once; ``lots:`` alone is every lot) is read from the lots dataset of the data folder
(``--data-dir`` / ``CYTORELEASE_DATA``), the rows ``lots table`` exports:

- ``product``, ``site``: the lot's product, the site that made it;
- ``since``, ``until``: the lot's date (manufacturing, else release day), both days included;
- ``spec``: ``ID`` or ``ID@VERSION`` of the spec a release was judged against;
- ``method``: ``ID`` or ``ID@VERSION`` of the gating template or assay that measured a row.

Each lot contributes its latest release among those the selection matches (``released_at``,
then record SHA-256, as ``lots table``), so ``spec=cd19-car-t@1`` against ``spec=cd19-car-t@2``
compares the same lots judged both ways. Values, units, verdicts and dispositions are read as
from a ``lots table`` CSV export of those rows (a row without a value, a pending result, holds
none), so the selection and that export compare alike. The set's SHA-256 is that of the selected
rows' lot, attribute, value, unit, verdict and disposition as CSV. A selection matching no lot
is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cytorelease.compare.sets import Entry, ResultSet, SetBuilder
from cytorelease.compare.table import number_or_text
from cytorelease.errors import InputError

__all__ = ["SELECTION_KEYS", "SELECTION_PREFIX", "Selection", "is_selection", "read_selection"]

SELECTION_PREFIX = "lots:"
SELECTION_KEYS = ("product", "site", "since", "until", "spec", "method")


def is_selection(text: str | Path) -> bool:
    """Whether a side of ``compare`` names a selection (a file is given as a path: ``./lots:x``)."""
    return isinstance(text, str) and text.startswith(SELECTION_PREFIX)


@dataclass(frozen=True, slots=True)
class Selection:
    text: str
    product: str | None = None
    site: str | None = None
    since: date | None = None
    until: date | None = None
    spec: str | None = None
    method: str | None = None

    @classmethod
    def parse(cls, text: str) -> Selection:
        """``lots:KEY=VALUE,...``; every problem an InputError naming the selection."""
        body = text[len(SELECTION_PREFIX) :].strip()
        found: dict[str, Any] = {}
        for part in (p.strip() for p in body.split(",")) if body else ():
            key, sep, value = (s.strip() for s in part.partition("="))
            if not sep or not key or not value:
                raise InputError(f"{part!r}: expected KEY=VALUE", path=text)
            if key not in SELECTION_KEYS:
                raise InputError(
                    f"no selection key {key!r} (keys: {', '.join(SELECTION_KEYS)})", path=text
                )
            if key in found:
                raise InputError(f"the key {key!r} is given twice", path=text)
            if key in ("since", "until"):
                try:
                    found[key] = date.fromisoformat(value)
                except ValueError:
                    raise InputError(
                        f"{key}={value!r} is not an ISO 8601 date (YYYY-MM-DD)", path=text
                    ) from None
            else:
                found[key] = value
        since, until = found.get("since"), found.get("until")
        if since is not None and until is not None and until < since:
            raise InputError(f"until {until} is before since {since}", path=text)
        return cls(text, **found)

    def canonical(self) -> str:
        """The selection's keys in a fixed order (what the report records)."""
        return ",".join(
            f"{k}={v.isoformat() if isinstance(v, date) else v}"
            for k in SELECTION_KEYS
            if (v := getattr(self, k)) is not None
        )


def _matches(reference: str | None, ident: Any, version: Any) -> bool:
    if reference is None:
        return True
    wanted, at, wanted_version = reference.partition("@")
    return ident == wanted and (not at or str(version) == wanted_version)


# the columns a selection reads; ``spec`` and ``method`` are matched on their id and version
_READ = ("lot", "attribute", "value", "unit", "verdict", "disposition", "date", "released_at",
         "record_sha256", "spec_id", "spec_version", "method_id", "method_version")  # fmt: skip


def _rows(selection: Selection, data_dir: str | Path | None) -> tuple[Path, list[tuple[Any, ...]]]:
    """The selected rows (``_READ`` columns), each lot's latest matching release only."""
    from cytorelease.records.lot_results import lot_table_tuples
    from cytorelease.records.store import open_data

    data, store = open_data(data_dir, existing=True)
    with store:
        rows = lot_table_tuples(
            store, _READ, product=selection.product, site=selection.site,
            since=selection.since, every_release=True,
        )  # fmt: skip
    at = {name: i for i, name in enumerate(_READ)}
    kept = [
        r
        for r in rows
        if (selection.until is None or str(r[at["date"]]) <= selection.until.isoformat())
        and _matches(selection.spec, r[at["spec_id"]], r[at["spec_version"]])
        and _matches(selection.method, r[at["method_id"]], r[at["method_version"]])
    ]
    latest: dict[str, tuple[str, str]] = {}
    for r in kept:
        key = (str(r[at["released_at"]]), str(r[at["record_sha256"]]))
        latest[r[at["lot"]]] = max(latest.get(r[at["lot"]], key), key)
    chosen = [r for r in kept if latest[r[at["lot"]]][1] == r[at["record_sha256"]]]
    return data.root, chosen


def read_selection(text: str, data_dir: str | Path | None) -> ResultSet:
    """The result set the selection ``text`` picks out of the data folder's lots dataset."""
    from cytorelease.records.lot_table import table_csv

    selection = Selection.parse(text)
    root, rows = _rows(selection, data_dir)
    if not rows:
        raise InputError(
            f"the selection {text!r} matches no lot in the lots dataset",
            path=root,
            hint="check the keys against `lots table`, or bring releases in with `lots import`",
        )
    at = {name: i for i, name in enumerate(_READ)}
    builder = SetBuilder(root)
    dispositions: dict[str, str] = {}
    for r in rows:
        lot, attribute, text_value = r[at["lot"]], r[at["attribute"]], str(r[at["value"]] or "")
        if not text_value.strip():
            continue  # a pending result holds no value
        where = f"lot {lot} (record {str(r[at['record_sha256']])[:16]})"
        try:
            value = number_or_text(text_value)
        except ValueError as exc:
            raise InputError(f"{where}: value {exc}", path=root) from None
        verdict, unit = r[at["verdict"]] or None, r[at["unit"]] or None
        builder.add(Entry(lot, attribute, value, text_value, unit, verdict, where))
        if r[at["disposition"]]:
            dispositions[lot] = str(r[at["disposition"]])
    exported = table_csv([r[: at["disposition"] + 1] for r in rows], _READ[: at["disposition"] + 1])
    return ResultSet(
        root,
        hashlib.sha256(exported).hexdigest(),
        "lots-dataset",
        tuple(builder.entries),
        dispositions,
        True,
        selection=selection.canonical(),
    )
