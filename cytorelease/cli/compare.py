"""``cytorelease compare``: comparability of two sets of results against a protocol's margins."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption


def register(root: typer.Typer) -> None:
    root.command(name="compare")(compare)


def _side(text: str) -> str | Path:
    """A selection stays text; anything else is a path (as before selections existed)."""
    from cytorelease.compare.selection import is_selection

    return text if is_selection(text) else Path(text)


def compare(
    a: Annotated[
        str,
        typer.Argument(
            help="Set A: a lots table CSV, a folder of result.json, or a selection of the data "
            "folder's lots dataset: lots:site=S1,product=P,since=2026-01-01 (keys product, site, "
            "since, until, spec, method).",
            show_default=False,
        ),
    ],
    b: Annotated[
        str,
        typer.Argument(
            help="Set B, compared against A (differences B - A); the same forms.",
            show_default=False,
        ),
    ],
    pair_by: Annotated[
        str,
        typer.Option(
            "--pair-by",
            help="lot: the same lots measured twice (paired); none: two independent sets.",
        ),
    ],
    protocol: Annotated[
        Path | None,
        typer.Option("--protocol", help="A comparability protocol (YAML) giving the margins."),
    ] = None,
    margin: Annotated[
        list[str] | None,
        typer.Option(
            "--margin", help="ATTRIBUTE=VALUE equivalence margin (repeatable; no --protocol)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the HTML report (inline SVG) here.")
    ] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bias, limits of agreement, Deming and TOST (paired), or Welch TOST and KS (unpaired).

    A side written lots:KEY=VALUE,... is read from the lots dataset of --data-dir (each lot's
    latest release the selection matches); lots: alone is every lot.

    An attribute without a margin gets no equivalence verdict. Findings are for review: the
    command exits 0 whatever they show, 2 for bad input.
    """
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.compare import PAIRINGS, write_page
    from cytorelease.compare import compare as run
    from cytorelease.errors import InputError

    if pair_by not in PAIRINGS:
        raise InputError(f"--pair-by {pair_by!r}: expected one of {', '.join(PAIRINGS)}")
    comparison = run(
        _side(a), _side(b), pair_by=pair_by, protocol=protocol, margins=margin, data_dir=data_dir
    )
    if comparison.protocol.id is not None and not comparison.protocol.locked:
        typer.echo(
            f"warning: protocol {comparison.protocol.ref} is not locked by the site library's "
            "protocols/LOCK (a draft: the report says so)",
            err=True,
        )
    if out is not None:
        write_page(comparison, out)
    record = comparison.to_dict()
    if as_json:
        emit_json(record)
        return
    rows = []
    for c in record["attributes"]:
        verdict = {True: "equivalent", False: "not shown"}.get(c["equivalent"], "-")
        ci = "-" if c["bias_ci"] is None else f"[{c['bias_ci'][0]:.4g}, {c['bias_ci'][1]:.4g}]"
        rows.append(
            (
                c["attribute"],
                c["n"],
                "-" if c["bias"] is None else f"{c['bias']:.4g} {ci}",
                "-" if c["margin"] is None else f"{c['margin']:.4g}",
                "-" if c["tost_p"] is None else f"{c['tost_p']:.3g}",
                verdict,
            )
        )
    print_table(
        f"B ({b}) - A ({a}), pairing {pair_by}, {len(record['flips'])} flip(s)",
        ("attribute", "n", "bias [95 % CI]", "margin", "TOST p", "equivalence"),
        rows,
    )
    if out is not None:
        typer.echo(f"report: {out}", err=True)
