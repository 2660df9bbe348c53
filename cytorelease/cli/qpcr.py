"""``cytorelease qpcr`` commands: read an export, compute vector copy number, fit one curve."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cytorelease.cli._options import JsonOption

app = typer.Typer(
    help="qPCR and digital PCR: read exports, compute vector copy number.", no_args_is_help=True
)


class FormatChoice(StrEnum):
    AUTO = "auto"
    BIOMARK = "biomark"
    QUANTSTUDIO = "quantstudio"
    CFX = "cfx"
    RDML = "rdml"
    QX = "qx"
    QIACUITY = "qiacuity"
    ABSOLUTEQ = "absoluteq"


_FORMAT_HELP = "Export format; 'auto' recognises it from the file's content (never its name)."


@app.command("read")
def read(
    export: Annotated[Path, typer.Argument(help="qPCR / dPCR results export.")],
    fmt: Annotated[FormatChoice, typer.Option("--format", help=_FORMAT_HELP)] = FormatChoice.AUTO,
    as_json: JsonOption = False,
) -> None:
    """Print an export as the tidy table: well, sample, target, task, Cq, call (+ dPCR counts)."""
    from cytorelease.cli._output import console, emit_json, print_table
    from cytorelease.qpcr.readers import read_export

    parsed = read_export(export, fmt.value)
    rows = parsed.rows()
    runs = parsed.run_summary()
    if as_json:
        emit_json(
            {
                "format": parsed.format.value,
                "instrument": parsed.instrument,
                "sha256": parsed.sha256,
                "runs": runs,
                "rows": rows,
            }
        )
        return
    columns = ["well", "sample", "target", "task", "cq", "cq_source", "call"]
    if len(runs) > 1:
        columns.insert(0, "run")
    if parsed.digital:
        columns += ["partitions", "positives", "volume_nl", "concentration"]
    print_table(
        f"{parsed.instrument} ({parsed.format.value}, {len(rows):,} rows)",
        columns,
        [[_cell(r[c]) for c in columns] for r in rows],
    )
    out = console()
    for run in runs:
        computed = f", {run['computed_cq']} Cq computed from curves" if run["computed_cq"] else ""
        out.print(f"run {run['run'] or '(not named)'}: {run['rows']:,} rows{computed}")
    if len(runs) > 1:
        out.print(f"{len(runs)} runs: analyses read one (--run)")
    out.print(f"sha256 {parsed.sha256}")


def _cell(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


@app.command("vcn")
def vcn(
    export: Annotated[Path, typer.Argument(help="qPCR / dPCR results export.")],
    assay: Annotated[
        str, typer.Option("--assay", help="VCN assay definition (name in assays/ or a path).")
    ],
    fmt: Annotated[FormatChoice, typer.Option("--format", help=_FORMAT_HELP)] = FormatChoice.AUTO,
    car_fraction: Annotated[
        float | None,
        typer.Option(
            "--car-fraction",
            help="CAR+ fraction of viable T cells from flow (0-1), for VCN per transduced cell.",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="The export's run to analyse (required when it holds several runs)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Standard curves or Poisson counts, run acceptance, and each sample's VCN with its CI.

    Exits 1 when the run fails acceptance (no VCN is reported then), 2 on bad input.
    """
    from cytorelease.qpcr.vcn import analyse_export

    result = analyse_export(export, assay, fmt=fmt.value, car_fraction=car_fraction, run=run)
    _emit(result, as_json, _render)


