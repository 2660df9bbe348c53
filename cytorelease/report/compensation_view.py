"""The CoA's compensation line: which spillover matrix compensated each flow analysis, and its
SHA-256, read from the analysis' record (``summary.compensation``, written by
``cytorelease.flow.gating.compensation_source``). A record without one (made before the
record held it, or an analysis without flow) shows nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["compensation_view"]


def compensation_view(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per analysis that records its compensation, in the record's order."""
    rows = []
    for analysis in record.get("analyses") or []:
        summary = analysis.get("summary") if isinstance(analysis, Mapping) else None
        found = summary.get("compensation") if isinstance(summary, Mapping) else None
        if not isinstance(found, Mapping):
            continue
        rows.append(
            {
                "analysis": _text(analysis.get("analysis")),
                "description": _text(found.get("description")),
                "matrix_sha256": _text(found.get("matrix_sha256")),
            }
        )
    return rows


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)
