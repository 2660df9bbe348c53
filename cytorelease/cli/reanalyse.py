"""``cytorelease reanalyse``: change control's impact assessment over the archived lots."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption, SignersOption, signer_registry

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.unlock import Unlocked

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
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the impact report here (HTML; a new file)."),
    ] = None,
    sign: Annotated[
        Path | None,
        typer.Option(
            "--sign", help="Sign the report as the impact assessment performed by you (KEY.pem)."
        ),
    ] = None,
    registry: SignersOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-analyse released lots under a proposed template, assay or spec (what-if records).

    Each lot's archived raw files are re-hashed, the analyses the change touches re-run, and the
    outcome stored as a what-if record beside (never instead of) the release. A second run of
    the same change skips what is done. --out writes the impact report; --sign signs it
    `performed` (passphrase prompted, or CYTORELEASE_PASSPHRASE) before QA signs it `reviewed`
    with `cytorelease sign`. Exit 0 when every lot was re-analysed or skipped, 1 when any failed
    to re-analyse, 2 for bad input.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cytorelease.cli._output import console, emit_json
    from cytorelease.reanalyse.run import start_reanalysis

    def log(line: str) -> None:
        typer.echo(line, err=True)

    trail, signing = _before_the_run(data_dir, out, sign, registry)

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
    if out is not None:
        from cytorelease.reanalyse.impact import selection_of
        from cytorelease.reanalyse.impact_report import write_impact_report

        chosen = [lot.strip() for lot in lots.split(",") if lot.strip()] if lots else None
        record = outcome.impact_record(selection_of(product, _since(since), chosen))
        written = write_impact_report(record, out, signing=signing, trail=trail)
        summary["report"] = written.to_dict()
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
        if out is not None:
            signature = summary["report"]["signature"]
            signed = f", signed performed by {signature['user_id']}" if signature else ""
            typer.echo(f"impact report: {out}{signed}")
    raise typer.Exit(1 if summary["failed"] else 0)


def _before_the_run(
    data_dir: Path | None, out: Path | None, key: Path | None, registry: Path | None
) -> tuple[Trail | None, Unlocked | None]:
    """The report's file is new and the key unlocks before hours of re-analysis, not after."""
    from cytorelease.errors import InputError, SignatureError

    if key is not None and out is None:
        raise InputError("--sign signs the impact report, and no --out names it", path=key,
                         hint="add --out REPORT.html")  # fmt: skip
    if out is None:
        return None, None
    from cytorelease.reanalyse.impact_report import refuse_existing
    from cytorelease.records.store import open_data
    from cytorelease.records.trail import open_trail

    refuse_existing(out)
    # the run's own data folder, refused before its trail is read (a store is never created)
    data, store = open_data(data_dir, existing=True)
    store.close()
    trail = open_trail(data.root)
    if key is None:
        return trail, None
    chosen = signer_registry(registry, data_dir)
    if chosen is None:
        raise SignatureError(
            "an impact report is signed and checked against the site's signer registry, and "
            "none was given",
            path=key,
            hint="pass --registry DIR (or set CYTORELEASE_REGISTRY)",
        )
    from cytorelease.cli.keys import read_passphrase
    from cytorelease.report.unlock import unlock_signer

    signing = unlock_signer(key, read_passphrase(confirm=False), chosen, target=out,
                            purpose="performed", trail=trail)  # fmt: skip
    return trail, signing


def register(root: typer.Typer) -> None:
    root.command(name="reanalyse")(reanalyse)
