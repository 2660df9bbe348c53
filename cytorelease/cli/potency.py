"""``cytorelease potency`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cytorelease.cli._options import JsonOption

if TYPE_CHECKING:
    from cytorelease.potency.elisa import ElisaResult

app = typer.Typer(help="Potency: IFN-gamma ELISA (4PL) and cytotoxicity.", no_args_is_help=True)


@app.command("elisa")
def elisa(
    plate_file: Annotated[
        Path,
        typer.Argument(help="Plate-reader export: SoftMax Pro text, Gen5 text, CSV/xlsx grid."),
    ],
    assay: Annotated[
        str, typer.Option("--assay", help="Potency assay definition (name in assays/ or a path).")
    ],
    plate: Annotated[
        str | None,
        typer.Option("--plate", help="Plate name, when the export holds several plates."),
    ] = None,
    plots: Annotated[
        Path | None, typer.Option("--plots", help="Write the standard-curve SVG into this folder.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fit the standard curve of an ELISA plate and report IFN-gamma with its flags.

    Exits 1 when the run fails the assay's acceptance criteria, 2 on bad input.
    """
    from cytorelease.cli._output import emit_json
    from cytorelease.potency.elisa import analyse_elisa

    result = analyse_elisa(plate_file, assay, plate=plate)
    written: list[Path] = []
    if plots is not None:
        from cytorelease.potency.plots import write_plots

        written = write_plots(result, plots)
    if as_json:
        document = result.to_dict()
        document["plots"] = [str(p) for p in written]
        emit_json(document)
    else:
        _render(result, written)
    if not result.passed:
        raise typer.Exit(1)


def _render(result: ElisaResult, written: list[Path]) -> None:
    from cytorelease.cli._output import console, print_table

    unit = result.assay.assay.reporting.unit
    decimals = result.assay.assay.reporting.decimals
    fit = result.fit
    out = console()
    if fit.converged:
        params = ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items())
        out.print(f"curve: {fit.model.value} ({params}), R^2 {fit.r_squared:.4f}")
    else:
        out.print(f"curve: {fit.message}")

    def num(value: float | None, places: int) -> float | None:
        return None if value is None else round(value, places)

    print_table(
        f"Standards ({unit})",
        ["standard", "nominal", "mean OD", "CV %", "back-calc", "recovery %", "ok"],
        [
            [
                s.name,
                s.nominal,
                num(s.mean_od, 3),
                num(s.cv_pct, 1),
                num(s.back_calculated, decimals),
                num(s.recovery_pct, 1),
                "yes" if s.in_recovery else "no",
            ]
            for s in result.standards
        ],
    )
    print_table(
        f"Samples ({unit}, dilution applied)",
        ["sample", "role", "dilution", "mean OD", "CV %", "concentration", "flag"],
        [
            [
                s.name,
                s.role.value,
                ", ".join(f"{d.dilution:g}" + ("" if d.in_range else "*") for d in s.dilutions)
                if len(s.dilutions) > 1
                else s.dilution,
                num(s.mean_od, 3),
                # one dilution: the replicate ODs' CV; a series: the corrected values' CV
                num(s.od_cv_pct if len(s.dilutions) == 1 else s.cv_pct, 1),
                s.reported,
                "; ".join(filter(None, [s.flag, *s.flags, *s.notes])),
            ]
            for s in result.samples
        ],
    )
    print_table(
        "Acceptance",
        ["check", "result", "detail"],
        [[c.name, "pass" if c.passed else "FAIL", c.detail] for c in result.checks],
    )
    for note in result.notes:
        out.print(f"note: {note}")
    for m in result.measurements:
        shown = (
            m.details.get("reason", "") if m.value is None else f"{m.value:.{decimals}f} {m.unit}"
        )
        out.print(f"{m.attribute}: {shown}")
    if result.relative is not None:
        out.print(f"relative potency: {result.relative.reason}")
    for path in written:
        out.print(f"plot: {path}")
    out.print(f"run {'PASSED' if result.passed else 'FAILED'} acceptance")


@app.command("cytotox")
def cytotox(
    with_effectors: Annotated[
        Path, typer.Argument(help="FCS tube of target cells co-cultured with the effectors.")
    ],
    targets_alone: Annotated[Path, typer.Argument(help="FCS tube of target cells alone.")],
    assay: Annotated[
        str,
        typer.Option("--assay", help="Cytotoxicity assay definition (name in assays/ or a path)."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Percent specific lysis from a flow killing assay (counting beads or fixed volume).

    Exits 1 when the run fails the assay's acceptance criteria, 2 on bad input.
    """
    from cytorelease.cli._output import console, emit_json, print_table
    from cytorelease.potency.cytotox import analyse_cytotoxicity

    result = analyse_cytotoxicity(with_effectors, targets_alone, assay)
    if as_json:
        emit_json(result.to_dict())
    else:
        decimals = result.assay.reporting.decimals
        tubes = (("with effectors", result.with_effectors), ("targets alone", result.targets_alone))
        print_table(
            f"Killing assay ({result.assay.counting.value})",
            ["tube", "file", "live targets", "beads", "normalised"],
            [
                [
                    label,
                    Path(t.path).name,
                    t.live_targets,
                    t.beads,
                    None if t.normalised is None else round(t.normalised, 4),
                ]
                for label, t in tubes
            ],
        )
        print_table(
            "Acceptance",
            ["check", "result", "detail"],
            [[c.name, "pass" if c.passed else "FAIL", c.detail] for c in result.checks],
        )
        out = console()
        for note in result.notes:
            out.print(f"note: {note}")
        if result.cytotoxicity_pct is None:
            out.print(f"potency.cytotoxicity_pct: {result.measurement.details.get('reason', '')}")
        else:
            out.print(
                f"potency.cytotoxicity_pct: {result.cytotoxicity_pct:.{decimals}f} % "
                f"(95% CI {result.lower:.{decimals}f} to {result.upper:.{decimals}f})"
            )
    if not result.passed:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="potency")
