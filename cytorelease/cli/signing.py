"""Top-level signing commands: ``sign`` and ``verify``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cytorelease.cli._options import JsonOption, MeaningChoice, TrailOption
from cytorelease.cli.addendum import PreviousOption
from cytorelease.cli.keys import (
    PASSPHRASE_ENV,
    passphrase_from_env,
    read_passphrase,
    stdin_is_terminal,
)

if TYPE_CHECKING:
    from cytorelease.records.trail import Trail
    from cytorelease.report.entry import Meaning
    from cytorelease.report.registry import Registry
    from cytorelease.report.verify import ContentCheck

CoaOption = Annotated[
    Path | None,
    typer.Option("--coa", help="For an addendum: the signed CoA it amends.", show_default=False),
]


def register(root: typer.Typer) -> None:
    root.command(name="sign")(sign)
    root.command(name="verify")(verify)


def sign(
    report: Annotated[Path, typer.Argument(help="The CoA (HTML) to sign; rewritten in place.")],
    key: Annotated[Path, typer.Option("--key", help="Your encrypted private key (KEY.pem).")],
    meaning: Annotated[
        MeaningChoice,
        typer.Option(
            "--meaning",
            help="What the signature means: performed, reviewed, approved, "
            "approved-with-deviation or rejected (computer-generated-evaluation is the "
            "unattended evaluation service's alone).",
        ),
    ],
    registry: Annotated[
        Path, typer.Option("--registry", help="The signed registry (folder or registry.yaml).")
    ],
    comment: Annotated[
        str | None, typer.Option("--comment", help="A comment shown and signed with it.")
    ] = None,
    deviation: Annotated[
        str | None,
        typer.Option("--deviation", help="The deviation id (approved-with-deviation only)."),
    ] = None,
    coa: CoaOption = None,
    previous: PreviousOption = None,
    data_dir: TrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Append your electronic signature to a CoA (or an addendum, with the --coa it amends),
    as the spec's signature policy allows.

    The passphrase is prompted for (hidden); CYTORELEASE_PASSPHRASE or a pipe serve only
    `performed`: reviewed, approved, approved-with-deviation and rejected are typed at a terminal.
    With CYTORELEASE_TSA set, the signature carries the TSA's trusted time.
    """
    from cytorelease.cli._output import console, emit_json
    from cytorelease.errors import SignatureError
    from cytorelease.records.trail import open_trail
    from cytorelease.report.entry import Meaning
    from cytorelease.report.sign import PERSON_ONLY, sign_with_key_file

    human = [m.value for m in Meaning if m.is_human]
    chosen = Meaning(meaning.value)
    if not chosen.is_human:
        raise SignatureError(
            f"the meaning '{meaning}' is reserved for the unattended evaluation service",
            path=report,
            hint=f"sign as one of: {', '.join(human)}",
        )
    trail = open_trail(data_dir)
    check = _addendum_check(report, registry, coa, previous)
    if chosen in PERSON_ONLY:
        _require_typed(chosen, report, trail)
    entry = sign_with_key_file(
        report,
        key_path=key,
        passphrase=read_passphrase(confirm=False),
        meaning=chosen,
        registry=registry,
        comment=comment,
        deviation=deviation,
        trail=trail,
        content_check=check,
    )
    if as_json:
        emit_json({"report": str(report), "signature": entry.to_dict()})
        return
    console().print(
        f"Signed {report}: {entry.meaning} by {entry.signer} ({entry.user_id}, {entry.role}) "
        f"at {entry.utc_time}" + ("" if entry.trusted_time else " (no trusted time)")
    )


def _schema_of(report: Path) -> str | None:
    """The schema of the record ``report`` holds (anything unreadable is left to the checks)."""
    from cytorelease.errors import CytoreleaseError
    from cytorelease.report.record import extract_record

    try:
        return str(extract_record(report.read_bytes()).get("schema"))
    except (OSError, CytoreleaseError):
        return None


def _is_addendum(report: Path) -> bool:
    from cytorelease.report.record import ADDENDUM_SCHEMA

    return _schema_of(report) == ADDENDUM_SCHEMA


def _is_impact(report: Path) -> bool:
    from cytorelease.report.record import IMPACT_SCHEMA

    return _schema_of(report) == IMPACT_SCHEMA


def _refuse_coa_options(report: Path, coa: Path | None, previous: list[Path] | None) -> None:
    from cytorelease.errors import InputError

    if coa is not None or previous:
        raise InputError(
            "is a CoA, not an addendum: --coa and --previous name what an addendum amends",
            path=report,
        )


