"""Running the CLI with a passphrase typed at a real terminal (a pseudo-terminal).

A person's decision (`sign --meaning reviewed`, `approved`, ...) refuses a passphrase that is
piped, so the tests that sign one cannot feed it on stdin through CliRunner. They run
``python -m cytorelease`` in a new session whose standard input is a pseudo-terminal, and type
each passphrase once the hidden prompt has turned the terminal's echo off, as a person would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cytorelease

__all__ = ["Typed", "run_typed"]

# Only a bound on a hung child, never a timing assertion.
_DEADLINE_SECONDS = 120.0


@dataclass(frozen=True)
class Typed:
    """What CliRunner's result offers the tests: exit code, stdout, stderr, both."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _echo_on(fd: int) -> bool:
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)


def _wait(process: subprocess.Popen[bytes], fd: int, *, echo: bool, deadline: float) -> bool:
    """Wait until the terminal's echo is ``echo``; False when the command ended first."""
    while _echo_on(fd) != echo:
        if process.poll() is not None:
            return False
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError("the command never asked for its passphrase")
        time.sleep(0.01)
    return True


def run_typed(
    args: Sequence[str | Path],
    typed: str | Sequence[str],
    *,
    env: Mapping[str, str | None] | None = None,
    cwd: str | Path | None = None,
) -> Typed:
    """Run ``cytorelease ARGS`` on a pseudo-terminal, typing each of ``typed`` at a hidden
    prompt; ``env`` entries override the environment (None removes a variable)."""
    lines = [typed] if isinstance(typed, str) else list(typed)
    environment = {**os.environ, "CYTORELEASE_PASSPHRASE": ""}
    del environment["CYTORELEASE_PASSPHRASE"]
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    # the cytorelease this test imports, whatever the working directory
    root = str(Path(cytorelease.__file__).resolve().parents[1])
    environment["PYTHONPATH"] = os.pathsep.join(
        [root, *filter(None, [environment.get("PYTHONPATH")])]
    )
    master, slave = os.openpty()
    deadline = time.monotonic() + _DEADLINE_SECONDS
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # A new session has no controlling terminal, so getpass reads the pty on stdin (never
        # the terminal pytest may run in).
        process = subprocess.Popen(
            [sys.executable, "-m", "cytorelease", *map(str, args)],
            stdin=slave, stdout=out, stderr=err, env=environment, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        try:
            for line in lines:
                if not _wait(process, slave, echo=False, deadline=deadline):
                    break
                os.write(master, f"{line}\n".encode())
                if not _wait(process, slave, echo=True, deadline=deadline):
                    break
            code = process.wait(timeout=max(deadline - time.monotonic(), 1.0))
        finally:
            if process.poll() is None:
                process.kill()
            os.close(master)
            os.close(slave)
        out.seek(0)
        err.seek(0)
        return Typed(code, out.read().decode("utf-8"), err.read().decode("utf-8"))
