"""A worker that runs continuously loads every flow kernel before it takes work; one that
drains the queue once (tests, cron) does not unless asked."""

from __future__ import annotations

import re
from pathlib import Path

from cytorelease.warmup import _dispatchers
from tests.cli_contract import invoke, one_json_document


def test_worker_warms_up_when_asked_and_says_so(tmp_path: Path) -> None:
    result = invoke(["worker", "--once", "--warmup", "--data-dir", tmp_path / "d", "--json"])
    assert result.exit_code == 0, result.stderr
    assert one_json_document(result.stdout)["processed"] == 0
    line = next(x for x in result.stderr.splitlines() if x.startswith("warm: "))
    assert re.fullmatch(r"warm: \d+ kernels compiled, \d+ loaded from the cache in [\d.]+ s", line)
    # the worker's process holds the kernels the commands use before the first item
    held = {name for name, kernel in _dispatchers() if kernel.signatures}
    assert {"flow.gating._polygon_kernel._inside", "flow._biexp_kernel._scale_values"} <= held


def test_worker_once_does_not_warm_up_by_default(tmp_path: Path) -> None:
    result = invoke(["worker", "--once", "--data-dir", tmp_path / "d", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "warm: " not in result.stderr
