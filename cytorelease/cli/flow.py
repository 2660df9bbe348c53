"""``cytorelease flow`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cytorelease.cli._options import JsonOption

app = typer.Typer(
    help="Flow cytometry: read FCS files, gate, cluster, estimate spillover.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    from cytorelease.cli.flow_wsp import add_commands  # flow wsp-import

    add_commands(app)
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
    as_json: JsonOption = False,
) -> None:
    """Show an FCS file's version, events, channels, spill, cytometer, date and sha256."""
    from cytorelease.cli._output import emit_json
    from cytorelease.flow.inspect import inspect_fcs

    summary = inspect_fcs(file, dataset=dataset, stats=stats)
    if as_json:
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
            ("non-finite events", f"{summary['nonfinite_events']:,}"),
            ("channels", str(len(summary["channels"]))),
            ("data set", f"{summary['dataset']} of {summary['datasets']} (from 0)"),
            ("cytometer", summary["cytometer"] or "-"),
            ("acquired", summary["acquisition_date"] or "-"),
            ("spill", f"{len(spill['channels'])} x {len(spill['channels'])}" if spill else "-"),
            ("sha256", summary["sha256"]),
        ],
    )
    columns = ["#", "name", "label", "range", "bits", "non-finite"]
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
            _nonfinite(channel["nonfinite"]),
        ]
        if stats:
            row += [_fmt(channel["min"]), _fmt(channel["max"]), _fmt(channel["mean"])]
        rows.append(row)
    print_table("channels", columns, rows)


def _nonfinite(counts: dict[str, int]) -> str:
    shown = [
        f"{counts[key]:,} {kind}"
        for key, kind in (("nan", "NaN"), ("positive_inf", "+inf"), ("negative_inf", "-inf"))
        if counts[key]
    ]
    return ", ".join(shown) or "0"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


