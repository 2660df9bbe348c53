"""``cytorelease qpcr`` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="qPCR and digital PCR: read exports, compute vector copy number.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="qpcr")
