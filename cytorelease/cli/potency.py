"""``cytorelease potency`` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Potency: IFN-gamma ELISA (4PL) and cytotoxicity.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="potency")