@app.command(name="gate")
def gate(
    file: Annotated[Path, typer.Argument(help="The stained tube (FCS) to gate.")],
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            help="A gating template (YAML path or library name, e.g. cd19-car-t-panel), a "
            "GatingML 2.0 document or a FlowJo 10 workspace (.wsp).",
        ),
    ],
    control: Annotated[
        Path | None,
        typer.Option("--control", help="The control tube (e.g. FMO) for control-based gates."),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option("--plots", help="Write an SVG plot of every gate on its parent to DIR."),
    ] = None,
    export_gatingml: Annotated[
        Path | None,
        typer.Option("--export-gatingml", help="Write the placed gates as GatingML 2.0 to OUT."),
    ] = None,
    export_wsp: Annotated[
        Path | None,
        typer.Option(
            "--export-wsp",
            help="Write the placed gates, compensation and transforms as a FlowJo 10 "
            "workspace to OUT.wsp (it opens FILE by its path).",
        ),
    ] = None,
    membership: Annotated[
        Path | None,
        typer.Option(
            "--membership", help="Write a CSV: one 0/1 column per gate id, one row per event."
        ),
    ] = None,
    wsp_sample: Annotated[
        str | None,
        typer.Option(
            "--wsp-sample",
            help="With a FlowJo workspace: the sample whose gates apply (default: the one "
            "named like the file's $FIL, else its file name).",
        ),
    ] = None,
    wsp_group: Annotated[
        str | None,
        typer.Option("--wsp-group", help="With a FlowJo workspace: apply this group's gates."),
    ] = None,
    controls: Annotated[
        list[Path] | None,
        typer.Option(
            "--controls",
            help="A single-stain control tube (FCS) for a template whose compensation source "
            "is controls (repeat for each, in the matrix's row order); the matrix is "
            "estimated from them as flow spillover does.",
            show_default=False,
        ),
    ] = None,
    unstained: Annotated[
        Path | None,
        typer.Option("--unstained", help="With --controls: the unstained control tube (FCS)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Gate a tube with a template: place data-driven gates, count populations, report
    measurements and flags."""
    from cytorelease.cli._output import emit_json
    from cytorelease.flow.gating import gate_file

    run = gate_file(
        file,
        template,
        control=control,
        plots=plots,
        export_gatingml=export_gatingml,
        export_wsp=export_wsp,
        membership=membership,
        wsp_sample=wsp_sample,
        wsp_group=wsp_group,
        controls=controls,
        unstained=unstained,
    )
    document = run.result.to_dict()
    if "workspace" in run.result.details:  # a FlowJo workspace: its sample and stored counts
        document["workspace"] = run.result.details["workspace"]
    if as_json:
        document["written"] = {k: [str(p) for p in v] for k, v in run.written.items()}
        emit_json(document)
    else:
        _print_gate(document, run.written)


def _print_gate(document: dict[str, Any], written: dict[str, list[Path]]) -> None:
    from cytorelease.cli._output import console, print_table

    template = document["template"]
    print_table(
        f"{document['inputs']['sample']['path']} · {template['id']} {template['version']}",
        ("path", "count", "% of parent", "% of total"),
        [
            (p["path"], p["count"], _pct(p["percent_of_parent"]), _pct(p["percent_of_total"]))
            for p in document["populations"]
        ],
    )
    if document["measurements"]:
        print_table(
            "measurements",
            ("attribute", "value", "unit", "numerator / denominator"),
            [
                (
                    m["attribute"],
                    "-" if m["value"] is None else f"{m['value']:.2f}",
                    m["unit"],
                    f"{m['details']['numerator']['count']:,} / "
                    f"{m['details']['denominator']['count']:,}",
                )
                for m in document["measurements"]
            ],
        )
    out = console()
    compensation = document.get("compensation")
    if compensation and compensation.get("matrix_sha256"):
        out.print(
            f"compensation: {compensation['description']}; matrix SHA-256 "
            f"{compensation['matrix_sha256']}",
            markup=False,
        )
    for flag in document["flags"]:
        out.print(f"flag [{flag['code']}] {flag['message']}", markup=False)
    for kind, paths in written.items():
        out.print(f"wrote {kind}: {', '.join(str(p) for p in paths)}", markup=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@app.command(name="cluster")
def cluster(
    file: Annotated[Path, typer.Argument(help="The FCS file whose events to cluster.")],
    markers: Annotated[
        str | None,
        typer.Option(
            "--markers",
            help="Comma-separated markers ($PnS label or $PnN) to cluster on "
            "(default: every $PnS-labelled fluorescence channel).",
        ),
    ] = None,
    grid: Annotated[
        str, typer.Option("--grid", help="Self-organising map size, ROWSxCOLUMNS.")
    ] = "10x10",
    metaclusters: Annotated[
        str,
        typer.Option(
            "--metaclusters",
            help="Number of metaclusters K, or 'auto' to choose K at the elbow (2-20).",
        ),
    ] = "10",
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same clusters.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Cluster a tube's events with FlowSOM (compensated, logicle-scaled): metacluster sizes
    and marker medians."""
    from cytorelease.cli._output import emit_json
    from cytorelease.flow.cluster import cluster_file

    clustering = cluster_file(
        file, markers=markers, grid=grid, metaclusters=metaclusters, seed=seed
    )
    document = clustering.to_dict()
    if as_json:
        emit_json(document)
    else:
        _print_cluster(document)


def _print_cluster(document: dict[str, Any]) -> None:
    from cytorelease.cli._output import print_table

    markers = document["markers"]
    rows, cols = document["grid"]
    print_table(
        f"{document['input']['path']} · {document['events']:,} events · {rows}x{cols} map · "
        f"seed {document['seed']} · medians on the {document['transform']} scale",
        ("metacluster", "events", "%", "nodes", *markers),
        [
            (
                m["id"],
                m["size"],
                f"{m['percent']:.2f}",
                m["nodes"],
                *(f"{m['medians'][k]:.3f}" for k in markers),
            )
            for m in document["metaclusters"]
        ],
    )


@app.command(name="spillover")
def spillover(
    controls: Annotated[
        list[Path],
        typer.Argument(
            help="The single-stain control tubes (FCS), one per fluorochrome; the matrix's "
            "rows follow this order."
        ),
    ],
    unstained: Annotated[
        Path,
        typer.Option(
            "--unstained", help="The unstained control tube: the same cells, the same settings."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the square matrix over the controls' primary detectors as CSV "
            "($SPILLOVER's layout; read back by cytorelease and FlowKit) to OUT.",
        ),
    ] = None,
    detectors: Annotated[
        str | None,
        typer.Option(
            "--detectors",
            help="Comma-separated detectors ($PnN or $PnS) to estimate over "
            "(default: every fluorescence detector of the files).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate the spillover matrix from single-stain controls (robust regression, refined
    as AutoSpill does), with the compensation error left per pair."""
    from cytorelease.cli._output import emit_json
    from cytorelease.flow.spillover_csv import write_spillover_csv
    from cytorelease.flow.spillover_estimate import estimate_spillover

    chosen = [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
    estimate = estimate_spillover(controls, unstained, detectors=chosen)
    document = estimate.to_dict()
    written: dict[str, list[str]] = {}
    if out is not None:
        written["matrix"] = [str(write_spillover_csv(out, estimate.matrix(out.stem)))]
    if as_json:
        document["written"] = written
        emit_json(document)
    else:
        _print_spillover(document, written)


def _print_spillover(document: dict[str, Any], written: dict[str, list[str]]) -> None:
    from cytorelease.cli._output import console, print_table

    detectors = document["detectors"]
    controls = document["controls"]
    print_table(
        "spillover (rows: controls as given; columns: detectors)",
        ("control", "primary", *detectors),
        [
            (Path(c["path"]).name, c["primary"], *(f"{v:.4f}" for v in row))
            for c, row in zip(controls, document["spillover"], strict=True)
        ],
    )
    print_table(
        "per control",
        ("control", "positive events", "largest |residual|", "largest standard error"),
        [
            (
                Path(c["path"]).name,
                c["positive_events"],
                f"{max(abs(v) for v in residual):.2g}",
                f"{max(standard_error):.2g}",
            )
            for c, residual, standard_error in zip(
                controls, document["residuals"], document["standard_errors"], strict=True
            )
        ],
    )
    out = console()
    out.print(
        f"converged after {document['iterations']} refinement(s): every compensation error "
        f"below {document['tolerance']:g}",
        markup=False,
    )
    for kind, paths in written.items():
        out.print(f"wrote {kind}: {', '.join(paths)}", markup=False)
