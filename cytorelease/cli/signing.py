"""Top-level signing commands: ``sign`` and ``verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import TrailOption
from cytorelease.cli.keys import read_passphrase


def register(root: typer.Typer) -> None:
    root.command(name="sign")(sign)
    root.command(name="verify")(verify)


def sign(
    report: Annotated[Path, typer.Argument(help="The CoA (HTML) to sign; rewritten in place.")],
    key: Annotated[Path, typer.Option("--key", help="Your encrypted private key (KEY.pem).")],
    meaning: Annotated[
        str,
        typer.Option("--meaning", help="What the signature means: performed, reviewed, approved."),
    ],
    comment: Annotated[
        str | None, typer.Option("--comment", help="A comment shown and signed with it.")
    ] = None,
    signers: Annotated[
        Path | None,
        typer.Option("--signers", help="The signers.yaml registry (default: beside the key)."),
    ] = None,
    data_dir: TrailOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Append your electronic signature to a CoA.

    The passphrase is read from CYTORELEASE_PASSPHRASE or prompted for (hidden).
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.errors import SignatureError
    from cytorelease.records.trail import open_trail
    from cytorelease.report.entry import Meaning
    from cytorelease.report.sign import sign_with_key_file

    try:
        chosen = Meaning(meaning)
    except ValueError:
        raise SignatureError(
            f"unknown meaning '{meaning}' (one of: performed, reviewed, approved)", path=report
        ) from None
    entry = sign_with_key_file(
        report,
        key_path=key,
        passphrase=read_passphrase(confirm=False),
        meaning=chosen,
        signers_path=signers,
        comment=comment,
        trail=open_trail(data_dir),
    )
    if json_out:
        emit_json({"report": str(report), "signature": entry.to_dict()})
        return
    console().print(
        f"Signed {report}: {entry.meaning} by {entry.signer} ({entry.user_id}) at {entry.utc_time}"
    )


def verify(
    report: Annotated[Path, typer.Argument(help="The signed CoA (HTML) to verify.")],
    trust: Annotated[
        Path | None,
        typer.Option("--trust", help="The signers.yaml registry of keys you trust."),
    ] = None,
    data_dir: TrailOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Check every byte and every signature of a CoA; exit 1 if anything fails."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.records.trail import open_trail
    from cytorelease.report.verify import verify_report

    result = verify_report(report, trust=trust, trail=open_trail(data_dir))
    if json_out:
        emit_json(result.to_dict())
    else:
        print_table(
            f"{report}: lot {result.lot_id}, disposition {result.disposition}",
            ["#", "Signer", "User ID", "Meaning", "UTC time", "Valid"],
            [
                [
                    c.number,
                    c.entry.signer if c.entry else "?",
                    c.entry.user_id if c.entry else "?",
                    c.entry.meaning if c.entry else "?",
                    c.entry.utc_time if c.entry else "?",
                    "yes" if c.ok else "NO",
                ]
                for c in result.signatures
            ],
        )
    if not result.ok:
        for line in result.failures():
            typer.echo(f"error: {report}: {line}", err=True)
        raise typer.Exit(1)
    if not json_out:
        typer.echo(f"verified: {report} ({len(result.signatures)} signatures)")
