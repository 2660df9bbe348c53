"""Whole-process time of the commands users run, against the anchors, in one run.

    python bench/bench_cli.py [--events 1000000] [--fmo-events 200000] [--repeat 3]
                              [--cold-repeat 1] [--no-cold]

The kernel benchmarks (bench_gating.py, bench_cluster.py) time the work inside one warm
process. Users, the instrument hook and the worker run whole processes: interpreter start,
imports, loading (or compiling) the numba kernels, then the work. Each row here is a fresh
``python -m cytorelease ...`` process, timed wall clock from spawn to exit, median of
``--repeat`` runs:

- ``flow gate`` of a simulated 1M-event tube with its FMO (``--json``) vs FlowKit's whole
  process on the same placed gates (``flowkit.parse_gating_xml`` + ``flowkit.Sample`` +
  ``GatingStrategy.gate_sample``); target <= 0.2x;
- ``flow inspect --stats --json`` vs ``flowkit.Sample`` + the channel means; target <= 0.2x;
- ``cytorelease --help`` (target <= 0.3 s), against a bare ``python -c pass`` for scale;
- a warm ``cytorelease demo`` (target <= 6 s);
- ``cytorelease warmup``, warm and cold, where the installed version has it;
- ``cytorelease hook`` of a 100 MB FCS file into a fresh data folder (what instrument software
  calls per file: archive copy, hash, identify, record, queue), against ``cp`` + Python's
  ``hashlib`` (the copy and the hash alone); target < 0.5 s.

"Warm" processes use the numba cache the commands have already filled; "cold" ones
(``flow gate`` and ``demo``) point ``NUMBA_CACHE_DIR`` at a new empty folder, so every kernel
they reach compiles, as on the first run after an install (target for a cold demo <= 25 s).
Python's bytecode cache is on, as for a user (``PYTHONDONTWRITEBYTECODE`` is dropped from the
environment: with it set, an editable install recompiles every module in every process).
Cold runs are slow, so their default repeat is 1. Run on a quiet machine: other processes'
load changes the absolute times, less the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_gating import _write_tubes

TARGET_GATE = 0.2
TARGET_INSPECT = 0.2
TARGET_HELP_S = 0.3
TARGET_DEMO_WARM_S = 6.0
TARGET_DEMO_COLD_S = 25.0
TARGET_HOOK_S = 0.5

_INSTRUMENTS = (
    "schema: cytorelease.instruments/1\n"
    "instruments:\n  - {id: FACS-01, serial: B1, kind: flow-cytometer}\n"
)

_COPY_AND_HASH = """
import hashlib, shutil, sys
shutil.copyfile(sys.argv[1], sys.argv[2])
digest = hashlib.sha256()
with open(sys.argv[2], "rb") as handle:
    while chunk := handle.read(1 << 22):
        digest.update(chunk)
