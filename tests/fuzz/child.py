"""Runs fuzz cases through the CLI in one process, reporting each on a pipe to the parent.

The parent (``tests.fuzz.harness``) owns the limits: it kills this process when a case runs past
its time, and starts a new one for the cases left. The memory limit is this process's own
(RLIMIT_DATA, set before anything is imported), so an allocation past it is a MemoryError here,
which the parent reports as the case's failure.

Usage: python -m tests.fuzz.child CASES.json FIRST RESULT_FD MEMORY_BYTES
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback


def _limit_memory(limit: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _json_document(text: str) -> bool:
    decoder = json.JSONDecoder()
    stripped = text.strip()
    try:
        _, end = decoder.raw_decode(stripped)
    except ValueError:
        return False
    return stripped[end:].strip() == ""


def main(argv: list[str]) -> int:
    cases_path, first, result_fd, memory = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    _limit_memory(memory)
    report = os.fdopen(result_fd, "w", buffering=1)

    from typer.testing import CliRunner

    from cytorelease.cli.main import app

    runner = CliRunner()
    with open(cases_path, encoding="utf-8") as handle:
        cases = json.load(handle)
    for index in range(first, len(cases)):
        case = cases[index]
        report.write(json.dumps({"event": "start", "index": index}) + "\n")
        started = time.perf_counter()
        result = runner.invoke(app, case["args"])
        exception = result.exception
        failure = None
        if exception is not None and not isinstance(exception, SystemExit):
            failure = "".join(
                traceback.format_exception(type(exception), exception, exception.__traceback__)
            )[-6000:]
        report.write(
            json.dumps(
                {
                    "event": "done",
                    "index": index,
                    "exit_code": result.exit_code,
                    "stderr": result.stderr[-4000:],
                    "stdout_empty": result.stdout == "",
                    "stdout_json": _json_document(result.stdout),
                    "exception": failure,
                    "seconds": time.perf_counter() - started,
                    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
            + "\n"
        )
    report.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
