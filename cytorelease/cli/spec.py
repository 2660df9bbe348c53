"""``cytorelease spec`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption

app = typer.Typer(
    help="Acceptance specs: validate, show, diff, new versions.", no_args_is_help=True
)

_SPEC_HELP = "A spec file, a reference such as cd19-car-t@2, or a product (latest effective)."


@app.command("validate")
def validate_command(
    specs: Annotated[list[str], typer.Argument(help=_SPEC_HELP, show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Check specs against the schema, the attribute vocabulary and the LOCK (exit 2 if any fails)."""
    from cytorelease.cli._output import emit_json
    from cytorelease.spec.registry import check_specs

    checks = check_specs(specs)
    if as_json:
        emit_json({"specs": [c.to_dict() for c in checks]})
    for check in checks:
        if check.loaded is not None and not as_json:
            loaded = check.loaded
            typer.echo(
                f"ok: {loaded.path}: {loaded.ref} ({loaded.spec.status}) sha256 {loaded.sha256}"
            )
        for problem in check.problems:
            typer.echo(f"error: {problem}", err=True)
    if not all(c.ok for c in checks):
        raise typer.Exit(2)


@app.command("show")
def show_command(
    spec: Annotated[str, typer.Argument(help=_SPEC_HELP, show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Print a spec's criteria: limits as printed on the CoA, rounding, method, timing."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.spec.diff import criterion_fields
    from cytorelease.spec.registry import resolve_spec

    loaded = resolve_spec(spec)
    rows = [{"id": c.id, **criterion_fields(c)} for c in loaded.spec.criteria]
    if as_json:
        emit_json({"spec": loaded.identity(), "path": str(loaded.path), "criteria": rows})
        return
    s = loaded.spec
    typer.echo(f"{s.ref} {s.title or ''}".rstrip())
    typer.echo(
        f"status {s.status}, effective from {s.effective_from or '-'}, market {s.market}, "
        f"supersedes {s.supersedes or '-'}, sha256 {loaded.sha256}"
    )
    columns = ("id", "test", "attribute", "limit", "rounding", "timing", "method")
    print_table(None, columns, ([r[c] for c in columns] for r in rows))


@app.command("diff")
def diff_command(
    old: Annotated[
        str, typer.Argument(help="The older spec (" + _SPEC_HELP + ")", show_default=False)
    ],
    new: Annotated[str, typer.Argument(help="The newer spec.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Added, removed and changed criteria between two versions, each change as old -> new."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.spec.diff import diff_specs
    from cytorelease.spec.registry import resolve_spec

    diff = diff_specs(resolve_spec(old), resolve_spec(new))
    if as_json:
        emit_json(diff.to_dict())
        return
    typer.echo(f"{diff.old['id']}@{diff.old['version']} -> {diff.new['id']}@{diff.new['version']}")
    if diff.is_empty:
        typer.echo("no differences")
        return
    for change in diff.header:
        typer.echo(f"  {change.text()}")
    rows: list[tuple[str, str, str, str]] = []
    rows += [(c["id"], "added", "-", f"{c['test']}: {c['limit']}") for c in diff.added]
    rows += [(c["id"], "removed", f"{c['test']}: {c['limit']}", "-") for c in diff.removed]
    for criterion in diff.changed:
        rows += [(criterion.id, f.field, f.old or "-", f.new or "-") for f in criterion.changes]
    print_table("criteria", ("criterion", "change", "old", "new"), rows)


@app.command("new-version")
def new_version_command(
    spec: Annotated[
        str,
        typer.Argument(
            help="A product name, its folder, or one of its spec files.", show_default=False
        ),
    ],
) -> None:
    """Copy the latest version of a product's spec as vN+1 with status draft (never overwrites)."""
    from cytorelease.spec.registry import new_version

    path = new_version(spec)
    typer.echo(f"created {path} (status draft: edit it, set status effective, then `spec lock` it)")


@app.command("lock")
def lock_command(
    specs: Annotated[
        list[Path], typer.Argument(help="Approved (non-draft) spec files.", show_default=False)
    ],
) -> None:
    """Record approved spec versions' content hashes in their LOCK (a changed locked version is refused)."""
    from cytorelease.spec.registry import lock_specs

    for entry in lock_specs(list(specs)):
        typer.echo(f"{entry.outcome}: {entry.ref} sha256 {entry.sha256} in {entry.lock}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="spec")
