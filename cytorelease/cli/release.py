"""``cytorelease release``: from a lot folder to result.json and a draft CoA."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption, SignersOption, TrailOption, signer_registry


def register(root: typer.Typer) -> None:
    root.command(name="release")(release)


def release(
    lot_dir: Annotated[
        Path, typer.Argument(help="The lot folder (holds lot.yaml and the raw files).")
    ],
    spec: Annotated[
        str | None,
        typer.Option(
            "--spec", help="Spec file or reference (cd19-car-t@2); default: the manifest's."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default ./<lot id>-release).")
    ] = None,
    registry: SignersOption = None,
    data_dir: TrailOption = None,
    export_wsp: Annotated[
        Path | None,
        typer.Option(
            "--export-wsp",
            help="Also write the gated flow tube, with the gates placed on it, as a FlowJo 10 "
            "workspace to OUT.wsp (before the record and the CoA).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run every analysis the manifest names, evaluate the spec, write result.json and a draft CoA.

    Manual results count once entered and verified by two people (`cytorelease manual`), checked
    against the signer registry; without a registry they are shown as unverified.

    Exit 0 when the lot passes, 1 when it fails or is incomplete, 2 for bad input.
    """
    from rich.progress import BarColumn, Progress, TextColumn

    from cytorelease.cli._output import console, emit_json, print_table
    from cytorelease.lot.release import release_lot
    from cytorelease.records.datadir import DataDir
    from cytorelease.records.trail import open_trail
    from cytorelease.trend.oot import out_of_trend

    if data_dir is not None and (
        line := DataDir.open(data_dir, create=False).use_configured_library()
    ):
        typer.echo(line, err=True)  # the data folder's library.yaml names the site library
    with Progress(
        TextColumn("{task.description}"), BarColumn(), console=console(stderr=True), transient=True
    ) as bar:
        task = bar.add_task("release", total=1)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        outcome = release_lot(
            lot_dir, spec=spec, out=out, progress=progress, trail=open_trail(data_dir),
            registry=signer_registry(registry, data_dir), trend_review=out_of_trend,
            export_wsp=export_wsp,
        )  # fmt: skip
    summary = outcome.to_dict()
    if as_json:
        emit_json(summary)
    else:
        print_table(
            f"Lot {summary['lot']['id']} against {summary['spec']['id']} v{summary['spec']['version']}",
            ["criterion", "attribute", "reported", "limit", "verdict"],
            [
                [c["id"], c["attribute"], c["reported"], c["limit"], c["verdict"]]
                for c in summary["criteria"]
            ],
        )
        for analysis in summary["analyses"]:
            if analysis["status"] != "done":
                console().print(
                    f"{analysis['analysis']}: {analysis['status']} ({analysis['reason']})"
                )
        for flag in (summary.get("out_of_trend") or {}).get("flags") or []:
            rules = ", ".join(str(r) for r in flag["rules"])
            console().print(
                f"{flag['flag']}: {flag['attribute']} (Nelson rule {rules}); for review, "
                "the verdict is unchanged", markup=False,
            )  # fmt: skip
        console().print(f"Disposition: [bold]{summary['disposition']}[/bold]")
        console().print(f"Result: {summary['result']}\nCoA: {summary['report']}")
        if outcome.workspace is not None:
            console().print(f"FlowJo workspace: {outcome.workspace}")
    raise typer.Exit(outcome.exit_code)
