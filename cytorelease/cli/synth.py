"""``cytorelease sample-data`` commands: the seeded synthetic lot generator."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Generate synthetic example lots with their ground truth.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sample-data")
