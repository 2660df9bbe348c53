"""Top-level commands of the unattended side: ``hook``, ``watch``, ``worker``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import DataDirOption, JsonOption

StableOption = Annotated[
    float,
    typer.Option(
        "--stable-seconds",
        min=0.0,
        help="A file is stable when its size and mtime stay unchanged this long.",
    ),
]


def hook(
    file: Annotated[Path, typer.Argument(help="The file the instrument has just written.")],
    instrument: Annotated[
        str,
        typer.Option(
            "--instrument", help="The instrument's id in instruments.yaml.", show_default=False
        ),
    ],
    data_dir: DataDirOption = None,
    stable_seconds: StableOption = 2.0,
    as_json: JsonOption = False,
) -> None:
    """Archive one finished file, record it and queue its analysis (for instrument software).

    The same content twice is a no-op that says so; an invalid file is quarantined (kept) and
    an instrument not in instruments.yaml is refused: both exit 2.
    """
    from cytorelease.cli._output import emit_json
    from cytorelease.hook.hook import HookStatus, run_hook

    outcome = run_hook(data_dir, file, instrument=instrument, stable_seconds=stable_seconds)
    if outcome.exit_code:
        typer.echo(f"error: {outcome.path}: {outcome.message}", err=True)
    if as_json:
        emit_json(outcome)
    elif not outcome.exit_code:
        prefix = "duplicate" if outcome.status is HookStatus.DUPLICATE else "ok"
        typer.echo(f"{prefix}: {outcome.path}: {outcome.message}")
    raise typer.Exit(outcome.exit_code)


def watch(
    inbox: Annotated[Path, typer.Argument(help="The folder tree instruments write into.")],
    instrument: Annotated[
        str | None,
        typer.Option(
            "--instrument",
            help="Every file comes from this instrument (default: INBOX/<instrument id>/...).",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Hook what is there now, then exit.")
    ] = False,
    data_dir: DataDirOption = None,
    stable_seconds: StableOption = 2.0,
    as_json: JsonOption = False,
) -> None:
    """Hook every new stable file in INBOX (files already handled are skipped).

    A file that cannot be taken (unknown instrument, directly in INBOX, hidden, a link) is
    left where it is and listed; the command then exits 1.
    """
    from cytorelease.cli._output import emit_json
    from cytorelease.hook.watch import run_watch

    def log(line: str) -> None:
        typer.echo(line, err=True)

    report = run_watch(
        data_dir, inbox, instrument=instrument, once=once, stable_seconds=stable_seconds, log=log
    )
    if as_json:
        emit_json(report)
    else:
        counts = ", ".join(f"{n} {status}" for status, n in report.counts().items())
        typer.echo(f"{len(report.outcomes)} files: {counts}")
        for outcome in report.not_taken:
            typer.echo(f"not taken: {outcome.path}: {outcome.message}")
    raise typer.Exit(report.exit_code)


def worker(
    once: Annotated[bool, typer.Option("--once", help="Drain the queue, then exit.")] = False,
    data_dir: DataDirOption = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            min=0.1,
            help="How long an item is held before another worker may take it.",
        ),
    ] = 300.0,
    poll: Annotated[
        float, typer.Option("--poll", min=0.01, help="Seconds between looks at an empty queue.")
    ] = 1.0,
    max_attempts: Annotated[
        int,
        typer.Option(
            "--max-attempts",
            min=1,
            help="Fail an item after its worker died this many times while holding it.",
        ),
    ] = 10,
    checkpoint_rows: Annotated[
        int,
        typer.Option(
            "--checkpoint-rows",
            min=1,
            help="Sign an audit checkpoint once this many rows were added since the last.",
        ),
    ] = 500,
    checkpoint_seconds: Annotated[
        float,
        typer.Option(
            "--checkpoint-seconds",
            min=1.0,
            help="...or once the last checkpoint is this old (and rows were added).",
        ),
    ] = 3600.0,
    warmup: Annotated[
        bool | None,
        typer.Option(
            "--warmup/--no-warmup",
            help="Load (or, the first time, compile) every flow kernel before taking work, as "
            "`cytorelease warmup` does, so no file waits for it. Default: on when running "
            "continuously, off with --once.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Drain the work queue: analyse files, route them to lots, release complete lots."""
    from cytorelease.cli._output import emit_json
    from cytorelease.hook.worker import start_worker

    def log(line: str) -> None:
        typer.echo(line, err=True)

    if warmup if warmup is not None else not once:
        from cytorelease.warmup import warm_up

        warm = warm_up()
        log(
            f"warm: {warm.compiled} kernels compiled, {warm.loaded} loaded from the cache "
            f"in {warm.seconds:.1f} s"
        )
    report = start_worker(
        data_dir,
        once=once,
        lease_seconds=lease_seconds,
        poll=poll,
        max_attempts=max_attempts,
        log=log,
        checkpoint_every_rows=checkpoint_rows,
        checkpoint_every_seconds=checkpoint_seconds,
    )
    if as_json:
        emit_json(report)
    else:
        typer.echo(
            f"{report.processed} items: {report.done} done, {report.failed} failed, "
            f"{len(report.releases)} releases"
        )


def register(root: typer.Typer) -> None:
    """``hook``, ``watch`` and ``worker`` are top-level commands."""
    root.command(name="hook")(hook)
    root.command(name="watch")(watch)
    root.command(name="worker")(worker)
