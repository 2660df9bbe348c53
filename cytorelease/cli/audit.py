"""``cytorelease audit`` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Audit: re-evaluate past lots, the audit trail.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
