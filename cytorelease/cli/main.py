"""The ``cytorelease`` application: groups are registered from their own modules.

Library errors become one line on stderr and an exit code here, in one place: 2 for bad input,
1 for a failed verification (an out-of-spec lot exits 1 from its own command, as a result).
Any other exception is a bug, not bad input: one ``internal error`` line naming the file being
read (when a reader noted it) and the exception's type, never its message (which may quote a
file), and exit 3; ``CYTORELEASE_DEBUG=1`` lets it through with its full traceback.
Command modules import heavy libraries inside the command functions so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

try:  # typer >= 0.17 vendors click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[no-redef, assignment, unused-ignore]

from cytorelease import __version__

INTERNAL_ERROR_EXIT = 3
DEBUG_ENV = "CYTORELEASE_DEBUG"

# Each module defines ``register(app)``; the list order is the order of ``--help``.
_COMMAND_MODULES = (
    "cytorelease.cli.demo",
    "cytorelease.cli.synth",
    "cytorelease.cli.flow",
    "cytorelease.cli.qpcr",
    "cytorelease.cli.potency",
    "cytorelease.cli.spec",
    "cytorelease.cli.evaluate",
    "cytorelease.cli.manual",
    "cytorelease.cli.release",
    "cytorelease.cli.signing",
    "cytorelease.cli.addendum",
    "cytorelease.cli.keys",
    "cytorelease.cli.audit",
    "cytorelease.cli.lots",
    "cytorelease.cli.trend",
    "cytorelease.cli.compare",
    "cytorelease.cli.protocol",
    "cytorelease.cli.reanalyse",
    "cytorelease.cli.hook",
    "cytorelease.cli.queue",
    "cytorelease.cli.selftest",
    "cytorelease.cli.warmup",
)


def _error_line(exc: BaseException) -> tuple[str, int]:
    """The one stderr line and the exit code for an exception a command let through."""
    from cytorelease.errors import CytoreleaseError, noted_input

    if isinstance(exc, CytoreleaseError):
        return f"error: {exc.one_line()}", exc.exit_code
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"error: {exc.filename}: {_os_problem(exc)}", 2
    if isinstance(exc, UnicodeDecodeError):
        # Readers should name the file themselves; this is the net for one that does not.
        return (
            f"error: input is not {exc.encoding} text (byte {exc.start:,}: "
            f"{exc.object[exc.start : exc.start + 1]!r}) (save the file as UTF-8)",
            2,
        )
    if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
        raise exc
    where = noted_input(exc)
    return (
        f"internal error: {f'{where}: ' if where else ''}{type(exc).__name__}: please report "
        f"this (set {DEBUG_ENV}=1 for the traceback)",
        INTERNAL_ERROR_EXIT,
    )


def _os_problem(exc: OSError) -> str:
    """What the operating system refused, said as the fix needs it."""
    if isinstance(exc, FileExistsError):
        if Path(exc.filename).is_dir():
            return "already exists; refusing to overwrite it (choose another path or move it)"
        return "is a file where a folder or a new file was to be created (choose another path)"
    if isinstance(exc, NotADirectoryError):
        return "a part of this path is a file, not a folder"
    reason = (exc.strerror or type(exc).__name__).lower()
    return reason


class _ErrorHandlingGroup(TyperGroup):
    """Catches library errors around every command, sub-group included."""

    def invoke(self, ctx: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            # one line, like every other error: what was wrong and where to look
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            typer.echo(f"error: {where}: {exc.format_message()} (see '{where} --help')", err=True)
            ctx.exit(2)
        except (Exit, Abort, TyperException):
            raise
        except Exception as exc:
            line, code = _error_line(exc)
            typer.echo(line, err=True)
            ctx.exit(code)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    typer.echo(f"warning: {message}", err=True)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"cytorelease {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    help="Release testing of CAR-T cell therapy lots: from raw QC data to a signed CoA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            metavar="",  # a flag: no <bool> in --help
            help="Show the version.",
        ),
    ] = False,
    library: Annotated[
        str | None,
        typer.Option(
            "--library",
            envvar="CYTORELEASE_LIBRARY",
            help="A folder with your own gating/, assays/, specs/, reports/ (overrides the bundled ones).",
        ),
    ] = None,
) -> None:
    """Release testing of CAR-T cell therapy lots: from raw QC data to a signed CoA."""
    if library:
        from cytorelease._resources import check_library, set_library

        # A mistyped library must not fall back to the bundled specs without a word.
        check_library(library, named_in="--library (or CYTORELEASE_LIBRARY)")
        set_library(library)
        from cytorelease._resources import library_line

        # one line on stderr: a site library changes what a lot is judged against
        typer.echo(library_line(), err=True)


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="cytorelease")


if __name__ == "__main__":
    main()
