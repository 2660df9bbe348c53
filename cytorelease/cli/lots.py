"""``cytorelease lots``: the lots dataset of a data folder (import release records, export it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption

app = typer.Typer(
    help="The lots dataset: every release's results, one row per lot and attribute.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="lots")


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date (YYYY-MM-DD)", param_hint="'--since'"
        ) from None


@app.command("import")
def import_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="result.json files, or folders to find them in (at any depth)."),
    ],
    site: Annotated[
        str | None,
        typer.Option(
            "--site",
            help="The site that made these lots (for records that name none).",
            show_default=False,
        ),
    ] = None,
    unchecked: Annotated[
        bool,
        typer.Option(
            "--unchecked",
            help="Take a record no CoA or release row vouches for as it stands (rows say so).",
        ),
    ] = False,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring release records into the lots dataset; a record already held adds nothing.

    Each record is held against its CoA (the record it embeds, the hash its signatures bind)
    and the data folder's release rows; any file that is not a release record, or not the
    record they name, refuses the whole import (exit 2).
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.lot.dataset_import import import_records

    report = import_records(data_dir, paths, site=site, unchecked=unchecked)
    if as_json:
        emit_json(report.to_dict())
        return
    document = report.to_dict()
    console().print(
        f"{len(report.imported)} record(s) imported ({document['rows_added']} rows), "
        f"{len(report.already)} already in the dataset: {report.data_dir}"
    )


@app.command("table")
def table_command(
    out: Annotated[
        Path, typer.Option("--out", help="The table to write: FILE.csv, or FILE.parquet.")
    ],
    product: Annotated[
        str | None, typer.Option("--product", help="Only this product's lots.", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only lots dated (made) on or after this day.", show_default=False
        ),
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="Only this site's lots.", show_default=False)
    ] = None,
    every_release: Annotated[
        bool,
        typer.Option("--every-release", help="Every release of a lot, not only its latest."),
    ] = False,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the lots dataset tidy: one row per lot and attribute, each lot's latest release.

    Columns: lot, product, site, date, attribute, value, unit, verdict, spec, then the
    record's provenance (hashes, methods, instrument, disposition). Parquet needs pyarrow.
    """
    from cytorelease._gc import collector_paused
    from cytorelease.cli._output import emit_json
    from cytorelease.records.lot_table import export_table

    with collector_paused():  # a tuple per row: see cytorelease/_gc.py
        report = export_table(
            data_dir, out, product=product, since=_day(since), site=site,
            every_release=every_release,
        )  # fmt: skip
    if as_json:
        emit_json(report.to_dict())
        return
    # one plain line: rich (a third of a second to import the first time) would also read
    # brackets in the path as markup and wrap a long one
    typer.echo(f"{report.rows} rows ({report.lots} lots) written to {report.out}")
