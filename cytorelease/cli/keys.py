"""``cytorelease keys`` commands."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

PASSPHRASE_ENV = "CYTORELEASE_PASSPHRASE"

app = typer.Typer(help="Signing keys for electronic signatures.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")


def read_passphrase(*, confirm: bool) -> str:
    """The passphrase from CYTORELEASE_PASSPHRASE (automation) or a hidden prompt."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    # err=True: the prompt goes to stderr, so stdout holds only the result (--json stays pure).
    return str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True))


@app.command("generate")
def generate(
    signer: Annotated[
        str, typer.Option("--signer", help='Printed name of the key holder, e.g. "Jane Doe".')
    ],
    user_id: Annotated[
        str, typer.Option("--user-id", help="The holder's unique user id (also the key file name).")
    ],
    role: Annotated[
        str,
        typer.Option("--role", help="analyst, reviewer, qa, or service (unattended evaluations)."),
    ] = "analyst",
    out: Annotated[
        Path, typer.Option("--out", help="Folder for KEY.pem and the signers.yaml registry.")
    ] = Path("."),
    valid_days: Annotated[
        int, typer.Option("--valid-days", help="Days from now the key may sign.")
    ] = 730,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Create an Ed25519 key encrypted with a passphrase and register its public half.

    The passphrase is read from CYTORELEASE_PASSPHRASE or prompted for (hidden, twice).
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.errors import SignatureError
    from cytorelease.report.keys import SignerRole, generate_key

    try:
        signer_role = SignerRole(role)
    except ValueError:
        known = ", ".join(r.value for r in SignerRole)
        raise SignatureError(f"unknown role '{role}' (one of: {known})", path=out) from None
    made = generate_key(
        signer=signer,
        user_id=user_id,
        role=signer_role,
        passphrase=read_passphrase(confirm=True),
        out_dir=out,
        valid_days=valid_days,
    )
    entry = made.entry.model_dump(mode="json")
    if json_out:
        emit_json({"key": str(made.key_path), "registry": str(made.registry_path), "signer": entry})
        return
    con = console()
    con.print(f"Private key (encrypted): {made.key_path}")
    con.print(f"Registered in: {made.registry_path}")
    con.print(f"Fingerprint: {made.entry.fingerprint}")
    con.print(f"Valid until: {entry['valid_until']}")