def _addendum_check(
    report: Path, registry: Path, coa: Path | None, previous: list[Path] | None
) -> ContentCheck | None:
    """For an addendum, what signing holds it to (its content and its chain to ``coa``)."""
    from cytorelease.report.registry import load_registry

    if _is_impact(report):
        from cytorelease.reanalyse.impact import impact_problems

        _refuse_coa_options(report, coa, previous)
        return impact_problems
    if not _is_addendum(report):
        _refuse_coa_options(report, coa, previous)
        return _coa_check(load_registry(registry))
    from cytorelease.addendum import addendum_check
    from cytorelease.errors import SignatureError

    if coa is None:
        raise SignatureError(
            "is an addendum: it is signed only with the CoA it amends, so its chain is checked",
            path=report,
            hint="pass --coa COA.html (and --previous for each earlier addendum)",
        )
    return addendum_check(load_registry(registry), coa, previous or ())


def _coa_check(registry: Registry | None) -> ContentCheck:
    """A CoA's verified manual results held to the signed records it carries."""
    from cytorelease.lot.manual_check import manual_record_problems

    return lambda record: manual_record_problems(record, registry)


def _require_typed(meaning: Meaning, report: Path, trail: Trail | None) -> None:
    """A person's decision takes a passphrase typed at a terminal: neither the environment
    nor a pipe (a script) may supply it. The refusal is audited."""
    from cytorelease.errors import SignatureError
    from cytorelease.report.unlock import audit_signing

    if passphrase_from_env():
        problem = (
            f"'{meaning}' is a person's decision: its passphrase is typed, never taken from "
            f"{PASSPHRASE_ENV}"
        )
        hint = f"unset {PASSPHRASE_ENV} and sign again"
    elif not stdin_is_terminal():
        problem = (
            f"'{meaning}' is a person's decision: its passphrase is typed at a terminal, and "
            "standard input is not one (a piped or redirected passphrase is refused)"
        )
        hint = "run `cytorelease sign` in a terminal and type the passphrase at the prompt"
    else:
        return
    audit_signing(trail, report, "sign-refused", {"meaning": str(meaning), "problem": problem})
    raise SignatureError(problem, path=report, hint=hint)


def verify(
    report: Annotated[Path, typer.Argument(help="The signed CoA (HTML) to verify.")],
    trust: Annotated[
        Path | None,
        typer.Option("--trust", help="The site's signed registry (registry.yaml or its folder)."),
    ] = None,
    genesis: Annotated[
        str | None,
        typer.Option(
            "--genesis",
            envvar="CYTORELEASE_REGISTRY_GENESIS",
            help="The site's registry genesis SHA-256 (printed by keys init-registry): a "
            "registry that starts elsewhere fails.",
        ),
    ] = None,
    coa: CoaOption = None,
    previous: PreviousOption = None,
    data_dir: TrailOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every byte and every signature of a CoA, or of an addendum and its chain to the
    CoA it amends (--coa); exit 1 if anything fails."""
    from cytorelease.cli._output import emit_json, print_table
    from cytorelease.records.trail import open_trail
    from cytorelease.report.verify import verify_report

    trail = open_trail(data_dir)
    if _is_addendum(report):
        from cytorelease.addendum import verify_addendum

        result = verify_addendum(report, coa=coa, previous=previous or (), trust=trust,
                                 trail=trail, genesis=genesis)  # fmt: skip
    else:
        from cytorelease.report.registry import load_registry

        _refuse_coa_options(report, coa, previous)
        check = _coa_check(load_registry(trust) if trust is not None else None)
        if _is_impact(report):
            from cytorelease.reanalyse.impact import impact_problems

            check = impact_problems
        result = verify_report(report, trust=trust, trail=trail, genesis=genesis,
                               content_check=check)  # fmt: skip
    if as_json:
        emit_json(result.to_dict())
    else:
        title = f"lot {result.lot_id}, disposition {result.disposition}"
        print_table(
            f"{report}: " + ("change impact assessment" if _is_impact(report) else title),
            ["#", "Signer", "User ID", "Role", "Meaning", "UTC time", "Trusted time", "Valid"],
            [
                [
                    c.number,
                    c.entry.signer if c.entry else "?",
                    c.entry.user_id if c.entry else "?",
                    c.entry.role if c.entry else "?",
                    c.entry.meaning if c.entry else "?",
                    c.entry.utc_time if c.entry else "?",
                    c.trusted_time or "none",
                    "yes" if c.ok else "NO",
                ]
                for c in result.signatures
            ],
        )
    if not result.ok:
        for line in result.failures():
            typer.echo(f"error: {report}: {line}", err=True)
        raise typer.Exit(1)
    if not as_json:
        typer.echo(f"verified: {report} ({len(result.signatures)} signatures)")
        if result.registry:
            typer.echo(
                f"registry: {result.registry['path']}, {result.registry['versions']} versions, "
                f"genesis {result.registry['genesis_sha256']}"
            )
        untimed = [c.number for c in result.signatures if c.trusted_time is None]
        if untimed:
            typer.echo(f"no trusted time: signature {', '.join(map(str, untimed))}")
