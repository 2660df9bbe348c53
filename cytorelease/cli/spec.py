"""``cytorelease spec`` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Acceptance specs: validate, show, diff, new versions.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="spec")
