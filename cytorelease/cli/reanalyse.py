"""``cytorelease reanalyse``: change control's impact assessment over the archived lots."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption

__all__ = ["register"]


def _since(value: str | None) -> date | None:
    from cytorelease.errors import InputError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError("is not a date", path=value, hint="--since YYYY-MM-DD") from None


def reanalyse(
    data_dir: DataDirOption = None,
    product: Annotated[
        str | None, typer.Option("--product", help="Only lots of this product.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only lots released on or after this UTC date (YYYY-MM-DD)."),
    ] = None,
    lots: Annotated[
        str | None, typer.Option("--lots", help="Only these lots (comma-separated ids).")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="The proposed gating template: ID@VERSION or PATH."),
    ] = None,
    assay: Annotated[
        str | None, typer.Option("--assay", help="The proposed assay: ID@VERSION or PATH.")
    ] = None,
    spec: Annotated[
        str | None, typer.Option("--spec", help="The proposed spec: PRODUCT@VERSION or PATH.")
    ] = None,
    executor: Annotated[
        str,
        typer.Option("--executor", help="Where lots run: serial, local (a process pool) or dask."),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="A Dask cluster's scheduler (tcp://HOST:8786); else a LocalCluster."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker processes (local pool or LocalCluster)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-analyse released lots under a proposed template, assay or spec (what-if records).

    Each lot's archived raw files are re-hashed, the analyses the change touches re-run, and the
    outcome stored as a what-if record beside (never instead of) the release. A second run of
    the same change skips what is done. Exit 0 when every lot was re-analysed or skipped, 1 when
    any failed to re-analyse, 2 for bad input.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cytorelease.cli._output import console, emit_json
    from cytorelease.reanalyse.run import start_reanalysis

    def log(line: str) -> None:
        typer.echo(line, err=True)

    with Progress(
        TextColumn("reanalyse"), BarColumn(), MofNCompleteColumn(),
        console=console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("reanalyse", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        outcome = start_reanalysis(
            data_dir, template=template, assay=assay, spec=spec, executor_name=executor,
            scheduler=scheduler, workers=workers, product=product, since=_since(since),
            lots=[lot.strip() for lot in lots.split(",") if lot.strip()] if lots else None,
            progress=progress, on_dashboard=lambda link: log(f"dask dashboard: {link}"), log=log,
        )  # fmt: skip
    summary = outcome.to_dict()
    if as_json:
        emit_json(summary)
    else:
        typer.echo(
            f"{summary['lots']} lots: {summary['reanalysed']} re-analysed, "
            f"{summary['skipped']} already done, {len(summary['failed'])} failed, "
            f"{len(summary['flips'])} disposition flips"
        )
        for flip in summary["flips"]:
            typer.echo(
                f"flip: {flip['lot']}: {flip['from']} -> {flip['to']} "
                f"({', '.join(flip['criteria']) or 'no criterion'})"
            )
        for failure in summary["failed"]:
            typer.echo(f"failed: {failure['lot']}: {failure['reason']}")
    raise typer.Exit(1 if summary["failed"] else 0)


def register(root: typer.Typer) -> None:
    root.command(name="reanalyse")(reanalyse)
