"""``cytorelease protocol lock``: lock comparability protocols in the site library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption

app = typer.Typer(
    help="Comparability protocols (the margins compare --protocol judges against).",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="protocol")


@app.command("lock")
def lock_command(
    protocols: Annotated[
        list[Path],
        typer.Argument(help="Approved protocol files (YAML).", show_default=False),
    ],
    as_json: JsonOption = False,
) -> None:
    """Add each protocol's id@version and content SHA-256 to the site library's protocols/LOCK.

    The library is the one of --library / CYTORELEASE_LIBRARY. An invalid protocol, or a version
    the LOCK already holds with other content, is refused (exit 2) and nothing is written.
    """
    from cytorelease.cli._output import emit_json
    from cytorelease.compare.lock import lock_protocols

    entries = lock_protocols(list(protocols))
    if as_json:
        emit_json({"protocols": [e.to_dict() for e in entries]})
        return
    for entry in entries:
        typer.echo(f"{entry.outcome}: {entry.ref} sha256 {entry.sha256} in {entry.lock}")
