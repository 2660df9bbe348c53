"""``trend --freeze``: a report's baselines written into the data folder as locked versions.

A pooled report freezes the product's baseline; a ``--by-site`` report freezes one baseline per
site from that site's charts (layout and checks: :mod:`cytorelease.trend.frozen`). Each version
is placed in the transaction that appends its ``trend-freeze`` audit row, which first reads the
charted rows again and refuses when they are not the report's (so the releases charted are
those the trail states before the freeze row), and a failure leaves neither; with
``--by-site`` each site is its own transaction, so a failure at a later site leaves the earlier
sites' versions frozen and recorded, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease._lock import LOCK_NAME, add_lock_entry
from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json, content_sha256
from cytorelease.trend.baseline_doc import BASELINE_SCHEMA, document_problem
from cytorelease.trend.chart import Chart
from cytorelease.trend.frozen import FrozenBaseline, baseline_folder, baseline_ref, current_baseline
from cytorelease.trend.report import TrendReport
from cytorelease.trend.series import ORDERING

__all__ = ["freeze_from_data"]


def _record_hashes(store: Any, product: str, attributes: tuple[str, ...], rows_sha: str,
                   source: Path) -> dict[tuple[str, str], str]:  # fmt: skip
    """(lot, attribute) -> record SHA-256 of the rows charted, held to the report's rows hash
    (the rows are read again, inside the freeze's write transaction: a release stored since
    the report read them would name other records)."""
    import hashlib

    from cytorelease.records.lot_results import lot_table_tuples

    rows = lot_table_tuples(
        store, ("lot", "attribute", "record_sha256"), product=product, attributes=attributes
    )
    digest = hashlib.sha256()
    for _, attribute, sha in rows:
        digest.update(f"{sha} {attribute}\n".encode())
    if digest.hexdigest() != rows_sha:
        raise InputError(
            "the lots dataset changed while the baseline was frozen", path=source,
            hint="freeze again",
        )  # fmt: skip
    return {(str(lot), str(attribute)): str(sha) for lot, attribute, sha in rows}


def _document(
    report: TrendReport, charts: Sequence[Chart], hashes: Mapping[tuple[str, str], str], *,
    product: str, site: str | None, version: int, actor: str, now: datetime,
    supersedes: dict[str, Any] | None, store_location: str,
) -> dict[str, Any]:  # fmt: skip
    from cytorelease import __version__

    attributes = []
    for chart in charts:
        s, b = chart.series, chart.baseline
        lots = [
            {"lot": lot, "date": day.isoformat(), "value": value,
             "record_sha256": hashes[(lot, s.attribute)]}
            for lot, day, value in zip(s.lots[: b.n], s.dates, s.values, strict=False)
        ]  # fmt: skip
        attributes.append(
            {"attribute": s.attribute, "n": b.n, "center": b.center, "ucl": b.ucl,
             "lcl": b.lcl, "mr_bar": b.mr_bar, "mr_ucl": b.mr_ucl, "sigma": b.sigma,
             "lsl": s.lsl, "usl": s.usl, "lots": lots}
        )  # fmt: skip
    document = {
        "schema": BASELINE_SCHEMA,
        "id": product,
        "product": product,
        "version": version,
        "frozen_at": now.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "frozen_by": actor,
        "software_version": __version__,
        "source": {"store": store_location, "rows_sha256": report.source_sha256},
        "ordering": ORDERING,
        "baseline_n": report.baseline_n,
        "supersedes": supersedes,
        "attributes": attributes,
    }
    if site is not None:  # a pooled document keeps the keys it always had
        document["site"] = site
    return document


def freeze_from_data(
    data_dir: str | Path,
    report: TrendReport,
    *,
    product: str,
    actor: str,
    now: datetime | None = None,
) -> tuple[FrozenBaseline, ...]:
    """Freeze the baselines of ``report`` (drawn from ``data_dir``'s lots dataset for
    ``product``) as the next version of the product's pooled baseline, or, for a ``--by-site``
    report, of each site's baseline (sites in order)."""
    from cytorelease.records.store import open_data

    groups: dict[str | None, list[Chart]] = {}
    for chart in report.charts:
        groups.setdefault(chart.series.site if report.by_site else None, []).append(chart)
    folders = {site: baseline_folder(data_dir, product, site) for site in groups}  # names first
    frozen = []
    attributes = tuple(dict.fromkeys(c.series.attribute for c in report.charts))
    _, store = open_data(data_dir, existing=True)
    with store:
        for site in sorted(groups, key=lambda s: s or ""):
            with store.write():
                # read under the write lock that orders the trail: the releases charted are
                # exactly those stated before this freeze's row (trend/frozen_sequence.py)
                hashes = _record_hashes(
                    store, product, attributes, report.source_sha256, report.source
                )
                frozen.append(
                    _freeze_one(
                        data_dir,
                        store,
                        report,
                        groups[site],
                        hashes,
                        product=product,
                        site=site,
                        folder=folders[site],
                        actor=actor,
                        now=now or datetime.now(UTC),
                    )
                )
    return tuple(frozen)


def _freeze_one(
    data_dir: str | Path, store: Any, report: TrendReport, charts: list[Chart],
    hashes: Mapping[tuple[str, str], str], *, product: str, site: str | None, folder: Path,
    actor: str, now: datetime,
) -> FrozenBaseline:  # fmt: skip
    from cytorelease.records import audit

    # the whole history checked, as a release checks it: a changed or removed version is
    # refused, never named as superseded
    previous = current_baseline(data_dir, product, store, site)
    supersedes = None if previous is None else {"version": previous.version,
                                                "sha256": previous.sha256}  # fmt: skip
    version = 1 if previous is None else previous.version + 1
    document = _document(
        report, charts, hashes, product=product, site=site, version=version, actor=actor,
        now=now, supersedes=supersedes, store_location=str(store.location),
    )  # fmt: skip
    problem = document_problem(document, product=product, site=site, version=version)
    if problem is not None:  # what a release would refuse is never written
        raise ValueError(f"a freeze built a baseline a release would refuse: {problem}")
    sha = content_sha256(document)
    path = folder / f"v{version}.json"
    audit.append(
        store, actor=actor, action=audit.Action.TREND_FREEZE,
        object=baseline_ref(product, site, version),
        details={"sha256": sha, "path": str(path.absolute()), "site": site, "baseline_n":
                 report.baseline_n, "attributes": [a["attribute"] for a in
                 document["attributes"]], "rows_sha256": report.source_sha256,
                 "supersedes": supersedes},
    )  # fmt: skip
    _place(folder, path, document, f"{product}@{version}", sha)
    return FrozenBaseline(path, document, sha)


def _place(folder: Path, path: Path, document: dict[str, Any], ref: str, sha: str) -> None:
    """Write the version file (never over an existing one), then its LOCK line; a failure
    here rolls the audit row back with the caller's transaction."""
    canonical_json(document)  # refuses NaN / inf before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise InputError(
            "exists already: a frozen baseline is never overwritten", path=path
        ) from None
    try:
        add_lock_entry(folder / LOCK_NAME, ref, sha, header="", error=InputError)
    except (OSError, InputError):
        path.unlink(missing_ok=True)
        raise
