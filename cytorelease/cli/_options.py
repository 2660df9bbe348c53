"""Options several commands share."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "DataDirOption",
    "JsonOption",
    "MeaningChoice",
    "SignersOption",
    "TrailOption",
    "signer_registry",
]


class MeaningChoice(StrEnum):
    """What a signature means, as ``--meaning`` takes it: the values of
    :class:`cytorelease.report.entry.Meaning` (a test keeps the two equal), declared here so
    that ``--help`` does not import the signing machinery. The last is a valid choice only so
    that ``sign`` can refuse it by name: it is the unattended evaluation service's alone."""

    PERFORMED = "performed"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    APPROVED_WITH_DEVIATION = "approved-with-deviation"
    REJECTED = "rejected"
    COMPUTER_GENERATED = "computer-generated-evaluation"


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

REGISTRY_ENV = "CYTORELEASE_REGISTRY"

SignersOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        envvar=REGISTRY_ENV,
        help="The site's signed signer registry (folder or registry.yaml); default: the data "
        "folder's keys/registry.yaml when there is one.",
        show_default=False,
    ),
]


def signer_registry(registry: Path | None, data_dir: Path | None) -> Path | None:
    """The registry a command checks people's signatures against: ``--registry`` (or
    CYTORELEASE_REGISTRY), else the data folder's (``CYTORELEASE_DATA``), else none."""
    import os

    if registry is not None:
        return registry
    chosen = data_dir or (Path(os.environ["CYTORELEASE_DATA"]) if os.environ.get(
        "CYTORELEASE_DATA") else None)  # fmt: skip
    if chosen is not None and (chosen / "keys" / "registry.yaml").is_file():
        return chosen / "keys" / "registry.yaml"
    return None
