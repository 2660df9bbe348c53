"""``cytorelease keys`` commands: key pairs and the signed signer registry."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cytorelease.cli._options import JsonOption

PASSPHRASE_ENV = "CYTORELEASE_PASSPHRASE"

app = typer.Typer(help="Signing keys and the signed signer registry.", no_args_is_help=True)

RegistryOption = Annotated[
    Path, typer.Option("--registry", help="The registry folder (or its registry.yaml).")
]
AdminKeyOption = Annotated[
    Path, typer.Option("--admin-key", help="An active admin's encrypted private key.")
]
EvidenceOption = Annotated[
    str | None,
    typer.Option(
        "--identity-evidence",
        help="How the person's identity was verified, one line (e.g. \"badge 4411 and passport "
        'checked in person by aadmin"); required for every role but service.',
    ),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")


def passphrase_from_env() -> bool:
    return os.environ.get(PASSPHRASE_ENV) is not None


def stdin_is_terminal() -> bool:
    """Whether standard input is a terminal: a person's decision is typed there, never piped
    (with no terminal, the hidden prompt would only warn and read the pipe)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # closed
        return False


def read_passphrase(*, confirm: bool, prompt: str = "Passphrase") -> str:
    """The passphrase from CYTORELEASE_PASSPHRASE (automation) or a hidden prompt."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    # err=True: the prompt goes to stderr, so stdout holds only the result (--json stays pure).
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))


def _admin(admin_key: Path) -> Any:
    from cytorelease.report.keys import load_private_key

    return load_private_key(admin_key, read_passphrase(confirm=False, prompt="Admin passphrase"))


def _roles(values: list[str], where: Path) -> list[Any]:
    from cytorelease.errors import SignatureError
    from cytorelease.signature_policy import Role

    roles = []
    for value in values:
        try:
            roles.append(Role(value))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise SignatureError(f"unknown role '{value}' (one of: {known})", path=where) from None
    return roles


def _require_evidence(evidence: str | None, roles: list[Any]) -> None:
    """A usage error (exit 2) before any passphrase is asked when a person has no evidence."""
    from cytorelease.signature_policy import Role

    if (evidence is None or not evidence.strip()) and any(r != Role.SERVICE for r in roles):
        raise typer.BadParameter(
            "required for a person (every role but service): how their identity was verified, "
            '21 CFR 11.100(b), e.g. "badge 4411 and passport checked in person by aadmin"',
            param_hint="'--identity-evidence'",
        )


def _report(registry: Any, as_json: bool, message: str) -> None:
    from cytorelease.cli._output import console, emit_json

    head = registry.head
    if as_json:
        emit_json(
            {
                "registry": registry.describe(),
                "version": head.version,
                "change": head.change.model_dump(mode="json"),
                "entries": [e.model_dump(mode="json") for e in head.entries],
            }
        )
        return
    con = console()
    con.print(message)
    con.print(f"Registry: {registry.path} (version {head.version})")
    con.print(f"Genesis sha256 (pin this): {registry.genesis_sha256}")


@app.command("init-registry")
def init_registry_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for registry.yaml and the key.")],
    signer: Annotated[str, typer.Option("--signer", help="Printed name of the first admin.")],
    user_id: Annotated[str, typer.Option("--user-id", help="The first admin's user id.")],
    identity_evidence: EvidenceOption = None,
    valid_days: Annotated[int, typer.Option("--valid-days", help="Days the key may sign.")] = 730,
    as_json: JsonOption = False,
) -> None:
    """Create a signed registry whose first version holds one admin, and the admin's key."""
    from cytorelease.report.registry_admin import init_registry
    from cytorelease.signature_policy import Role

    _require_evidence(identity_evidence, [Role.ADMIN])
    made = init_registry(
        out,
        signer=signer,
        user_id=user_id,
        passphrase=read_passphrase(confirm=True),
        identity_evidence=identity_evidence,
        valid_days=valid_days,
    )
    _report(made.registry, as_json, f"Admin key (encrypted): {made.admin_key.key_path}")


