"""A frozen baseline held to the order in which the lots dataset got its releases.

``trend --freeze`` charts each lot's latest release (by ``released_at``, then record SHA-256)
of the product (at the site, for a site's baseline) that holds the attribute, in series order
(by date, then lot id), and lists the first N: it has no option to leave a lot out or to
start the series later. The freeze reads those rows inside the write transaction that appends
its ``trend-freeze`` row, and every path that writes the lots dataset appends, in its own
write transaction, a row naming the record's SHA-256 (the worker's ``evaluate`` and
``render``, a person's ``render``, ``lots import``'s ``lots-import``). So the releases the
freeze saw are exactly those whose first such row comes before its freeze row in the trail's
sequence, whatever the writing hosts' clocks said.

Held to that, a version is refused when, for an attribute it lists:

- it leaves out a lot whose latest release stated before its freeze row is of that product
  (and site), holds the attribute and comes before the version's last lot in series order
  (a lot dated earlier that was stored after the freeze is no such lot);
- it lists a release of a lot when a later release of that lot was stated before its freeze
  row (the freeze would have charted the later one);
- it lists a release first stated after its freeze row.

A release no audit row states (none of cytorelease's paths writes one; rows put into the
table by hand) has no place in the sequence: it neither makes a lot left out nor a listed
release older, and a lot with such a release later than its stated ones is not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cytorelease.errors import InputError

if TYPE_CHECKING:
    from cytorelease.trend.frozen import FrozenBaseline

__all__ = ["StoredRelease", "held_to_sequence"]


@dataclass(frozen=True)
class StoredRelease:
    """One release record of the lots dataset, as a baseline is held to it."""

    lot: str
    product: str
    site: str | None
    date: str
    released_at: str
    values: dict[str, float | None]


Key = tuple[str, str]  # (released_at, record SHA-256): a lot's latest release ranks highest


@dataclass(frozen=True)
class _Lot:
    """What a freeze at one point of the trail saw of one lot."""

    latest: Key | None  # its latest release stated before the freeze row
    uncertain: bool  # a release no row states ranks above it: which one the freeze took is unknown


def _lots_at(
    releases: Mapping[str, list[Key]], stated: Mapping[str, int], freeze: int
) -> dict[str, _Lot]:
    seen = {}
    for lot, keys in releases.items():
        before = [k for k in keys if stated.get(k[1], freeze) < freeze]
        latest = max(before, default=None)
        unknown = [k for k in keys if k[1] not in stated]
        seen[lot] = _Lot(latest, latest is None or any(k > latest for k in unknown))
    return seen


def _problem(
    baseline: FrozenBaseline, entry: dict[str, Any], records: Mapping[str, StoredRelease],
    stated: Mapping[str, int], lots: Mapping[str, _Lot], freeze: int,
) -> str | None:  # fmt: skip
    """How one attribute's lots disagree with what a freeze at row ``freeze`` saw, or None."""
    listed = {str(lot["lot"]): str(lot["record_sha256"]) for lot in entry["lots"]}
    for name, sha in listed.items():
        first = stated.get(sha)
        if first is not None and first > freeze:
            return (
                f"lists lot {name!r} with record {sha[:16]}..., which the lots dataset got at "
                f"audit row {first}, after this version's freeze (row {freeze})"
            )
        latest, held = lots[name].latest if name in lots else None, records.get(sha)
        if latest is not None and held is not None and latest > (held.released_at, sha):
            return (
                f"lists lot {name!r} with record {sha[:16]}..., where the lots dataset held a "
                f"later release of it, record {latest[1][:16]}... (audit row "
                f"{stated[latest[1]]}), before this version's freeze (row {freeze}): a freeze "
                "charts each lot's latest release"
            )
    last = (str(entry["lots"][-1]["date"]), str(entry["lots"][-1]["lot"]))
    left_out = []
    for name, seen in lots.items():
        if name in listed or seen.uncertain or seen.latest is None:
            continue
        record = records[seen.latest[1]]
        if record.product != baseline.product or (
            baseline.site is not None and record.site != baseline.site
        ):
            continue
        if record.values.get(entry["attribute"]) is None or (record.date, name) >= last:
            continue
        left_out.append((record.date, name, seen.latest[1]))
    if not left_out:
        return None
    day, name, sha = min(left_out)
    return (
        f"leaves out lot {name!r} (record {sha[:16]}..., dated {day}), which the lots dataset "
        f"got at audit row {stated[sha]}, before this version's freeze (row {freeze}), and "
        f"which comes before its last lot {last[1]!r} ({last[0]}) in series order: a freeze "
        f"lists the first {len(listed)} lots of the series"
    )


def held_to_sequence(
    store: Any, versions: list[FrozenBaseline], records: Mapping[str, StoredRelease],
    freezes: Mapping[int, int],
) -> None:  # fmt: skip
    """Refuse a version that is not what a freeze at its ``trend-freeze`` row (``freezes``:
    version -> sequence) would have listed (the module); ``records`` are the releases of every
    lot the versions could have listed, as the baseline's one read of the dataset found them.
    One more read, of the trail's rows of those lots."""
    from cytorelease.records.audit import first_statements

    if not versions:
        return
    stated = first_statements(store, sorted({r.lot for r in records.values()}))
    releases: dict[str, list[Key]] = {}
    for sha, record in records.items():
        releases.setdefault(record.lot, []).append((record.released_at, sha))
    for baseline in versions:
        freeze = freezes[baseline.version]
        lots = _lots_at(releases, stated, freeze)
        for entry in baseline.attributes():
            problem = _problem(baseline, entry, records, stated, lots, freeze)
            if problem is not None:
                raise InputError(
                    f"version {baseline.version} ({baseline.ref}): {entry['attribute']}: "
                    f"{problem}: not the baseline a freeze made",
                    path=baseline.path,
                )