def _emit(result: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """JSON or the human tables; a run that fails acceptance exits 1 either way."""
    from cytorelease.cli._output import emit_json

    if as_json:
        emit_json(result.to_dict())
    else:
        render(result)
    if not result.passed:
        raise typer.Exit(1)


def _print_heading(out: Any, result: Any) -> None:
    out.print(
        f"{result.instrument} ({result.format})" + (f" run {result.run}" if result.run else "")
    )
    for flag in result.flags:
        out.print(f"flag: {flag}")


def _num(value: float | None, places: int = 3) -> float | None:
    return None if value is None else round(value, places)


def _render(result: Any) -> None:
    from cytorelease.cli._output import console, print_table

    out = console()
    _print_heading(out, result)
    if result.curves:
        print_table(
            "Standard curves",
            ["target", "slope", "intercept", "efficiency %", "R^2", "levels", "wells"],
            [
                [
                    c.target,
                    _num(c.slope),
                    _num(c.intercept, 2),
                    _num(c.efficiency_pct, 1),
                    _num(c.r_squared, 4),
                    c.levels,
                    c.n,
                ]
                for c in result.curves
            ],
        )
    print_table(
        "Run acceptance",
        ["check", "value", "limit", "result"],
        [[c.check, c.value, c.limit, "pass" if c.passed else "FAIL"] for c in result.checks],
    )
    if result.passed:
        print_table(
            "VCN (copies per diploid genome)",
            ["sample", "role", "VCN", "95% CI", "replicates (T/R)", "note"],
            [
                [
                    s.sample,
                    s.role or "",
                    _num(s.vcn),
                    "" if s.vcn is None else f"{s.ci_low:.3f}-{s.ci_high:.3f}",
                    f"{s.replicates['transgene']}/{s.replicates['reference']}",
                    s.note,
                ]
                for s in result.samples
            ],
        )
    for m in result.measurements:
        shown = m.details.get("reason", "") if m.value is None else m.value
        if isinstance(shown, float):
            shown = f"{shown:.3f} {m.unit}"
        out.print(f"{m.attribute} [{m.details.get('sample')}]: {shown}")
    verdict = "PASSED" if result.passed else "FAILED: " + "; ".join(result.reasons)
    out.print(f"run {verdict}")


@app.command("curve")
def curve(
    export: Annotated[Path, typer.Argument(help="qPCR results export with a dilution series.")],
    target: Annotated[str, typer.Option("--target", help="The target whose curve to fit.")],
    assay: Annotated[
        str | None,
        typer.Option(
            "--assay",
            help="Assay (name in assays/ or a path) for the standards' copies and the acceptance"
            " limits; without one, quantities come from the export and default limits apply.",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="The export's run to analyse (required when it holds several runs)."
        ),
    ] = None,
    fmt: Annotated[FormatChoice, typer.Option("--format", help=_FORMAT_HELP)] = FormatChoice.AUTO,
    as_json: JsonOption = False,
) -> None:
    """One target's standard curve, each other well's copies by inverse prediction with its CI.

    Shows the instrument's own curve beside ours when the export states it. Exits 1 when the
    run fails acceptance (no quantity is reported then), 2 on bad input.
    """
    from cytorelease.qpcr.curve import analyse_curve

    result = analyse_curve(export, target, assay=assay, run=run, fmt=fmt.value)
    _emit(result, as_json, _render_curve)


def _render_curve(result: Any) -> None:
    from cytorelease.cli._output import console, print_table

    out = console()
    _print_heading(out, result)
    c, inst = result.curve, result.instrument_curve
    rows = [["cytorelease", _num(c.slope), _num(c.intercept), _num(c.r_squared, 4),
             _num(c.efficiency_pct, 1)]]  # fmt: skip
    if inst is not None:
        rows.append(["instrument", inst.slope, inst.intercept, inst.r_squared, inst.efficiency_pct])
    print_table(
        f"Standard curve {result.target} ({c.n} wells, {c.levels} levels)",
        ["curve", "slope", "intercept", "R^2", "efficiency %"],
        rows,
    )
    if result.slope_difference_pct is not None:
        out.print(f"slope differs from the instrument's by {result.slope_difference_pct:+.2f} %")
    print_table(
        "Standards",
        ["well", "sample", "Cq", "quantity", "source", "read back", "left out"],
        [
            [
                s.well,
                s.sample,
                _num(s.cq),
                f"{s.quantity:.4g}",
                s.quantity_source,
                "" if s.back_calculated is None else f"{s.back_calculated[0]:.4g}",
                s.reason or "",
            ]
            for s in [*result.standards_used, *result.standards_excluded]
        ],
    )
    print_table(
        "Run acceptance",
        ["check", "value", "limit", "result"],
        [[ch.check, ch.value, ch.limit, "pass" if ch.passed else "FAIL"] for ch in result.checks],
    )
    print_table(
        f"Wells (copies per reaction, {result.confidence:.0%} CI)",
        ["well", "sample", "task", "Cq", "quantity", "CI", "note"],
        [
            [
                w.well,
                w.sample,
                w.task,
                _num(w.cq),
                "" if w.quantity is None else f"{w.quantity:.4g}",
                "" if w.ci_low is None else f"{w.ci_low:.4g}-{w.ci_high:.4g}",
                w.reason or "",
            ]
            for w in result.wells
        ],
    )
    verdict = "PASSED" if result.passed else "FAILED: " + "; ".join(result.reasons)
    out.print(f"run {verdict}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="qpcr")
