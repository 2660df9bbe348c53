"""The tidy table every qPCR / dPCR reader returns, and the export that carries it.

One row per well and target. Columns (pandas dtypes):

========== ======= ==================================================================
column     dtype   meaning
========== ======= ==================================================================
well       str     well or chamber id as exported (``A01``, ``S48-A01``, ``K3``)
sample     str     sample name ("" when the export leaves it blank)
target     str     target / assay / detector name
task       str     a :class:`Task` value: standard, unknown, ntc, negative_control, ...
cq         float   quantification cycle; NaN when undetermined (no amplification)
call       str     the instrument's call as exported (Pass, Fail, OK, Amp, ...) or ""
excluded   bool    the export marks the well unusable (Biomark Fail, QuantStudio Omit)
quantity   float   copies per reaction for standards when the export carries it, else NaN
run        str     the run (RDML run id) or plate the row belongs to; "" when the export has
                   one run and does not name it
cq_source  str     ``export`` (the instrument's Cq) or ``computed`` (determined here from the
                   export's amplification curves)
========== ======= ==================================================================

An export can hold several runs (an RDML file with two experiments): :func:`select_run` keeps
one of them and refuses to guess which.

Digital PCR tables add ``partitions`` (accepted), ``positives`` (both float, NaN when not
exported), ``volume_nl`` (volume of one partition in nL, NaN when the export does not let it be
known) and ``concentration`` (copies/µL as exported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from cytorelease.qpcr.instrument_curve import InstrumentCurve

__all__ = [
    "DPCR_COLUMNS",
    "QPCR_COLUMNS",
    "CqSource",
    "ExportFormat",
    "QpcrExport",
    "Task",
    "make_table",
    "run_names",
    "select_run",
    "table_from_columns",
]


class ExportFormat(StrEnum):
    BIOMARK = "biomark"
    QUANTSTUDIO = "quantstudio"
    CFX = "cfx"
    RDML = "rdml"
    QX = "qx"
    QIACUITY = "qiacuity"
    ABSOLUTEQ = "absoluteq"


class Task(StrEnum):
    STANDARD = "standard"
    UNKNOWN = "unknown"
    NTC = "ntc"
    NEGATIVE_CONTROL = "negative_control"
    POSITIVE_CONTROL = "positive_control"
    EMPTY = "empty"


class CqSource(StrEnum):
    EXPORT = "export"  # the instrument's own Cq, as exported
    COMPUTED = "computed"  # determined by cytorelease from the export's amplification curves


QPCR_COLUMNS: tuple[str, ...] = (
    "well",
    "sample",
    "target",
    "task",
    "cq",
    "call",
    "excluded",
    "quantity",
    "run",
    "cq_source",
)
DPCR_COLUMNS: tuple[str, ...] = (
    *QPCR_COLUMNS,
    "partitions",
    "positives",
    "volume_nl",
    "concentration",
)

_TEXT = ("well", "sample", "target", "task", "call", "run", "cq_source")
_FLOAT = ("cq", "quantity", "partitions", "positives", "volume_nl", "concentration")


def make_table(rows: list[dict[str, Any]], *, digital: bool) -> pd.DataFrame:
    """A tidy table with every documented column, in order, with its dtype.

    Missing keys become "" (text), NaN (numbers) or False (``excluded``); a missing
    ``cq_source`` is ``export``.
    """
    import numpy as np
    import pandas as pd

    columns = DPCR_COLUMNS if digital else QPCR_COLUMNS
    data: dict[str, Any] = {}
    for name in columns:
        if name == "cq_source":
            data[name] = [str(r.get(name) or CqSource.EXPORT) for r in rows]
        elif name in _TEXT:
            data[name] = [str(r.get(name) or "") for r in rows]
        elif name == "excluded":
            data[name] = np.fromiter((bool(r.get(name, False)) for r in rows), bool, len(rows))
        else:
            data[name] = np.fromiter(
                (np.nan if r.get(name) is None else float(r[name]) for r in rows),
                np.float64,
                len(rows),
            )
    return pd.DataFrame(data, columns=list(columns))


def table_from_columns(columns: dict[str, Any], n: int, *, digital: bool) -> pd.DataFrame:
    """Like :func:`make_table` but from whole columns (arrays), for the large exports."""
    import numpy as np
    import pandas as pd

    names = DPCR_COLUMNS if digital else QPCR_COLUMNS
    data: dict[str, Any] = {}
    for name in names:
        value = columns.get(name)
        if name == "cq_source" and value is None:
            data[name] = np.full(n, CqSource.EXPORT.value, dtype=object)
        elif name in _TEXT:
            data[name] = (
                np.full(n, "", dtype=object) if value is None else np.asarray(value, object)
            )
        elif name == "excluded":
            data[name] = np.zeros(n, bool) if value is None else np.asarray(value, bool)
        else:
            data[name] = np.full(n, np.nan) if value is None else np.asarray(value, np.float64)
    return pd.DataFrame(data, columns=list(names))


def run_names(table: pd.DataFrame) -> list[str]:
    """The runs of a table in the order they first appear ("" = one unnamed run)."""
    if "run" not in table or table.empty:
        return []
    return [str(r) for r in table["run"].drop_duplicates().tolist()]


def _listing(runs: list[str]) -> str:
    return ", ".join(repr(r) for r in runs)


def select_run(table: pd.DataFrame, run: str | None, *, path: str | Path | None) -> pd.DataFrame:
    """The rows of one run of the export.

    ``run=None`` is accepted only when the table holds a single run (named or not): an export
    with several runs is refused with their names, since pooling them would mix two plates'
    standards, thresholds and controls into one analysis. A named run the export does not hold
    is refused, and so is a name given for an export that names no run (it cannot be checked).
    """
    runs = run_names(table)
    if run is None:
        if len(runs) > 1:
            raise InputError(
                f"the export holds {len(runs)} runs ({_listing(runs)}); one analysis reads one run",
                path=path,
                hint="name one with --run (lot.yaml: inputs.qpcr.run)",
            )
        return table
    if run not in runs or run == "":
        held = (
            "the export does not name its run"
            if runs == [""]
            else f"runs in the export: {_listing(runs) or 'none'}"
        )
        raise InputError(f"run {run!r} is not in the export ({held})", path=path)
    if len(runs) == 1:
        return table
    return table[table["run"] == run].reset_index(drop=True)


@dataclass(frozen=True)
class QpcrExport:
    """One parsed export: its format, the instrument it names, the tidy table and provenance."""

    format: ExportFormat
    instrument: str
    table: pd.DataFrame
    path: Path
    sha256: str
    digital: bool
    metadata: dict[str, str] = field(default_factory=dict)
    # target -> the curve the instrument's software fitted, when the export states it
    instrument_curves: dict[str, InstrumentCurve] = field(default_factory=dict)

    @property
    def runs(self) -> list[str]:
        """The export's runs in order of appearance (``[""]``: one run the export does not name)."""
        return run_names(self.table)

    def for_run(self, run: str | None) -> QpcrExport:
        """This export reduced to one run (see :func:`select_run`); ``self`` when it has one."""
        from dataclasses import replace

        table = select_run(self.table, run, path=self.path)
        return self if table is self.table else replace(self, table=table)

    def run_summary(self) -> list[dict[str, Any]]:
        """Each run with its row count and how many of its Cqs were computed from curves."""
        table = self.table
        return [
            {
                "run": run or None,
                "rows": int((mask := table["run"] == run).sum()),
                "computed_cq": int((mask & (table["cq_source"] == CqSource.COMPUTED)).sum()),
            }
            for run in self.runs
        ]

    def rows(self) -> list[dict[str, Any]]:
        """The table as JSON-ready dicts (NaN becomes None) with the documented keys."""
        import math

        keep = ["well", "sample", "target", "task", "cq", "call", "run", "cq_source"]
        if self.digital:
            keep += ["partitions", "positives", "volume_nl", "concentration"]
        keep.append("quantity")  # standards' copies per reaction; None for other wells
        out: list[dict[str, Any]] = []
        for record in self.table[keep].to_dict("records"):
            for key, value in record.items():
                if isinstance(value, float) and not math.isfinite(value):
                    record[key] = None
            record["run"] = record["run"] or None  # one run the export does not name
            for key in ("partitions", "positives"):
                if record.get(key) is not None:
                    record[key] = int(record[key])
            out.append(record)
        return out
