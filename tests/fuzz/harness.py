"""Runs fuzz cases in a child process under a time and a memory limit, and judges each.

The judgement is the CLI contract (DESIGN.md): exit 0 with one JSON document, exit 1 where the
command reports a failed result (still one JSON document), or exit 2 with exactly one
``error: <file>: <problem>`` line and nothing on stdout. A traceback, an ``internal error``, a
dead process, more than ``timeout_s`` seconds or more than ``memory_bytes`` of memory fails.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 120.0


@dataclass(frozen=True)
class Case:
    """One command on one mutated file; ``origin`` says how to make the file again."""

    args: tuple[str, ...]
    origin: str
    may_fail_result: bool = False  # the command exits 1 for a failed result (e.g. run acceptance)


@dataclass
class Outcome:
    case: Case
    report: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def run_cases(
    cases: list[Case], *, timeout_s: float = 30.0, memory_bytes: int = 1 << 30, workdir: Path
) -> list[Outcome]:
    """Every case's outcome, in order; a case that hangs or kills the child is its own failure."""
    cases_path = workdir / "cases.json"
    cases_path.write_text(json.dumps([{"args": list(c.args)} for c in cases]), encoding="utf-8")
    outcomes = [Outcome(case) for case in cases]
    first = 0
    while first < len(cases):
        first = _run_child(cases_path, first, outcomes, timeout_s, memory_bytes)
    for outcome in outcomes:
        if outcome.problem is None:
            outcome.problem = judge(outcome.case, outcome.report)
    return outcomes


def _run_child(
    cases_path: Path, first: int, outcomes: list[Outcome], timeout_s: float, memory_bytes: int
) -> int:
    """Runs cases from ``first`` on; returns the index to go on from."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "COLUMNS": "200"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fuzz.child",
            str(cases_path),
            str(first),
            str(write_fd),
            str(memory_bytes),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        pass_fds=(write_fd,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    current: int | None = None
    # the child's own start-up (imports, a cold numba cache) is not a case's time
    deadline = time.monotonic() + max(timeout_s, STARTUP_S)
    buffer = b""
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    child.kill()
                    child.wait()
                    if current is None:
                        raise RuntimeError("the fuzz child did not start in time")
                    outcomes[current].problem = f"took more than {timeout_s:g} s (killed)"
                    return current + 1
                ready, _, _ = select.select([pipe], [], [], remaining)
                if not ready:
                    continue
                chunk = pipe.read(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event = json.loads(line)
                    if event["event"] == "start":
                        current = event["index"]
                        deadline = time.monotonic() + timeout_s
                    else:
                        outcomes[event["index"]].report = event
                        current = None
    finally:
        if child.poll() is None:
            child.wait(timeout=60)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if current is not None:
        outcomes[
            current
        ].problem = (
            f"the process died (exit {child.returncode}) running this case: {stderr[-2000:]}"
        )
        return current + 1
    if child.returncode != 0:
        raise RuntimeError(f"the fuzz child failed outside any case: {stderr[-2000:]}")
    return len(outcomes)


def judge(case: Case, report: dict[str, Any]) -> str | None:
    """What is wrong with a finished case's result, or None when it kept the contract."""
    if report.get("exception"):
        return f"raised instead of refusing:\n{report['exception']}"
    stderr: str = report["stderr"]
    if "Traceback" in stderr:
        return f"a traceback on stderr:\n{stderr}"
    if "internal error" in stderr:
        return f"an internal error (a bug, not a bad file):\n{stderr}"
    code = report["exit_code"]
    if code == 0 or (code == 1 and case.may_fail_result):
        if not report["stdout_json"]:
            return f"exit {code} without exactly one JSON document on stdout"
        return None
    if code != 2:
        return f"exit {code} (only 0, 2{' or 1' if case.may_fail_result else ''} are allowed)"
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if len(errors) != 1 or lines[-1] != errors[0]:
        return f"exit 2 without exactly one final error line:\n{stderr}"
    if not report["stdout_empty"]:
        return "exit 2 with output on stdout"
    return None
