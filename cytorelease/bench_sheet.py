"""A bench sheet: manual results as recorded at the bench (on paper or in a LIMS), in a file.

The synthetic lots carry one (``bench_sheet.yaml``) so the demo and the tests have values to
enter. A release never reads it: a value counts only once it has been entered and verified by
two people with :mod:`cytorelease.manual`, each typing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["BENCH_SHEET", "BENCH_SHEET_SCHEMA", "BenchResult", "read_bench_sheet"]

BENCH_SHEET = "bench_sheet.yaml"
BENCH_SHEET_SCHEMA = "cytorelease.bench-sheet/1"


@dataclass(frozen=True, slots=True)
class BenchResult:
    attribute: str
    value: str
    unit: str | None
    recorded_by: str
    recorded_at: str


def read_bench_sheet(path: Path) -> list[BenchResult]:
    """The results of a bench sheet; ``InputError`` naming the line for anything malformed."""
    from cytorelease._yaml import YamlLinesError, load_yaml_with_lines, read_document_text

    text = read_document_text(path, error=InputError, what="bench sheet")
    try:
        document = load_yaml_with_lines(text)
    except YamlLinesError as exc:
        raise InputError(f"line {exc.line}: {exc}" if exc.line else str(exc), path=path) from None
    data = document.data
    if not isinstance(data, dict) or data.get("schema") != BENCH_SHEET_SCHEMA:
        raise InputError(f"not a bench sheet (schema: {BENCH_SHEET_SCHEMA})", path=path)
    rows = data.get("results")
    if not isinstance(rows, list):
        raise InputError("'results' must be a list", path=path)
    found = []
    for index, row in enumerate(rows):
        line = document.lines.line_of(("results", index))
        fields = ("attribute", "value", "recorded_by", "recorded_at")
        if not isinstance(row, dict) or any(row.get(f) is None for f in fields):
            raise InputError(f"results[{index}] (line {line}): needs {', '.join(fields)}",
                             path=path)  # fmt: skip
        unit = row.get("unit")
        found.append(
            BenchResult(
                attribute=str(row["attribute"]),
                value=str(row["value"]),
                unit=str(unit) if unit is not None else None,
                recorded_by=str(row["recorded_by"]),
                recorded_at=str(row["recorded_at"]),
            )
        )
    return found
