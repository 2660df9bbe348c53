"""``cytorelease flow`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Flow cytometry: read FCS files, gate, cluster.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="flow")


@app.command(name="inspect")
def inspect(
    file: Annotated[Path, typer.Argument(help="The FCS file (2.0, 3.0, 3.1 or 3.2) to describe.")],
    stats: Annotated[
        bool,
        typer.Option(
            "--stats", help="Add each channel's min, max and mean (values as stored, float64)."
        ),
    ] = False,
    dataset: Annotated[
        int,
        typer.Option("--dataset", min=0, help="Which data set of a multi-data-set file (from 0)."),
    ] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show an FCS file's version, events, channels, spill, cytometer, date and sha256."""
    from cytorelease.cli._output import emit_json
    from cytorelease.flow.inspect import inspect_fcs

    summary = inspect_fcs(file, dataset=dataset, stats=stats)
    if json_out:
        emit_json(summary)
    else:
        _print_inspect(summary, stats)


def _print_inspect(summary: dict[str, Any], stats: bool) -> None:
    from cytorelease.cli._output import print_table

    spill = summary["spill"]
    print_table(
        summary["path"],
        ("field", "value"),
        [
            ("FCS version", summary["fcs_version"]),
            ("events", f"{summary['event_count']:,}"),
            ("channels", str(len(summary["channels"]))),
            ("data set", f"{summary['dataset']} of {summary['datasets']} (from 0)"),
            ("cytometer", summary["cytometer"] or "-"),
            ("acquired", summary["acquisition_date"] or "-"),
            ("spill", f"{len(spill['channels'])} x {len(spill['channels'])}" if spill else "-"),
            ("sha256", summary["sha256"]),
        ],
    )
    columns = ["#", "name", "label", "range", "bits"]
    if stats:
        columns += ["min", "max", "mean"]
    rows = []
    for number, channel in enumerate(summary["channels"], start=1):
        row: list[Any] = [
            number,
            channel["name"],
            channel["label"],
            channel["range"],
            channel["bits"],
        ]
        if stats:
            row += [_fmt(channel["min"]), _fmt(channel["max"]), _fmt(channel["mean"])]
        rows.append(row)
    print_table("channels", columns, rows)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
