"""``cytorelease trend``: control charts of attributes across lots, from a historical table or
the lots dataset of a data folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cytorelease.cli._options import JsonOption

if TYPE_CHECKING:
    from cytorelease.trend.frozen import FrozenBaseline


def register(root: typer.Typer) -> None:
    root.command(name="trend")(trend)


def trend(
    attributes: Annotated[
        list[str], typer.Argument(help="The attributes to chart (e.g. flow.viability_pct).")
    ],
    from_csv: Annotated[
        Path | None,
        typer.Option(
            "--from-csv",
            help="A table with columns lot, date, attribute, value (optional: site, lsl, usl).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Chart the lots dataset of this data folder (each lot's latest release) "
            "instead of a table.",
            show_default=False,
        ),
    ] = None,
    product: Annotated[
        str | None,
        typer.Option("--product", help="With --data-dir: the product whose lots to chart."),
    ] = None,
    baseline: Annotated[
        int,
        typer.Option(
            "--baseline", min=2, help="Phase I baseline: the first N lots set the frozen limits."
        ),
    ] = 20,
    by_site: Annotated[
        bool, typer.Option("--by-site", help="One chart per attribute and site.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the HTML report (inline SVG charts) here.")
    ] = None,
    freeze: Annotated[
        bool,
        typer.Option(
            "--freeze",
            help="With --data-dir and --product: freeze these baselines into the data folder "
            "as the product's next locked baseline version (with --by-site: each site's); "
            "releases flag out-of-trend values against the lot's site's, else the pooled one.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Individuals/MR charts with a frozen baseline, Nelson rules 1-8, EWMA, CUSUM and Ppk.

    Lots are ordered by date, then by lot id. Findings are for review: the command exits 0
    whatever the charts show, 2 for bad input.
    """
    from cytorelease._gc import collector_paused

    with collector_paused():  # a point per lot and chart: see cytorelease/_gc.py
        _trend(attributes, from_csv, data_dir, product, baseline, by_site, out, freeze, as_json)


def _trend(
    attributes: list[str],
    from_csv: Path | None,
    data_dir: Path | None,
    product: str | None,
    baseline: int,
    by_site: bool,
    out: Path | None,
    freeze: bool,
    as_json: bool,
) -> None:
    from cytorelease.cli._output import print_table
    from cytorelease.trend import trend_from_csv, write_page
    from cytorelease.trend.from_store import trend_from_data

    if (from_csv is None) == (data_dir is None) or (product is not None and data_dir is None):
        raise typer.BadParameter(
            "give exactly one of them (--product goes with --data-dir)",
            param_hint="'--from-csv' / '--data-dir'",
        )
    if freeze and (data_dir is None or product is None):
        raise typer.BadParameter(
            "--freeze needs --data-dir and --product (a baseline names each lot's record)",
            param_hint="'--freeze'",
        )
    if from_csv is not None:
        report = trend_from_csv(from_csv, tuple(attributes), baseline=baseline, by_site=by_site)
    else:
        report = trend_from_data(
            data_dir, tuple(attributes), product=product, baseline=baseline, by_site=by_site
        )
    frozen: tuple[FrozenBaseline, ...] = ()
    if freeze:
        from cytorelease.records.audit import os_user
        from cytorelease.trend.freeze import freeze_from_data

        assert data_dir is not None and product is not None
        frozen = freeze_from_data(data_dir, report, product=product, actor=os_user())
    if out is not None:
        write_page(report, out)
    if as_json:
        # the text emit_json prints, written without the standard library's slow indenting
        from cytorelease.trend.json_text import dumps

        document = report.to_dict()
        if frozen and by_site:
            document["frozen_baselines"] = [f.to_dict() for f in frozen]
        elif frozen:
            document["frozen_baseline"] = frozen[0].to_dict()
        print(dumps(document))
        return
    rows = []
    for chart in report.charts:
        c = chart.to_dict()
        rows.append(
            (
                c["attribute"],
                c["site"] or "-",
                c["n"],
                f"{c['center']:.4g} [{c['lcl']:.4g}, {c['ucl']:.4g}]",
                ", ".join(sorted({str(v.rule) for v in chart.violations})) or "-",
                len(chart.ewma),
                len(chart.cusum),
                "-" if chart.performance is None else f"{chart.performance.ppk:.2f}",
            )
        )
    print_table(
        f"{report.source} (sha256 {report.source_sha256[:16]}), baseline {baseline} lots",
        ("attribute", "site", "lots", "centre [LCL, UCL]", "rules", "EWMA", "CUSUM", "Ppk"),
        rows,
    )
    if out is not None:
        typer.echo(f"report: {out}", err=True)
    for one in frozen:
        typer.echo(f"frozen: baseline {one.ref} (sha256 {one.sha256}) in {one.path}")
