"""``cytorelease addendum``: a later result added to a signed CoA by a signed addendum."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cytorelease.cli._options import JsonOption, SignersOption, TrailOption, signer_registry

PreviousOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--previous",
        help="An earlier addendum to the same CoA, oldest first (repeat for each).",
        show_default=False,
    ),
]


def register(root: typer.Typer) -> None:
    root.command(name="addendum")(addendum)


def addendum(
    coa: Annotated[Path, typer.Argument(help="The signed CoA (HTML) the result is added to.")],
    attribute: Annotated[
        str, typer.Option("--attribute", help="The manual attribute, e.g. manual.sterility.")
    ],
    value: Annotated[
        str, typer.Option("--value", help="The result, as entered and verified by two people.")
    ],
    key: Annotated[Path, typer.Option("--key", help="Your encrypted private key (KEY.pem).")],
    out: Annotated[Path, typer.Option("--out", help="The addendum to write (HTML; new file).")],
    lot_dir: Annotated[
        Path,
        typer.Option("--lot-dir", help="The lot folder whose manual/ holds the verified record."),
    ],
    unit: Annotated[
        str | None, typer.Option("--unit", help="Its unit (default: the attribute's).")
    ] = None,
    previous: PreviousOption = None,
    comment: Annotated[
        str | None, typer.Option("--comment", help="A comment shown and signed with it.")
    ] = None,
    registry: SignersOption = None,
    data_dir: TrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue the next signed addendum to a CoA: the verified result, re-evaluated with the
    CoA's spec version, chained to the CoA's hash. The CoA is never edited.

    You sign it as `performed`; a reviewer and an approver then sign the addendum with
    `cytorelease sign ADDENDUM.html --coa COA.html`.
    """
    from cytorelease.addendum import issue_addendum
    from cytorelease.cli._output import console, emit_json
    from cytorelease.cli.keys import read_passphrase
    from cytorelease.errors import SignatureError
    from cytorelease.records.trail import open_trail

    chosen = signer_registry(registry, data_dir)
    if chosen is None:
        raise SignatureError(
            "an addendum is signed and checked against the site's signer registry, and none "
            "was given",
            path=coa,
            hint="pass --registry DIR (or set CYTORELEASE_REGISTRY)",
        )
    issued = issue_addendum(
        coa,
        attribute=attribute,
        value=value,
        unit=unit,
        lot_dir=lot_dir,
        key_path=key,
        passphrase=read_passphrase(confirm=False),
        registry=chosen,
        out=out,
        previous=previous or (),
        comment=comment,
        trail=open_trail(data_dir),
    )
    if as_json:
        emit_json(issued.to_dict())
        return
    record = issued.record
    disposition = record["disposition"]
    console().print(
        f"Addendum {record['number']} to {coa}: {out}\n"
        f"  added {attribute} = {record['added'][0]['value']} "
        f"(entered by {record['added'][0]['entered_by']}, verified by "
        f"{record['added'][0]['verified_by']})\n"
        f"  disposition {disposition['before']} -> {disposition['after']}; "
        f"{len(record['changes'])} verdict(s) changed\n"
        f"  signed performed by {issued.signature.signer} ({issued.signature.user_id})"
    )
