"""Top-level ``cytorelease evaluate``: measurements against a spec, verdicts and disposition."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption

_VERDICT_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "missing": "yellow",
    "pending": "cyan",
    "report-only": "dim",
}


def evaluate_command(
    measurements: Annotated[
        Path,
        typer.Argument(
            help='A JSON file {"measurements": [{"attribute", "value", "unit"}]} or a '
            "cytorelease.result/1 record.",
            show_default=False,
        ),
    ],
    spec: Annotated[
        str,
        typer.Option(
            "--spec",
            help="A spec file, a reference such as cd19-car-t@2, or a product (latest effective).",
            show_default=False,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Judge measurements against a spec (USP rounding); exit 0 PASS, 1 FAIL or INCOMPLETE.

    A spec the library has not locked (a path, a draft, an edited copy) is a what-if: never PASS.
    """
    from cytorelease._resources import library_identity
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.lot.definitions import apply_unlocked, not_for_release_lines, spec_definition
    from cytorelease.provenance import software
    from cytorelease.spec.evaluate import Disposition, evaluate
    from cytorelease.spec.inputs import read_measurements
    from cytorelease.spec.registry import resolve_spec

    loaded = resolve_spec(spec)
    data = read_measurements(measurements)
    evaluation = evaluate(loaded, data)
    definitions = [spec_definition(loaded, spec)]
    judged = apply_unlocked(evaluation.to_dict(), definitions)
    if as_json:
        document = judged
        document["definitions"] = definitions
        if (library := library_identity()) is not None:
            document["library"] = library
        document["input"] = {"path": str(measurements), "sha256": data.sha256}
        document["software"] = software()
        emit_json(document)
    else:
        rows = []
        for c in evaluation.criteria:
            style = _VERDICT_STYLE[c.verdict]
            verdict = f"[{style}]{c.verdict}[/]" + (" [yellow](alert)[/]" if c.alert else "")
            reported = c.reported_display or c.reported or ""
            if reported and c.unit and c.kind != "qualitative":
                reported = f"{reported} {c.unit}"
            rows.append((c.id, c.test, reported, c.limit, verdict))
        title = f"{loaded.ref} ({loaded.spec.status}) sha256 {loaded.sha256[:12]}"
        print_table(title, ("criterion", "test", "reported", "limit", "verdict"), rows)
        for alert in evaluation.alerts:
            typer.echo(f"alert: {alert['id']}: {alert['reported']} outside {alert['alert_limit']}")
        if evaluation.pending:
            typer.echo(f"pending (post-release): {', '.join(evaluation.pending)}")
        for line in not_for_release_lines(definitions):
            typer.echo(line)
        typer.echo(f"disposition: {judged['disposition']}")
    if judged["disposition"] != Disposition.PASS:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.command("evaluate")(evaluate_command)
