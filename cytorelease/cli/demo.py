"""``cytorelease demo``: the whole pipeline on the bundled sample lot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption


def register(root: typer.Typer) -> None:
    root.command(name="demo")(demo)


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's outputs.")] = Path(
        "cytorelease-demo"
    ),
    as_json: JsonOption = False,
) -> None:
    """Run every available analysis on the bundled sample lot and say what was done."""
    from cytorelease.cli._output import console, emit_json
    from cytorelease.demo import run_demo

    summary = run_demo(out)
    if as_json:
        emit_json(summary)
    else:
        con = console()
        for step in summary["steps"]:
            con.print(f"[bold]{step['step']}[/bold]: {step['outcome']}")
        if summary.get("report"):
            con.print(f"CoA: {summary['report']}")
        if summary.get("disposition"):
            con.print(f"Disposition: [bold]{summary['disposition']}[/bold]")
    raise typer.Exit(summary.get("exit_code", 0))
