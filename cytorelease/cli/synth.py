"""``cytorelease sample-data`` commands: the seeded synthetic lot generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cytorelease.cli._options import JsonOption

app = typer.Typer(
    help="Generate synthetic example lots with their ground truth.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sample-data")


@app.command(name="generate")
def generate(
    out: Annotated[
        Path,
        typer.Argument(
            help="Folder to write the lot into (as OUT/lot-CAR-<seed>/); created if absent."
        ),
    ],
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same bytes.")
    ] = 1,
    random_params: Annotated[
        bool,
        typer.Option(
            "--random-params",
            help="Draw the lot's composition from the seed (CAR+ 5-60 %, viability 60-98 %) "
            "instead of the default conforming lot.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the files of an existing lot folder.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a synthetic CAR-T release lot (FCS tubes, lot.yaml, truth.json, labels.npz)."""
    from cytorelease.cli._output import emit_json
    from cytorelease.synth import generate_lot
    from cytorelease.synth import random_params as draw_params

    params = draw_params(seed) if random_params else None
    truth = generate_lot(out, seed=seed, params=params, overwrite=force)
    if as_json:
        emit_json(truth.to_dict())
    else:
        _print_summary(truth.to_dict())


def _print_summary(summary: dict[str, Any]) -> None:
    from cytorelease.cli._output import print_table

    print_table(
        f"{summary['lot_id']} (seed {summary['seed']}) written to {summary['lot_dir']}",
        ("file", "sha256"),
        [(Path(item["path"]).name, item["sha256"][:16]) for item in summary["files"]],
    )
    print_table(
        "ground truth (stained tube, realised)",
        ("attribute", "value"),
        [
            (name, "-" if value is None else round(value, 3))
            for name, value in summary["measurements"].items()
        ],
    )


@app.command(name="history")
def history(
    out: Annotated[
        Path,
        typer.Argument(help="Folder to write history.csv and truth.json into; created if absent."),
    ],
    lots: Annotated[
        int, typer.Option("--lots", min=40, help="How many lots (numbered 1..N).")
    ] = 60,
    sites: Annotated[int, typer.Option("--sites", min=1, help="Sites, assigned in turn.")] = 2,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same bytes.")
    ] = 1,
    shift_at: Annotated[
        int | None,
        typer.Option(
            "--shift-at",
            min=1,
            help="The lot from which CAR+ % steps up at site-1 (default: three quarters in).",
        ),
    ] = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Also write each lot's raw files (FCS tubes, qPCR, potency, bench sheet, "
            "lot.yaml) into OUT/raw/<lot>/, simulated from the history's values.",
        ),
    ] = False,
    events: Annotated[
        int | None,
        typer.Option(
            "--events",
            min=1000,
            help="With --raw: events per flow tube (default 20000).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing history in OUT.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a product's lot history with planted drifts (history.csv) and their truth.json."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.errors import InputError
    from cytorelease.synth.history import write_history
    from cytorelease.synth.history_raw import DEFAULT_EVENTS

    if events is not None and not raw:
        raise InputError(
            "--events is the event count of the raw files: give it with --raw", path=out
        )
    truth = write_history(
        out, lots=lots, sites=sites, seed=seed, shift_at=shift_at, overwrite=force,
        raw_events=(events or DEFAULT_EVENTS) if raw else None,
    )  # fmt: skip
    if as_json:
        emit_json(truth.to_dict())
        return
    print_table(
        f"{lots} lots at {sites} site(s), seed {seed}, written to {out}",
        ("drift", "attribute", "site", "from lot"),
        [(d["kind"], d["attribute"], d["site"] or "all", d["from_lot"]) for d in truth.drifts()],
    )
    if truth.raw is not None:
        typer.echo(
            f"raw files of {len(truth.raw['lots'])} lots ({truth.raw['events_per_tube']} events "
            f"per tube) in {out / truth.raw['folder']}"
        )


@app.command(name="controls")
def controls(
    out: Annotated[
        Path,
        typer.Argument(
            help="Folder to write the control tubes and truth.json into; created if absent."
        ),
    ],
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same bytes.")
    ] = 1,
    events: Annotated[int, typer.Option("--events", min=1, help="Events per tube.")] = 20_000,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite controls already in OUT.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write single-stain compensation controls (one per fluorochrome, and an unstained tube)
    with the known spillover matrix they were generated with (truth.json)."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.synth.controls import write_controls

    truth = write_controls(out, seed=seed, n_events=events, overwrite=force)
    document = truth.to_dict()
    if as_json:
        emit_json(document)
        return
    print_table(
        f"{len(document['controls'])} controls and an unstained tube (seed {seed}), "
        f"written to {out}",
        ("file", "detector", "positive fraction", "sha256"),
        [
            (c["file"], c["detector"], c["positive_fraction"], c["sha256"][:16])
            for c in document["controls"]
        ]
        + [(document["unstained"]["file"], "-", "-", document["unstained"]["sha256"][:16])],
    )
