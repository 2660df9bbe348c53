"""``cytorelease selftest``: installation and operational qualification, as a signed report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption


def register(root: typer.Typer) -> None:
    root.command(name="selftest")(selftest)


def selftest(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write selftest.json and selftest.html into this folder."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Sign the report with this encrypted key (KEY.pem)."),
    ] = None,
    suite: Annotated[
        Path | None,
        typer.Option(
            "--gatingml-suite",
            help="The ISAC Gating-ML 2.0 compliance suite folder (gml/, truth/, data1.fcs) "
            "for the extra gating checks; the bundled known cases always run.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the installation (RECORD hashes, dependencies) and known answers; exit 1 on a failure."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.selftest import run_selftest

    private_key = None
    if key is not None:
        from cytorelease.cli.keys import read_passphrase
        from cytorelease.report.keys import load_private_key

        private_key = load_private_key(key, read_passphrase(confirm=False))
    result = run_selftest(out, private_key=private_key, suite=suite)
    document = result.document
    if as_json:
        emit_json(result.to_dict())
    else:
        rows = [(c["stage"], c["id"], c["status"].upper(), c["detail"]) for c in document["checks"]]
        print_table(f"cytorelease self-test: {document['verdict']}", ("stage", "check",
                    "result", "detail"), rows)  # fmt: skip
        for path in (result.json_path, result.html_path, result.signature_path):
            if path is not None:
                typer.echo(f"wrote {path}")
    if result.failed:
        raise typer.Exit(1)
