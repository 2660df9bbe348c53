"""Whole-process time of ``lots table`` and ``trend --data-dir`` on a large lots dataset.

    python bench/bench_lots.py [--lots 10000] [--attributes 10] [--repeat 3] [--keep DIR]

Fills a fresh data folder's store (SQLite; or the server ``CYTORELEASE_DB`` names) with one
release record per lot, each with ``--attributes`` numeric results (normal noise around a
stable mean, two sites in turn), judged against the bundled cd19-car-t spec version 2, then
times fresh ``python -m cytorelease`` processes, wall clock from spawn to exit and the CPU
time (user + system) of the process, cold (one run with a new, empty bytecode cache: every
module compiled from source) and warm (median of ``--repeat`` runs after one untimed run), as
bench_trend.py does; the bytecode cache is on (``PYTHONDONTWRITEBYTECODE`` dropped), as for a
user:

- ``lots table --out lots.csv`` (every row: lots x attributes; target 100,000 rows < 2 s);
- ``trend A1..An --data-dir D --product cd19-car-t --json`` over every attribute (target < 2 s
  for 10,000 lots x 10 attributes).

Filling the store is not timed (it is done in one transaction, as an import would be).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

PRODUCT = "cd19-car-t"


def _records(lots: int, attributes: list[str], spec: dict[str, Any]) -> list[dict[str, Any]]:
    rng = random.Random(1)
    start = date(2020, 1, 1)
    records = []
    for i in range(1, lots + 1):
        day = (start + timedelta(days=i // 5)).isoformat()
        measurements = [
            {"attribute": a, "value": round(rng.gauss(50 + k, 2.0), 3), "unit": "%",
             "inputs": [], "method": {"kind": "gating-template", "id": "bench", "version": "1"}}
            for k, a in enumerate(attributes)
        ]  # fmt: skip
        records.append(
            {
                "schema": "cytorelease.result/1",
                "created_at": f"{day}T12:00:00Z",
                "lot": {
                    "id": f"BENCH-{i:06d}",
                    "product": PRODUCT,
                    "manufacturing_date": day,
                    "site": f"site-{i % 2 + 1}",
                },
                "measurements": measurements,
                "evaluation": {"disposition": "PASS", "spec": spec, "criteria": []},
            }
        )
    return records


def fill(data_dir: Path, lots: int, attributes: list[str]) -> int:
    from cytorelease.lot.dataset import spec_limits
    from cytorelease.provenance import content_sha256
    from cytorelease.records.lot_results import store_record
    from cytorelease.records.store import open_data
    from cytorelease.spec.registry import resolve_spec

    loaded = resolve_spec(f"{PRODUCT}@2")
    spec = {"id": PRODUCT, "version": 2, "sha256": loaded.sha256}
    limits = spec_limits(spec)  # one spec for every record: looked up once
    _, store = open_data(data_dir)
    added = 0
    with store, store.write():
        for record in _records(lots, attributes, spec):
            added += store_record(
                store, record, record_sha256=content_sha256(record), origin="import",
                checked_against="none", limits=limits,
            )  # fmt: skip
    return added


def whole_process(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall clock, CPU time) in seconds of one ``python -m cytorelease ARGV`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cytorelease", *argv], capture_output=True, env=env, check=False
    )
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _time(argv: list[str], repeat: int) -> str:
    """'cold wall (CPU), warm wall (CPU)' of whole processes."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",
                                                              "PYTHONPYCACHEPREFIX")}  # fmt: skip
    cold = whole_process(
        argv, {**env, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="bench-pyc-")}
    )
    whole_process(argv, env)  # fills the bytecode cache the warm runs use
    warm = [whole_process(argv, env) for _ in range(repeat)]
    wall, cpu = statistics.median(w for w, _ in warm), statistics.median(c for _, c in warm)
    return f"cold {cold[0]:5.2f} s ({cold[1]:4.2f} CPU)  warm {wall:5.2f} s ({cpu:4.2f} CPU)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=10_000)
    parser.add_argument("--attributes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="fill this data folder and keep it")
    args = parser.parse_args()
    attributes = [f"bench.attribute_{k:02d}" for k in range(args.attributes)]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-lots-"))
    data = folder / "data"
    began = time.perf_counter()
    rows = fill(data, args.lots, attributes)
    print(f"store: {(os.environ.get('CYTORELEASE_DB') and 'PostgreSQL') or 'SQLite'}, "
          f"{args.lots} lots x {args.attributes} attributes = {rows} rows "
          f"(filled in {time.perf_counter() - began:.1f} s, not timed below)")  # fmt: skip
    table = _time(["lots", "table", "--data-dir", str(data), "--out", str(folder / "lots.csv")],
                  args.repeat)  # fmt: skip
    print(f"lots table --out lots.csv          {table}  (target < 2 s)")
    trend = _time(["trend", *attributes, "--data-dir", str(data), "--product", PRODUCT, "--json"],
                  args.repeat)  # fmt: skip
    print(f"trend {args.attributes} attributes --data-dir     {trend}  (target < 2 s)")
    help_time = _time(["--help"], args.repeat)
    print(f"cytorelease --help (for scale)     {help_time}")


if __name__ == "__main__":
    main()
