"""``cytorelease manual``: manual results under a second-person check (enter, verify, status)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cytorelease.cli._options import JsonOption, SignersOption, TrailOption, signer_registry

if TYPE_CHECKING:
    from cytorelease.manual import LotIdentity

app = typer.Typer(
    help="Manual results (sterility, endotoxin, ...): typed and signed by one person, typed "
    "again blind and signed by a second.",
    no_args_is_help=True,
)

LotArgument = Annotated[Path, typer.Argument(help="The lot folder (holds lot.yaml).")]
AttributeOption = Annotated[
    str, typer.Option("--attribute", help="The manual attribute, e.g. manual.sterility.")
]
ValueOption = Annotated[str, typer.Option("--value", help="The result as read at the bench.")]
KeyOption = Annotated[Path, typer.Option("--key", help="Your encrypted private key (KEY.pem).")]
UnitOption = Annotated[
    str | None, typer.Option("--unit", help="Its unit (default: the attribute's).")
]
CommentOption = Annotated[str | None, typer.Option("--comment", help="A comment, signed with it.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="manual")


def _registry(registry: Path | None, data_dir: Path | None, lot_dir: Path) -> Path:
    from cytorelease.errors import SignatureError

    chosen = signer_registry(registry, data_dir)
    if chosen is None:
        raise SignatureError(
            "a manual entry is signed against the site's signer registry, and none was given",
            path=lot_dir,
            hint="pass --registry DIR (or set CYTORELEASE_REGISTRY)",
        )
    return chosen


def _identity(lot_dir: Path) -> LotIdentity:
    from cytorelease.lot.manifest import load_manifest
    from cytorelease.manual import LotIdentity

    manifest = load_manifest(lot_dir, check_inputs=False)
    return LotIdentity(manifest.lot_id, manifest.chain_of_identity)


@app.command("enter")
def enter(
    lot_dir: LotArgument,
    attribute: AttributeOption,
    value: ValueOption,
    key: KeyOption,
    registry: SignersOption = None,
    unit: UnitOption = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why this entry replaces an earlier one (a correction)."),
    ] = None,
    comment: CommentOption = None,
    data_dir: TrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enter a manual result, signed; it counts once a second person verifies it.

    The passphrase is prompted for (hidden) or taken from CYTORELEASE_PASSPHRASE.
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.cli.keys import read_passphrase
    from cytorelease.manual import enter_value
    from cytorelease.records.trail import open_trail

    done = enter_value(
        lot_dir, _identity(lot_dir),
        attribute=attribute, value=value, unit=unit, reason=reason, comment=comment,
        key_path=key, passphrase=read_passphrase(confirm=False),
        registry=_registry(registry, data_dir, lot_dir), trail=open_trail(data_dir),
    )  # fmt: skip
    if as_json:
        emit_json(done.to_dict())
        return
    console().print(
        f"Entered {attribute} for lot {done.event.lot} as {done.event.user_id} at "
        f"{done.event.utc_time}; a second person verifies it with `cytorelease manual verify`"
    )


@app.command("verify")
def verify(
    lot_dir: LotArgument,
    attribute: AttributeOption,
    value: ValueOption,
    key: KeyOption,
    registry: SignersOption = None,
    unit: UnitOption = None,
    comment: CommentOption = None,
    data_dir: TrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a manual result by typing it again without looking at the first entry.

    Exit 0 when both entries agree, 1 when they differ (recorded, signed and audited: the lot
    is not evaluated until the value is entered again). The first value is never shown. The
    passphrase is typed: CYTORELEASE_PASSPHRASE is refused for a second-person check.
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.cli.keys import PASSPHRASE_ENV, passphrase_from_env, read_passphrase
    from cytorelease.errors import SignatureError
    from cytorelease.manual import verify_value
    from cytorelease.records.trail import open_trail

    if passphrase_from_env():
        raise SignatureError(
            f"a second-person check is a person's act: its passphrase is typed, never taken "
            f"from {PASSPHRASE_ENV}",
            path=lot_dir,
            hint=f"unset {PASSPHRASE_ENV} and verify again",
        )
    done = verify_value(
        lot_dir, _identity(lot_dir),
        attribute=attribute, value=value, unit=unit, comment=comment,
        key_path=key, passphrase=read_passphrase(confirm=False),
        registry=_registry(registry, data_dir, lot_dir), trail=open_trail(data_dir),
    )  # fmt: skip
    if as_json:
        emit_json(done.to_dict())
    elif done.matches:
        console().print(f"Verified {attribute} for lot {done.event.lot}: both entries agree")
    if not done.matches:
        typer.echo(
            f"error: {done.path}: {attribute}: the second entry does not match the first "
            "(recorded); the lot is not evaluated until the value is entered again",
            err=True,
        )
        raise typer.Exit(1)


@app.command("status")
def status(
    lot_dir: LotArgument,
    registry: SignersOption = None,
    data_dir: TrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each manual result's state (verified, unverified, mismatch), who entered and verified it
    and when; values are not shown, so a verifier can look without unblinding."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.manual import manual_results
    from cytorelease.report.registry import load_registry

    chosen = signer_registry(registry, data_dir)
    results = manual_results(
        lot_dir, _identity(lot_dir),
        registry=load_registry(chosen) if chosen is not None else None,
    )  # fmt: skip
    rows = [
        {
            "attribute": r.attribute,
            "state": str(r.state),
            "entered_by": r.entered.user_id,
            "entered_at": r.entered.utc_time,
            "verified_by": r.verified.user_id if r.verified else None,
            "verified_at": r.verified.utc_time if r.verified else None,
            "events": len(r.events),
            "note": r.note,
            "record": str(r.path),
        }
        for r in results.values()
    ]
    if as_json:
        emit_json({"lot_dir": str(lot_dir), "registry": str(chosen) if chosen else None,
                   "manual": rows})  # fmt: skip
        return
    print_table(
        f"Manual results of {lot_dir}",
        ["attribute", "state", "entered by", "verified by", "note"],
        [[r["attribute"], r["state"], f"{r['entered_by']} {r['entered_at']}",
          f"{r['verified_by']} {r['verified_at']}" if r["verified_by"] else "—",
          r["note"] or ""] for r in rows],
    )  # fmt: skip
