"""Whole-process time of ``trend`` and ``lots table`` on 10,000 lots x 10 attributes, SQLite and
PostgreSQL, cold and warm, against the 2 s target (issue 17 item 6).

    python bench/bench_trend.py [--lots 10000] [--attributes 10] [--repeat 3] [--no-postgres]

Fills a fresh data folder's SQLite store, and a fresh database on a PostgreSQL server (the one
``CYTORELEASE_DB`` names, else the local one ``scripts/ensure-postgres`` starts; the database
is dropped afterwards), with bench_lots.py's records, then times fresh
``python -m cytorelease`` processes, wall clock from spawn to exit:

- ``trend A1..An --data-dir D --product cd19-car-t --json`` from each store;
- ``trend A1..An --from-csv lots.csv --json`` on the same rows (the ``lots table`` export);
- ``lots table --out lots.csv`` from each store (lots x attributes rows).

"Warm" is the median of ``--repeat`` runs after one untimed run; "cold" is one run whose
Python bytecode cache is a new empty folder (``PYTHONPYCACHEPREFIX``), so every module the
command imports is compiled from source (an install that compiled no bytecode, as uv does by
default; pip compiles it at install time, so its first run is nearer warm). The store's
files are in the OS page cache either way. ``PYTHONDONTWRITEBYTECODE`` is dropped: a user's
runs keep their bytecode. The 1-minute load average is printed with each row: on a shared
machine compare figures taken in the same minute. Filling the stores is not timed. The CPU
time (user + system) of the process is printed too: on a busy machine it moves less than the
wall clock.
With PostgreSQL part of the work is the server's, which the CPU column does not count.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench_lots import PRODUCT, fill, whole_process

TARGET_S = 2.0
ROOT = Path(__file__).resolve().parents[1]


def _cold_warm(
    argv: list[str], env: dict[str, str], repeat: int
) -> tuple[float, float, float, float, float]:
    """(cold wall clock, cold CPU, warm wall clock, warm CPU, 1-minute load average after):
    warm figures are medians."""
    cold_env = {**env, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="bench-pycache-")}
    cold, cold_cpu = whole_process(argv, cold_env)
    whole_process(argv, env)  # fills the bytecode cache the warm runs use
    warm = [whole_process(argv, env) for _ in range(repeat)]
    wall, cpu = statistics.median(w for w, _ in warm), statistics.median(c for _, c in warm)
    return cold, cold_cpu, wall, cpu, os.getloadavg()[0]


def _server() -> str | None:
    configured = os.environ.get("CYTORELEASE_DB")
    if configured:
        return configured
    done = subprocess.run(
        [str(ROOT / "scripts" / "ensure-postgres")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"no PostgreSQL server ({done.stderr.strip()[-200:]}): its rows are skipped")
        return None
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=10_000)
    parser.add_argument("--attributes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    attributes = [f"bench.attribute_{k:02d}" for k in range(args.attributes)]
    folder = Path(tempfile.mkdtemp(prefix="bench-trend-"))
    env = {
        k: v
        for k, v in os.environ.items()
        # the bytecode cache on, as for a user: without it every run compiles every module
        if k not in ("CYTORELEASE_DB", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")
    }
    trend = ["trend", *attributes, "--product", PRODUCT, "--json"]
    rows: list[tuple[str, float, float, float, float, float]] = []

    def measure(store: str, data: Path, run_env: dict[str, str]) -> None:
        table = ["lots", "table", "--data-dir", str(data), "--out", str(folder / f"{store}.csv")]
        rows.append((f"lots table --out CSV, {store}", *_cold_warm(table, run_env, args.repeat)))
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            parquet = [*table[:-1], str(folder / f"{store}.parquet")]
            rows.append((f"lots table --out Parquet, {store}",
                         *_cold_warm(parquet, run_env, args.repeat)))  # fmt: skip
        argv = [*trend, "--data-dir", str(data)]
        rows.append((f"trend --data-dir, {store}", *_cold_warm(argv, run_env, args.repeat)))

    os.environ.pop("CYTORELEASE_DB", None)
    fill(folder / "sqlite", args.lots, attributes)
    measure("SQLite", folder / "sqlite", env)
    csv_argv = ["trend", *attributes, "--from-csv", str(folder / "SQLite.csv"), "--json"]
    rows.append(("trend --from-csv (the same rows)", *_cold_warm(csv_argv, env, args.repeat)))

    server = None if args.no_postgres else _server()
    if server is not None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        name = f"cytorelease_bench_{secrets.token_hex(6)}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_conninfo(server, dbname=name)
            os.environ["CYTORELEASE_DB"] = url
            fill(folder / "postgres", args.lots, attributes)
            measure("PostgreSQL", folder / "postgres", {**env, "CYTORELEASE_DB": url})
        finally:
            os.environ.pop("CYTORELEASE_DB", None)
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(
        f"{args.lots:,} lots x {args.attributes} attributes = {args.lots * args.attributes:,} "
        f"rows; whole processes; warm: median of {args.repeat}, cold: 1 run, empty bytecode cache"
    )
    print(f"{'command':38s} {'cold':>7s} {'CPU':>6s} {'warm':>7s} {'CPU':>6s} {'load':>5s}"
          f"  (target {TARGET_S:g} s)")  # fmt: skip
    for name, cold, cold_cpu, warm, cpu, load in rows:
        print(f"{name:38s} {cold:6.2f}s {cold_cpu:5.2f}s {warm:6.2f}s {cpu:5.2f}s {load:5.2f}")


if __name__ == "__main__":
    main()
