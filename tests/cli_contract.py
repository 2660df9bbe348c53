"""Helpers for the command-line contract tests: bad inputs, result checks, file snapshots.

The contract (DESIGN.md, "The CLI contract"): bad input gives one line ``error: <file>:
<problem>`` on stderr and exit 2 (1 for a failed verification), never a traceback, nothing on
stdout; ``--json`` prints exactly one JSON document on stdout; raw inputs are never modified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner, Result

from cytorelease.cli.main import app

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LOT = PROJECT_ROOT / "sample_data" / "lot-CAR-0001"
runner = CliRunner()

# Every byte value, NULs and bare carriage returns included: what a binary file looks like.
GARBAGE = bytes(range(256)) * 16
# Latin-1 text (é and µ as single bytes), which no UTF-8-only reader may guess its way through.
LATIN1_PROSE = "Probe: r\xe9sum\xe9 of the run, volume 50 \xb5L\n".encode("latin-1")


class Bad(StrEnum):
    """The kinds of bad input every file-taking option is fed."""

    MISSING = "missing"
    DIRECTORY = "directory"
    EMPTY = "empty"
    GARBAGE = "garbage"
    TRUNCATED = "truncated"
    WRONG_KIND = "wrong-kind"
    NON_UTF8 = "non-utf8"


def make_bad(
    kind: Bad, folder: Path, suffix: str, *, real: Path, wrong: Path, utf8_only: bool
) -> Path:
    """Write one bad input of ``kind`` into ``folder`` (named ``<kind><suffix>``).

    ``real`` is a genuine file of the expected kind (cut in half for TRUNCATED); ``wrong`` a
    genuine file of another kind. For UTF-8-only formats (YAML, JSON) the non-UTF-8 input is
    the real document with one Latin-1 comment line; for others, Latin-1 prose.
    """
    path = folder / f"{kind.value}{suffix}"
    if kind is Bad.MISSING:
        return path
    if kind is Bad.DIRECTORY:
        path.mkdir()
        return path
    data = {
        Bad.EMPTY: lambda: b"",
        Bad.GARBAGE: lambda: GARBAGE,
        Bad.TRUNCATED: lambda: real.read_bytes()[: real.stat().st_size // 2],
        Bad.WRONG_KIND: wrong.read_bytes,
        Bad.NON_UTF8: lambda: (
            b"# " + LATIN1_PROSE + real.read_bytes() if utf8_only else LATIN1_PROSE
        ),
    }[kind]()
    path.write_bytes(data)
    return path


def invoke(args: Sequence[str | Path], env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], env=env)


def assert_bad_input(result: Result, offending: Path | str, *, code: int = 2) -> str:
    """The contract for bad input; returns the error line for message checks."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    last = lines[-1]
    assert last.startswith("error: "), last
    assert str(offending) in last, f"{offending} not named in: {last}"
    if code == 2:
        assert result.stdout == "", result.stdout
    return last


def one_json_document(text: str) -> Any:
    """The single JSON document ``text`` holds; fails on anything before or after it."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    document, end = decoder.raw_decode(stripped)
    assert stripped[end:].strip() == "", f"more than one document: {stripped[end:][:200]!r}"
    return document


def snapshot(paths: Iterable[Path]) -> dict[str, str | None]:
    """sha256 of every file under ``paths`` (folders walked); absent paths map to None."""
    found: dict[str, str | None] = {}
    for root in paths:
        if not root.exists():
            found[str(root)] = None
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            found[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def command_paths() -> list[str]:
    """Every leaf command as it is typed, e.g. ``flow inspect`` (groups walked)."""
    found: list[str] = []

    def walk(prefix: str, command: Any) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append(prefix)

    walk("", get_command(app))
    return sorted(found)
