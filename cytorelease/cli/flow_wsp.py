"""``cytorelease flow wsp-import``: a FlowJo workspace's sample or group as a gating template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption

__all__ = ["add_commands"]


def wsp_import(
    workspace: Annotated[Path, typer.Argument(help="The FlowJo 10 workspace (.wsp) to read.")],
    out: Annotated[
        Path, typer.Option("--out", help="Write the gating template (YAML) to this file.")
    ],
    sample: Annotated[
        str | None,
        typer.Option("--sample", help="The sample whose gate tree to import (its FlowJo name)."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="The group whose shared gates to import.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Turn a workspace's sample or group into a versioned gating template: fixed gates on
    FlowJo's scales, channels found by label; what a template cannot hold is refused."""
    from cytorelease.cli._output import console, emit_json, print_table
    from cytorelease.errors import InputError
    from cytorelease.flow.wsp.to_template import import_workspace

    if (sample is None) == (group is None):
        raise InputError("give exactly one of --sample and --group", path=workspace)
    imported = import_workspace(workspace, out, sample=sample, group=group)
    document = imported.document
    summary = {
        "workspace": str(workspace),
        "source": imported.source,
        "template": {"id": document["id"], "version": document["version"], "path": str(out)},
        "markers": [{"key": m["key"], "channels": m["channels"]} for m in document["markers"]],
        "compensation": document["compensation"]["source"],
        "gates": [
            {"id": g["id"], "kind": g["kind"], "path": imported.gate_paths[g["id"]]}
            for g in document["gates"]
        ],
    }
    if as_json:
        emit_json(summary)
        return
    print_table(
        f"{workspace} · {imported.source} -> {out}",
        ("gate id", "kind", "FlowJo path"),
        [(g["id"], g["kind"], g["path"]) for g in summary["gates"]],
    )
    console().print(f"wrote template {document['id']} to {out}", markup=False)


def add_commands(app: typer.Typer) -> None:
    app.command(name="wsp-import")(wsp_import)