print(digest.hexdigest())
"""

_FLOWKIT_GATE = """
import sys, warnings
warnings.simplefilter("ignore")
import flowkit
strategy = flowkit.parse_gating_xml(sys.argv[1])
result = strategy.gate_sample(flowkit.Sample(sys.argv[2]))
print(len(result.report))
"""

_FLOWKIT_STATS = """
import sys, warnings
warnings.simplefilter("ignore")
import flowkit
sample = flowkit.Sample(sys.argv[1])
print(sample.get_events(source="raw").mean(axis=0).tolist())
"""


def _run(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # demo exits 1 for a lot that is not PASS
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def _median(
    argv: Sequence[str], repeat: int, *, cwd: Path, env: dict[str, str], cold: bool = False
) -> float:
    times = []
    for _ in range(repeat):
        run_env = dict(env)
        if cold:
            run_env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")
        times.append(_run(argv, cwd=cwd, env=run_env))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--fmo-events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold-repeat", type=int, default=1)
    parser.add_argument("--no-cold", action="store_true", help="Skip the cold (compile) rows.")
    args = parser.parse_args()

    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    py = sys.executable
    cli = [py, "-m", "cytorelease"]
    rows: list[tuple[str, float, float | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stained, fmo = _write_tubes(folder, args.events, args.fmo_events, args.seed)
        gate = [*cli, "flow", "gate", str(stained), "-t", "cd19-car-t-panel"]
        gate += ["--control", str(fmo), "--json"]
        xml = folder / "placed.xml"
        # fills the numba cache and writes the placed gates for FlowKit
        _run([*gate, "--export-gatingml", str(xml)], cwd=folder, env=env)
        _run([*cli, "demo", "--out", str(folder / "demo")], cwd=folder, env=env)

        ours = _median(gate, args.repeat, cwd=folder, env=env)
        theirs = _median(
            [py, "-c", _FLOWKIT_GATE, str(xml), str(stained)], args.repeat, cwd=folder, env=env
        )
        rows.append(
            (f"flow gate --json ({args.events:,} + FMO), warm", ours, theirs, f"<= {TARGET_GATE}x")
        )
        if not args.no_cold:
            cold = _median(gate, args.cold_repeat, cwd=folder, env=env, cold=True)
            rows.append((f"flow gate --json ({args.events:,} + FMO), cold", cold, theirs, "-"))

        inspect = [*cli, "flow", "inspect", str(stained), "--stats", "--json"]
        ours = _median(inspect, args.repeat, cwd=folder, env=env)
        theirs = _median([py, "-c", _FLOWKIT_STATS, str(stained)], args.repeat, cwd=folder, env=env)
        rows.append(("flow inspect --stats --json", ours, theirs, f"<= {TARGET_INSPECT}x"))

        bare = _median([py, "-c", "pass"], args.repeat, cwd=folder, env=env)
        ours = _median([*cli, "--help"], args.repeat, cwd=folder, env=env)
        rows.append(
            ("cytorelease --help (anchor: python -c pass)", ours, bare, f"<= {TARGET_HELP_S} s")
        )

        demo = [*cli, "demo", "--out", str(folder / "demo")]
        ours = _median(demo, args.repeat, cwd=folder, env=env)
        rows.append(("cytorelease demo, warm", ours, None, f"<= {TARGET_DEMO_WARM_S:g} s"))
        if not args.no_cold:
            cold = _median(demo, args.cold_repeat, cwd=folder, env=env, cold=True)
            rows.append(("cytorelease demo, cold", cold, None, f"<= {TARGET_DEMO_COLD_S:g} s"))

        if importlib.util.find_spec("cytorelease.warmup") is not None:
            warm = [*cli, "warmup", "--json"]
            rows.append(
                (
                    "cytorelease warmup, warm",
                    _median(warm, args.repeat, cwd=folder, env=env),
                    None,
                    "-",
                )
            )
            if not args.no_cold:
                cold = _median(warm, args.cold_repeat, cwd=folder, env=env, cold=True)
                rows.append(("cytorelease warmup, cold", cold, None, "-"))

        rows.append(_hook_row(folder, cli, py, args.repeat, env))

    print(
        f"tube: {args.events:,} events, FMO {args.fmo_events:,} events; whole processes, "
        f"median of {args.repeat} (cold: {args.cold_repeat})"
    )
    print(f"{'command':46s} {'ours':>8s} {'anchor':>8s} {'ratio':>6s}  target")
    for name, seconds, anchor, target in rows:
        ratio = f"{seconds / anchor:6.2f}" if anchor else "     -"
        anchor_s = f"{anchor:7.2f}s" if anchor else "       -"
        print(f"{name:46s} {seconds:7.2f}s {anchor_s} {ratio}  {target}")


def _hook_row(
    folder: Path, cli: list[str], py: str, repeat: int, env: dict[str, str]
) -> tuple[str, float, float | None, str]:
    """``hook`` of a 100 MB file, each run into a new data folder (so it is ingested, not a
    duplicate), against copying and hashing the same file."""
    from bench_hook import _write_fcs

    big = folder / "big.fcs"
    _write_fcs(big, 100)
    runs = iter(range(1_000_000))

    def fresh() -> list[str]:
        data = folder / f"hook-data-{next(runs)}"
        data.mkdir()
        (data / "instruments.yaml").write_text(_INSTRUMENTS, encoding="utf-8")
        return [*cli, "hook", str(big), "--instrument", "FACS-01", "--data-dir", str(data),
                "--stable-seconds", "0", "--json"]  # fmt: skip

    _run(fresh(), cwd=folder, env=env)  # bytecode written once, as after an install
    ours = statistics.median(_run(fresh(), cwd=folder, env=env) for _ in range(repeat))
    floor = _median(
        [py, "-c", _COPY_AND_HASH, str(big), str(folder / "copy.fcs")], repeat, cwd=folder, env=env
    )
    return ("hook, 100 MB FCS (anchor: copy + sha256)", ours, floor, f"< {TARGET_HOOK_S} s")


if __name__ == "__main__":
    main()
