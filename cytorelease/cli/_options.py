"""Options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DataDirOption", "JsonOption", "TrailOption"]

# every command that can print JSON takes it the same way: ``as_json: JsonOption = False``
# (``metavar=""``: a flag takes no value, so --help shows none, not ``<bool>``)
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        metavar="",
        help="Print one JSON document instead of the human-readable output.",
    ),
]

TrailOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CYTORELEASE_DATA",
        help="Record this action in the audit trail of this data folder (a site sets "
        "CYTORELEASE_DATA once); without one nothing is recorded.",
        show_default=False,
    ),
]

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CYTORELEASE_DATA",
        help="The data folder (record store, archive, lots/, keys/); default ~/.local/share/cytorelease.",
        show_default=False,
    ),
]
