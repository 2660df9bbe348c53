"""``cytorelease queue``: what the unattended worker has to do, did, and failed to do."""

from __future__ import annotations

from typing import Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption

app = typer.Typer(
    help="The work queue of the unattended side: list items, retry failed ones.",
    no_args_is_help=True,
)


@app.command("list")
def list_command(
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="Only the items in this state: pending, leased, done or failed.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List queue items (id, what, state, attempts, outcome), oldest first."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.records.queue import list_in_data

    items = list_in_data(data_dir, state=state)
    if as_json:
        emit_json({"items": [i.to_dict() for i in items]})
        return
    print_table(
        f"Queue ({len(items)} items{f', {state}' if state else ''})",
        ("id", "kind", "key", "lot", "state", "attempts", "finished", "outcome"),
        [
            (i.id, i.kind, i.key, i.lot, i.state, i.attempts, i.finished_at, i.outcome)
            for i in items
        ],
    )


@app.command("retry")
def retry_command(
    items: Annotated[
        list[int], typer.Argument(help="Ids of failed items (see `queue list --state failed`).")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="What was fixed, or why it is retried (required).")
    ],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put failed items back in the queue for the worker (audited: who, why, previous failure)."""
    from cytorelease.cli._output import emit_json
    from cytorelease.records.queue import retry_in_data

    retried = retry_in_data(data_dir, items, reason=reason)
    if as_json:
        emit_json({"retried": [i.to_dict() for i in retried]})
        return
    for item in retried:
        typer.echo(f"item {item.id} ({item.key}): queued again")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="queue")
