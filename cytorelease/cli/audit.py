"""``cytorelease audit`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption

app = typer.Typer(help="Audit: re-evaluate past lots, the audit trail.", no_args_is_help=True)


@app.command("reevaluate")
def reevaluate_command(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Result records (result.json) or lot folders holding one.", show_default=False
        ),
    ],
    specs: Annotated[
        list[str],
        typer.Option(
            "--spec",
            help="A spec version to evaluate under (give it twice or more: --spec A --spec B).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the what-if records here instead of beside each result."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-evaluate past lots under other spec versions; flips highlighted, what-if records written."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.spec.reevaluate import reevaluate
    from cytorelease.spec.registry import resolve_spec

    loaded = [resolve_spec(s) for s in specs]
    result = reevaluate(list(sources), loaded, out_dir=out)
    if as_json:
        emit_json(result.to_dict())
        return
    refs = [f"{s['id']}@{s['version']}" for s in result.specs]
    for lot in result.lots:
        flips = {f.criterion: f for f in lot.flips}
        order = list(dict.fromkeys(c.id for e in lot.evaluations for c in e.criteria))
        rows = []
        for criterion_id in order:
            verdicts = [str(e.verdicts().get(criterion_id, "absent")) for e in lot.evaluations]
            flip = flips.get(criterion_id)
            if flip is None:
                rows.append((criterion_id, *verdicts, ""))
            else:
                marked = [f"[bold yellow]{v}[/]" for v in verdicts]
                rows.append((f"[bold]{criterion_id}[/]", *marked, "; ".join(flip.reasons)))
        rows.append(
            ("disposition", *lot.dispositions, "changes" if lot.disposition_changes else "")
        )
        print_table(f"{lot.label} ({lot.source})", ("criterion", *refs, "why it flips"), rows)
        for path in lot.whatif_records:
            typer.echo(f"what-if record: {path}")
    summary = result.summary
    typer.echo(
        f"{summary['lots_changing_disposition']} of {summary['lots']} lots change disposition"
        + "".join(f"; {k}: {v}" for k, v in summary["transitions"].items())
    )
    if summary["criteria_flipped"]:
        flipped = ", ".join(f"{k} ({v})" for k, v in summary["criteria_flipped"].items())
        typer.echo(f"criteria that flip (lots): {flipped}")


@app.command("log")
def log_command(
    lot: Annotated[
        str | None, typer.Option("--lot", help="Only the rows concerning this lot id.")
    ] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the audit trail: who did what to which file or lot, and when."""
    import json

    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.records.audit import read_log

    rows = read_log(data_dir, lot=lot)
    if as_json:
        emit_json({"rows": [r.to_dict() for r in rows]})
        return
    print_table(
        f"Audit trail{f' of lot {lot}' if lot else ''} ({len(rows)} rows)",
        ("seq", "UTC time", "actor", "action", "object", "lot", "details"),
        [
            (
                r.sequence,
                r.utc_time,
                r.actor,
                r.action,
                _short(r.object, 24),
                r.lot,
                _short(json.dumps(r.details, ensure_ascii=False, sort_keys=True), 80),
            )
            for r in rows
        ],
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.command("verify")
def verify_command(
    data_dir: DataDirOption = None,
    trust: Annotated[
        list[str] | None,
        typer.Option(
            "--trust-fingerprint",
            help="A key fingerprint checkpoints must be signed by (repeat for several).",
        ),
    ] = None,
    tsa_cert: Annotated[
        list[Path] | None,
        typer.Option(
            "--tsa-cert", help="A TSA certificate (PEM/DER) checkpoint tokens verify with."
        ),
    ] = None,
    checkpoints_copy: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Hold the chain against this copy of the checkpoints (kept where the "
            "database's administrators cannot write) instead of DATA/checkpoints.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the audit trail's hash chain and hold it against every checkpoint; exit 1 on a
    broken row or a failing checkpoint, naming it."""
    from cytorelease.cli._output import emit_json
    from cytorelease.records.audit import check_data_chain
    from cytorelease.records.lots import check_data_release_rows
    from cytorelease.report.checkpoint_verify import (
        check_fingerprints,
        read_tsa_certificate,
        verify_data_checkpoints,
    )

    certificates = [read_tsa_certificate(p) for p in tsa_cert or []]
    trust = check_fingerprints(trust) if trust is not None else None
    check = check_data_chain(data_dir)
    checkpoints = verify_data_checkpoints(
        data_dir, trusted_fingerprints=trust, tsa_certificates=certificates,
        folder=checkpoints_copy,
    )  # fmt: skip
    failed = [c for c in checkpoints if not c.ok]
    release_rows = check_data_release_rows(data_dir)
    baselines, baseline_problems = _check_baselines(data_dir)
    if as_json:
        document = check.to_dict()
        document["ok"] = check.ok and not failed and release_rows.ok and not baseline_problems
        document["checkpoints"] = [c.to_dict() for c in checkpoints]
        document["release_rows"] = release_rows.to_dict()
        document["trend_baselines"] = {"versions": baselines, "problems": baseline_problems}
        emit_json(document)
    else:
        typer.echo(f"audit trail intact: {check.rows} rows, last hash {check.last_hash}")
        for c in checkpoints:
            state = (
                f"FAILED: {c.problem}" if c.problem else "ok" + (f" ({c.note})" if c.note else "")
            )
            typer.echo(f"checkpoint {c.file} (row {c.sequence}): {state}")
        state = "agree with the trail" if release_rows.ok else "FAILED"
        typer.echo(
            f"releases and signatures: {release_rows.releases} release rows, "
            f"{release_rows.signatures} signature rows: {state}"
        )
        state = "FAILED" if baseline_problems else "ok"
        typer.echo(f"trend baselines: {baselines} frozen versions vouched for: {state}")
    for c in failed:
        typer.echo(f"error: checkpoints/{c.file}: row {c.sequence}: {c.problem}", err=True)
    for problem in release_rows.problems:
        typer.echo(f"error: releases: {problem}", err=True)
    for line in baseline_problems:
        typer.echo(f"error: {line}", err=True)
    if failed or not release_rows.ok or baseline_problems:
        raise typer.Exit(1)


def _check_baselines(data_dir: Path | None) -> tuple[int, list[str]]:
    """Every frozen trend baseline held to its LOCK and the trail (trend/frozen.py)."""
    from cytorelease.records.store import open_data
    from cytorelease.trend.frozen import check_data_baselines

    data, store = open_data(data_dir, existing=True)
    with store:
        return check_data_baselines(data.root, store)


@app.command("checkpoint")
def checkpoint_command(
    key: Annotated[
        Path, typer.Option("--key", help="The Ed25519 key (PEM) that signs the chain head.")
    ],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign (and, with CYTORELEASE_TSA, timestamp) the audit chain head into DATA/checkpoints/."""
    from cytorelease.cli._output import emit_json
    from cytorelease.cli.keys import read_passphrase
    from cytorelease.records.store import open_data
    from cytorelease.report.checkpoint import write_checkpoint
    from cytorelease.report.keys import load_private_key

    data, store = open_data(data_dir, existing=True)
    with store:
        private = load_private_key(key, read_passphrase(confirm=False))
        result = write_checkpoint(store, data, private)
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"checkpoint {result['file']}: row {result['sequence']} hash {result['row_hash']}, "
        f"signed by {result['signer_fingerprint'][:16]}…"
    )
    if result["trusted_time"] is None:
        typer.echo("note: no trusted time (set CYTORELEASE_TSA to a TSA URL)", err=True)
    else:
        typer.echo(f"trusted time: {result['trusted_time']}")


@app.command("archive-verify")
def archive_verify_command(
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-hash every archived file against the store; exit 1 on altered, missing or orphan."""
    from cytorelease.cli._output import emit_json
    from cytorelease.records.archive_verify import verify_data_archive

    check = verify_data_archive(data_dir)
    if as_json:
        emit_json(check.to_dict())
    else:
        for label, names in (("altered", check.altered), ("missing", check.missing)):
            for name in names:
                typer.echo(f"{label}: {name}")
        for name in check.orphans:
            typer.echo(f"orphan: {name}")
        typer.echo(f"archive: {check.summary()}")
    if not check.intact:
        typer.echo(f"error: {check.archive}: archive not intact: {check.summary()}", err=True)
        raise typer.Exit(1)


@app.command("correct")
def correct_command(
    sequence: Annotated[
        int, typer.Argument(help="The audit row (sequence number) being corrected.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why the row is corrected (required).")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Correct an audit row: a new row that references it with a reason (the old row stays)."""
    from cytorelease.cli._output import emit_json
    from cytorelease.records.audit import correct_in_data

    entry = correct_in_data(data_dir, sequence=sequence, reason=reason)
    if as_json:
        emit_json(entry.to_dict())
    else:
        typer.echo(f"row {entry.sequence}: correction of row {sequence} by {entry.actor}: {reason}")


@app.command("export")
def export_command(
    lot: Annotated[str, typer.Argument(help="The lot id (e.g. lot-CAR-0001).", show_default=False)],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="A new or empty folder for the export bundle.", show_default=False
        ),
    ],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a lot's records for inspection: raw files, releases, spec and audit extract."""
    from cytorelease.cli._output import emit_json
    from cytorelease.export import export_lot

    report = export_lot(data_dir, lot, out)
    if as_json:
        emit_json(report)
        return
    summary = report.to_dict()
    typer.echo(
        f"exported lot {report.lot} to {report.out}: {summary['files']} files, "
        f"{summary['raw_files']} raw, {len(report.releases)} release(s), "
        f"{len(report.definitions) - len(report.unavailable_definitions)} definition(s), "
        f"{report.audit_rows} audit rows"
    )
    for release in report.releases:
        typer.echo(f"release {release['id']}: {release['disposition']} ({release['folder']})")
    for missing in report.unavailable_definitions:
        typer.echo(
            f"warning: {missing['kind']} {missing['id']}@{missing['version']} not available: "
            f"{missing['reason']}",
            err=True,
        )
    if not report.chain.ok:
        typer.echo(
            f"warning: audit trail broken at row {report.chain.broken_at}: {report.chain.problem}",
            err=True,
        )
    typer.echo(f"MANIFEST.json sha256 {report.manifest_sha256}; audit row {report.audit_sequence}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
