"""A plain summary of one FCS data set: what ``cytorelease flow inspect`` shows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.qc import nonfinite, nonfinite_rows
from cytorelease.flow.sample import Sample

__all__ = ["inspect_fcs"]

# $DATE as FCS 2.0-3.1 write it (dd-mmm-yyyy), with and without the century; $BTIM hh:mm:ss[.cc].
_DATE_FORMATS = ("%d-%b-%Y", "%d-%b-%y", "%Y-%m-%d", "%d/%m/%Y")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f")


def inspect_fcs(path: str | Path, dataset: int = 0, stats: bool = False) -> dict[str, Any]:
    """FCS version, event count, channels, spill, cytometer, acquisition date, data set count
    and sha256 of one data set, and each channel's count of non-finite values (NaN, +inf,
    -inf) with the number of events holding any; with ``stats``, each channel's min, max and
    mean of its finite values as stored (integers after their $PnR mask, no scaling), computed
    in float64."""
    sample = read_fcs(path, dataset=dataset)
    channels: list[dict[str, Any]] = []
    counted = nonfinite(sample)
    for channel in sample.channels:
        bad = counted[channel.index]
        entry: dict[str, Any] = {
            "name": channel.name,
            "label": channel.label,
            "range": channel.range,
            "bits": channel.bits,
            "nonfinite": {
                "nan": bad.nan,
                "positive_inf": bad.positive_inf,
                "negative_inf": bad.negative_inf,
            },
        }
        if stats:
            entry.update(_column_stats(sample.events[:, channel.index]))
        channels.append(entry)
    return {
        "path": str(sample.path),
        "fcs_version": sample.fcs_version,
        "event_count": sample.event_count,
        "nonfinite_events": _nonfinite_events(
            sample, [i for i, c in enumerate(counted) if c.events]
        ),
        "channels": channels,
        "spill": sample.spill.to_dict() if sample.spill is not None else None,
        "cytometer": sample.keywords.get("$CYT") or None,
        "acquisition_date": acquisition_date(sample.keywords),
        "datasets": sample.dataset_count,
        "dataset": sample.dataset_index,
        "sha256": sample.sha256,
    }


def _nonfinite_events(sample: Sample, indices: list[int]) -> int:
    return int(np.count_nonzero(nonfinite_rows(sample, indices))) if indices else 0


def _column_stats(column: np.ndarray) -> dict[str, float | None]:
    if column.dtype.kind == "f" and not np.isfinite(column).all():
        column = column[np.isfinite(column)]  # counted apart; a NaN would swallow every stat
    if column.size == 0:
        return {"min": None, "max": None, "mean": None}
    # min/max are exact in float32; the mean accumulates in float64 without copying the column.
    return {
        "min": float(column.min()),
        "max": float(column.max()),
        "mean": float(np.mean(column, dtype=np.float64)),
    }


def acquisition_date(keywords: Mapping[str, str]) -> str | None:
    """ISO 8601 acquisition start from $BEGINDATETIME (FCS 3.2) or $DATE + $BTIM; the text as
    written when it does not parse; None when the file does not say."""
    begin = keywords.get("$BEGINDATETIME")
    if begin:
        return begin
    date_text = keywords.get("$DATE", "").strip()
    if not date_text:
        return None
    date = _parse(date_text, _DATE_FORMATS)
    if date is None:
        return date_text
    time_text = keywords.get("$BTIM", "").strip()
    time = _parse(_drop_centiseconds(time_text), _TIME_FORMATS) if time_text else None
    if time is None:
        return date.date().isoformat()
    return datetime.combine(date.date(), time.time()).isoformat()


def _drop_centiseconds(text: str) -> str:
    # FCS 2.0/3.0 $BTIM may end in ":cc" (1/60 s or 1/100 s): keep hh:mm:ss.
    parts = text.split(":")
    return ":".join(parts[:3]) if len(parts) > 3 else text


def _parse(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