@app.command("generate")
def generate(
    signer: Annotated[
        str, typer.Option("--signer", help='Printed name of the key holder, e.g. "Jane Doe".')
    ],
    user_id: Annotated[
        str, typer.Option("--user-id", help="The holder's unique user id (also the key file name).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for ID.pem and ID.pub.")] = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Create an Ed25519 key pair: ID.pem (encrypted) and ID.pub, for an admin to register.

    The passphrase is read from CYTORELEASE_PASSPHRASE or prompted for (hidden, twice).
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.report.keys import generate_key

    made = generate_key(
        signer=signer, user_id=user_id, passphrase=read_passphrase(confirm=True), out_dir=out
    )
    public = {"name": made.public.name, "user_id": made.public.user_id,
              "fingerprint": made.public.fingerprint}  # fmt: skip
    if as_json:
        emit_json({"key": str(made.key_path), "public": str(made.public_path), "signer": public})
        return
    con = console()
    con.print(f"Private key (encrypted): {made.key_path}")
    con.print(f"Public key, for the registry admin: {made.public_path}")
    con.print(f"Fingerprint (read it to the admin): {made.public.fingerprint}")


@app.command("register")
def register_command(
    public: Annotated[Path, typer.Argument(help="The ID.pub file `keys generate` wrote.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role", help="analyst, reviewer, qa-approver, spec-author, admin or service."
        ),
    ],
    registry: RegistryOption,
    admin_key: AdminKeyOption,
    identity_evidence: EvidenceOption = None,
    valid_days: Annotated[int, typer.Option("--valid-days", help="Days the key may sign.")] = 730,
    as_json: JsonOption = False,
) -> None:
    """Register a key with its roles: a new registry version signed by an admin."""
    from cytorelease.report.registry_admin import register_key

    roles = _roles(role, public)
    _require_evidence(identity_evidence, roles)
    updated = register_key(
        public,
        roles=roles,
        registry=registry,
        admin_key=_admin(admin_key),
        identity_evidence=identity_evidence,
        valid_days=valid_days,
    )
    entry = updated.head.entries[-1]
    _report(updated, as_json, f"Registered {entry.name} ({entry.user_id}): {entry.fingerprint}")


@app.command("revoke")
def revoke_command(
    user_id: Annotated[str, typer.Argument(help="Whose active key to revoke.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the registry).")],
    registry: RegistryOption,
    admin_key: AdminKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Revoke a person's active key from now on; signatures made before stay valid."""
    from cytorelease.report.registry_admin import revoke_key

    updated = revoke_key(user_id, reason=reason, registry=registry, admin_key=_admin(admin_key))
    _report(updated, as_json, f"Revoked the key of {user_id}")


@app.command("unlock")
def unlock_command(
    user_id: Annotated[str, typer.Argument(help="Whose locked key to unlock.")],
    registry: RegistryOption,
    admin_key: AdminKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Lift the lock-out after five wrong passphrases (recorded as a signed registry version)."""
    from cytorelease.report.registry_admin import unlock_key

    updated = unlock_key(user_id, registry=registry, admin_key=_admin(admin_key))
    _report(updated, as_json, f"Unlocked the key of {user_id}")


@app.command("add-tsa")
def add_tsa_command(
    certificate: Annotated[Path, typer.Argument(help="The TSA's certificate (PEM or DER).")],
    registry: RegistryOption,
    admin_key: AdminKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Trust a time-stamping authority's certificate for signatures' trusted time."""
    from cytorelease.errors import InputError
    from cytorelease.report.registry_admin import add_tsa_certificate

    try:
        data = certificate.read_bytes()
    except OSError:
        raise InputError("cannot read the certificate", path=certificate) from None
    updated = add_tsa_certificate(
        data, registry=registry, admin_key=_admin(admin_key), source=certificate
    )
    _report(updated, as_json, f"Trusted TSA: {updated.head.change.detail}")


@app.command("show")
def show_command(registry: RegistryOption, as_json: JsonOption = False) -> None:
    """Verify the registry's chain and list its keys as they stand now."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.report.registry import load_registry

    loaded = load_registry(registry)
    if as_json:
        emit_json(
            {
                "registry": loaded.describe(),
                "versions": [
                    v.change.model_dump(mode="json")
                    | {"version": v.version, "created_at": v.created_at, "signed_by": v.signed_by}
                    for v in loaded.versions
                ],
                "entries": [e.model_dump(mode="json") for e in loaded.head.entries],
            }
        )
        return
    print_table(
        f"{loaded.path}: {len(loaded.versions)} versions, genesis {loaded.genesis_sha256[:16]}…",
        ["User ID", "Name", "Roles", "Status", "Valid until", "Fingerprint", "Identity evidence"],
        [
            [
                e.user_id,
                e.name,
                ", ".join(e.roles),
                e.status,
                e.valid_until,
                e.fingerprint[:16],
                e.identity_evidence or "-",
            ]
            for e in loaded.head.entries
        ],
    )
